"""Dataset -> item table + episodes: embed the catalog (the indexer's cache), query the engine.

The catalog is indexed with the indexer's own code (same mapping, same vectors as the demo),
then every request is searched ``depth`` deep with each retrieval of the dataset. The split
of a request into train/valid/test is a hash of its id and the seed, so it never changes when
other requests are added or dropped.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from evaluation.datasets import Dataset, Request
from evaluation.episodes import Episode, EpisodeSet, ItemTable
from evaluation.retrieval import QuerySpec, Retriever

__all__ = ["SPLIT_SHARES", "assign_split", "build_episodes", "build_item_table", "query_spec"]

SPLIT_SHARES = (("train", 0.6), ("valid", 0.2), ("test", 0.2))
GENRE_QUERY_TERMS = 3
Encode = Callable[[Sequence[str]], npt.NDArray[np.float32]]


def assign_split(qid: str, seed: int) -> str:
    """train / valid / test in 60/20/20, fixed per (seed, qid)."""
    digest = hashlib.sha256(f"{seed}:{qid}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    edge = 0.0
    for name, share in SPLIT_SHARES:
        edge += share
        if u < edge:
            return name
    return SPLIT_SHARES[-1][0]


def build_item_table(
    dataset: Dataset, embeddings: npt.NDArray[np.float32], model: str
) -> ItemTable:
    """Label codes (first category for the core, all for the metrics) and vectors per item."""
    catalog = dataset.catalog
    if embeddings.shape[0] != len(catalog):
        raise ValueError(f"{embeddings.shape[0]} vectors for {len(catalog)} catalog items")
    cat_names = sorted({c for cats in catalog.categories for c in cats})
    cat_code = {name: i for i, name in enumerate(cat_names)}
    brand_names = sorted({b for b in catalog.brands if b})
    brand_code = {name: i for i, name in enumerate(brand_names)}
    ptr, idx = [0], []
    for cats in catalog.categories:
        codes = list(dict.fromkeys(cat_code[c] for c in cats))
        idx += codes
        ptr.append(len(idx))
    return ItemTable(
        ids=np.array(catalog.ids, dtype=np.str_),
        embeddings=np.ascontiguousarray(embeddings, dtype=np.float32),
        category=np.array([cat_code[c[0]] if c else -1 for c in catalog.categories], np.int32),
        cat_ptr=np.array(ptr, dtype=np.int32),
        cat_idx=np.array(idx, dtype=np.int32),
        brand=np.array([brand_code[b] if b else -1 for b in catalog.brands], dtype=np.int32),
        popularity=np.asarray(catalog.popularity, dtype=np.float32),
        category_names=cat_names,
        brand_names=brand_names,
        model=model,
        titles=np.array(catalog.titles, dtype=np.str_),
        prior=np.asarray(catalog.popularity, dtype=np.float32) if dataset.item_prior else None,
    )


def _centroid(rows: npt.NDArray[np.int32], table: ItemTable) -> npt.NDArray[np.float32] | None:
    if rows.size == 0:
        return None
    mean = table.embeddings[rows].mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return (mean / norm).astype(np.float32) if norm > 0 else None


def _genre_text(rows: npt.NDArray[np.int32], table: ItemTable) -> str:
    mix = table.category_rows(rows).sum(axis=0)
    top = np.argsort(-mix, kind="stable")[:GENRE_QUERY_TERMS]
    return " ".join(table.category_names[c] for c in top if mix[c] > 0)


def query_spec(
    request: Request, retrieval: str, table: ItemTable, history: npt.NDArray[np.int32],
    query_vector: npt.NDArray[np.float32] | None,
) -> tuple[QuerySpec, str]:  # fmt: skip
    """What to send for one request, and the query text to remember in the episode.

    ``profile``: the user's history centroid as a k-NN query. ``genre``: the user's top
    genres as a BM25 query. Both exclude what the user already rated (it is not news).
    """
    if retrieval in ("bm25", "knn", "hybrid"):
        if not request.query:
            raise ValueError(f"request {request.qid} has no query text for {retrieval}")
        return QuerySpec(text=request.query, vector=query_vector), request.query
    exclude = tuple(request.history)
    if retrieval == "profile":
        return QuerySpec(vector=query_vector, exclude=exclude), ""
    if retrieval == "genre":
        text = _genre_text(history, table)
        return QuerySpec(text=text or "drama", vector=query_vector, exclude=exclude), text
    raise ValueError(f"unknown retrieval {retrieval!r}")


def build_episodes(
    dataset: Dataset,
    table: ItemTable,
    retriever: Retriever,
    retrieval: str,
    encode: Encode,
    depth: int = 100,
    seed: int = 0,
    limit: int | None = None,
) -> tuple[EpisodeSet, Counter[str]]:
    """Search every request (at most ``limit``); returns the episodes and what was dropped."""
    if retrieval not in dataset.retrievals:
        raise ValueError(
            f"{dataset.name} has no retrieval {retrieval!r}; use {', '.join(dataset.retrievals)}"
        )
    row_of = table.index_of()
    dropped: Counter[str] = Counter()
    requests = [r for r in dataset.requests if any(g > 0 for g in r.judgments.values())]
    dropped["no relevant judgment"] = len(dataset.requests) - len(requests)
    requests = requests[:limit] if limit is not None else requests
    histories = [np.array([row_of[i] for i in r.history], dtype=np.int32) for r in requests]
    for request in requests:
        if request.history_weights and len(request.history_weights) != len(request.history):
            raise ValueError(f"request {request.qid}: {len(request.history_weights)} history "
                             f"weights for {len(request.history)} history items")  # fmt: skip
    texts = [r.query for r in requests if r.query]
    text_vectors = encode(texts) if texts else np.zeros((0, table.embeddings.shape[1]))
    vectors: list[npt.NDArray[np.float32] | None] = []
    next_text = iter(text_vectors)
    for request, history in zip(requests, histories, strict=True):
        vectors.append(next(next_text) if request.query else _centroid(history, table))
    specs, queries = [], []
    for request, history, vector in zip(requests, histories, vectors, strict=True):
        spec, text = query_spec(request, retrieval, table, history, vector)
        specs.append(spec)
        queries.append(text)
    hits = retriever.search(retrieval_kind(retrieval), specs, depth)
    episodes = []
    for request, history, vector, text, found in zip(
        requests, histories, vectors, queries, hits, strict=True
    ):
        if not found:
            dropped["no candidates"] += 1
            continue
        judgments = dict(request.judgments)
        if request.window_only:
            window = {d for d, _ in found}
            judgments = {d: g for d, g in judgments.items() if d in window}
            if not any(g > 0 for g in judgments.values()):
                dropped["no relevant item among the candidates"] += 1
                continue
        episodes.append(
            Episode(
                qid=request.qid,
                query=text,
                user_id=request.user_id or "",
                split=assign_split(request.group or request.qid, seed),
                items=np.array([row_of[d] for d, _ in found], dtype=np.int32),
                scores=np.array([s for _, s in found], dtype=np.float32),
                query_embedding=vector,
                judgments=judgments,
                history=history,
                history_weights=np.asarray(request.history_weights, dtype=np.float32)
                if request.history_weights
                else None,
            )
        )
    dim = table.embeddings.shape[1]
    return (
        EpisodeSet.from_episodes(dataset.name, retrieval, dataset.shallow_judgments, episodes, dim),
        dropped,
    )


def retrieval_kind(retrieval: str) -> str:
    """Engine search behind a dataset retrieval name (genre queries are BM25)."""
    return {"genre": "bm25", "profile": "knn"}.get(retrieval, retrieval)
