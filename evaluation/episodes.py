"""Cached candidate sets ("episodes"): what the engine returned for each request, frozen.

Evaluation and training replay these files instead of the engine, so every strategy sees the
same candidates and runs are fast and deterministic. Two ``.npz`` files per dataset (numpy
only, ``allow_pickle=False``): the item table (ids, embeddings, labels, popularity), shared by
all retrievals, and one episode file per retrieval with ragged arrays (``*_ptr`` offsets).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = ["Episode", "EpisodeSet", "ItemTable", "episode_path", "items_path"]

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int32]
StrArray = npt.NDArray[np.str_]
SPLITS = ("train", "valid", "test")


def items_path(cache_dir: Path, dataset: str) -> Path:
    return cache_dir / "episodes" / f"{dataset}-items.npz"


def episode_path(cache_dir: Path, dataset: str, retrieval: str, engine: str = "opensearch") -> Path:
    """OpenSearch episodes keep their original names; other engines get their own files."""
    stem = f"{dataset}-{retrieval}" if engine == "opensearch" else f"{dataset}-{engine}-{retrieval}"
    return cache_dir / "episodes" / f"{stem}.npz"


@dataclass(frozen=True)
class ItemTable:
    """The whole catalog as arrays; row i is item ``ids[i]`` everywhere."""

    ids: StrArray  # (N,)
    embeddings: FloatArray  # (N, d), L2-normalised
    category: IntArray  # (N,) first category code, -1 unknown (what the core sees)
    cat_ptr: IntArray  # (N+1,) CSR over all categories of an item (genres)
    cat_idx: IntArray
    brand: IntArray  # (N,) code, -1 unknown
    popularity: FloatArray  # (N,) share of requests/users touching the item
    category_names: list[str]
    brand_names: list[str]
    model: str  # embedding model, so a stale cache is noticed
    titles: StrArray | None = None  # (N,) for the relevance model's text features
    prior: FloatArray | None = None  # (N,) item prior the core may rank by (replayed logs)

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def titles_of(self, rows: npt.NDArray[np.integer] | None = None) -> list[str]:
        """Titles of these rows (all rows when None), for the relevance model's features."""
        if self.titles is None:
            raise ValueError(
                "the item table has no titles (built by an older version): rebuild it with "
                "`divrank eval --rebuild`"
            )
        chosen = self.titles if rows is None else self.titles[rows]
        return [str(t) for t in chosen]

    def index_of(self) -> dict[str, int]:
        return {str(item): i for i, item in enumerate(self.ids)}

    def category_rows(self, rows: npt.NDArray[np.integer]) -> npt.NDArray[np.float64]:
        """(len(rows), C) per-item category distributions (a two-genre film: 1/2 each)."""
        out = np.zeros((len(rows), len(self.category_names)), dtype=np.float64)
        for r, item in enumerate(rows):
            cats = self.cat_idx[self.cat_ptr[item] : self.cat_ptr[item + 1]]
            if cats.size:
                out[r, cats] = 1.0 / cats.size
        return out

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(
            path,
            ids=self.ids,
            embeddings=self.embeddings,
            category=self.category,
            cat_ptr=self.cat_ptr,
            cat_idx=self.cat_idx,
            brand=self.brand,
            popularity=self.popularity,
            category_names=np.array(self.category_names, dtype=np.str_),
            brand_names=np.array(self.brand_names, dtype=np.str_),
            model=np.array(self.model),
            **({"titles": self.titles} if self.titles is not None else {}),
            **({"prior": self.prior} if self.prior is not None else {}),
        )

    @classmethod
    def load(cls, path: Path) -> ItemTable:
        if not path.is_file():
            raise FileNotFoundError(f"no item table at {path}: run `divrank eval build` first")
        with np.load(path, allow_pickle=False) as z:
            return cls(
                ids=z["ids"],
                embeddings=z["embeddings"].astype(np.float32),
                category=z["category"].astype(np.int32),
                cat_ptr=z["cat_ptr"].astype(np.int32),
                cat_idx=z["cat_idx"].astype(np.int32),
                brand=z["brand"].astype(np.int32),
                popularity=z["popularity"].astype(np.float32),
                category_names=[str(x) for x in z["category_names"]],
                brand_names=[str(x) for x in z["brand_names"]],
                model=str(z["model"]),
                titles=z["titles"] if "titles" in z.files else None,
                prior=z["prior"].astype(np.float32) if "prior" in z.files else None,
            )


@dataclass(frozen=True)
class Episode:
    """One request replayed: candidate rows into the item table, in engine order."""

    qid: str
    query: str
    user_id: str
    split: str
    items: IntArray  # (n,) rows of the item table
    scores: FloatArray  # (n,) engine scores
    query_embedding: FloatArray | None
    judgments: dict[str, int]  # item id -> gain; may name items that were not retrieved
    history: IntArray  # rows of the item table, oldest first (empty without a user)
    history_weights: FloatArray | None = None  # one per history entry; None = 1 each


@dataclass(frozen=True)
class EpisodeSet:
    dataset: str
    retrieval: str
    shallow: bool
    qids: StrArray
    queries: StrArray
    user_ids: StrArray
    splits: StrArray
    cand_ptr: npt.NDArray[np.int64]
    cand_item: IntArray
    cand_score: FloatArray
    query_emb: FloatArray  # (E, d), zero rows where there is no query vector
    judg_ptr: npt.NDArray[np.int64]
    judg_id: StrArray
    judg_gain: IntArray
    hist_ptr: npt.NDArray[np.int64]
    hist_item: IntArray
    hist_weight: FloatArray | None = None  # per history entry (absent in older files)

    def __len__(self) -> int:
        return int(self.qids.shape[0])

    def episode(self, i: int) -> Episode:
        c0, c1 = self.cand_ptr[i], self.cand_ptr[i + 1]
        j0, j1 = self.judg_ptr[i], self.judg_ptr[i + 1]
        h0, h1 = self.hist_ptr[i], self.hist_ptr[i + 1]
        q = self.query_emb[i]
        return Episode(
            qid=str(self.qids[i]),
            query=str(self.queries[i]),
            user_id=str(self.user_ids[i]),
            split=str(self.splits[i]),
            items=self.cand_item[c0:c1],
            scores=self.cand_score[c0:c1],
            query_embedding=q if np.any(q) else None,
            judgments={
                str(d): int(g)
                for d, g in zip(self.judg_id[j0:j1], self.judg_gain[j0:j1], strict=True)
            },
            history=self.hist_item[h0:h1],
            history_weights=None if self.hist_weight is None else self.hist_weight[h0:h1],
        )

    def select(self, split: str | None = None, limit: int | None = None) -> list[Episode]:
        """Episodes of one split (None = all) in file order, at most ``limit`` of them."""
        if split is not None and split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        rows = [i for i in range(len(self)) if split is None or self.splits[i] == split]
        if limit is not None:
            rows = rows[:limit]
        return [self.episode(i) for i in rows]

    @classmethod
    def from_episodes(
        cls, dataset: str, retrieval: str, shallow: bool, episodes: list[Episode], dim: int
    ) -> EpisodeSet:
        def ptr(sizes: list[int]) -> npt.NDArray[np.int64]:
            return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

        def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

        return cls(
            dataset=dataset,
            retrieval=retrieval,
            shallow=shallow,
            qids=np.array([e.qid for e in episodes], dtype=np.str_),
            queries=np.array([e.query for e in episodes], dtype=np.str_),
            user_ids=np.array([e.user_id for e in episodes], dtype=np.str_),
            splits=np.array([e.split for e in episodes], dtype=np.str_),
            cand_ptr=ptr([len(e.items) for e in episodes]),
            cand_item=cat([e.items for e in episodes], np.int32),
            cand_score=cat([e.scores for e in episodes], np.float32),
            query_emb=np.stack(
                [
                    e.query_embedding if e.query_embedding is not None else np.zeros(dim)
                    for e in episodes
                ]
            ).astype(np.float32)
            if episodes
            else np.zeros((0, dim), dtype=np.float32),
            judg_ptr=ptr([len(e.judgments) for e in episodes]),
            judg_id=np.array([d for e in episodes for d in e.judgments], dtype=np.str_),
            judg_gain=np.array([g for e in episodes for g in e.judgments.values()], np.int32),
            hist_ptr=ptr([len(e.history) for e in episodes]),
            hist_item=cat([e.history for e in episodes], np.int32),
            hist_weight=cat(
                [
                    e.history_weights
                    if e.history_weights is not None
                    else np.ones(len(e.history), dtype=np.float32)
                    for e in episodes
                ],
                np.float32,
            ),
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {
            name: getattr(self, name)
            for name in self.__dataclass_fields__
            if isinstance(getattr(self, name), np.ndarray)
        }
        np.savez(
            path,
            dataset=np.array(self.dataset),
            retrieval=np.array(self.retrieval),
            shallow=np.array(self.shallow),
            **arrays,
        )

    @classmethod
    def load(cls, path: Path) -> EpisodeSet:
        if not path.is_file():
            raise FileNotFoundError(f"no episodes at {path}: run `divrank eval build` first")
        with np.load(path, allow_pickle=False) as z:
            fields = {name: z[name] for name in z.files}
        return cls(
            dataset=str(fields.pop("dataset")),
            retrieval=str(fields.pop("retrieval")),
            shallow=bool(fields.pop("shallow")),
            **fields,
        )
