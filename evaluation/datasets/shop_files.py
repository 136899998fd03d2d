"""A shop's own files as evaluation input: its catalog, and a name that follows the files.

Both the log replay (``--events``) and the judgment lists (``--judgments``) evaluate on the
shop's catalog, read and validated by the indexer's own code, so the evaluated engine holds
what ``divrank index`` would write. Their dataset names carry a fingerprint of the files and
options: cached episodes and indices built from other files are never reused.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from pathlib import Path

import numpy as np

from evaluation.datasets.types import Catalog
from indexer.catalog import FieldMap, read_catalog
from indexer.items import validate_items
from indexer.rejects import RejectLog

__all__ = ["files_fingerprint", "read_shop_catalog", "short_label"]


def read_shop_catalog(path: Path, field_map: FieldMap, stats: Counter[str]) -> Catalog:
    """The valid rows of ``path``; ``stats`` gets how many were kept and rejected."""
    rejects = RejectLog(None)
    docs = list(validate_items(read_catalog(path, field_map), rejects))
    if not docs:
        raise ValueError(f"{path}: no valid catalog rows")
    stats["catalog items"] = len(docs)
    stats["catalog rows rejected"] = rejects.rejected
    return Catalog(
        ids=[d.id for d in docs],
        titles=[d.title for d in docs],
        descriptions=[d.description for d in docs],
        categories=[(d.category,) if d.category else () for d in docs],
        brands=[d.brand for d in docs],
        popularity=np.zeros(len(docs), dtype=np.float32),
    )


def files_fingerprint(paths: tuple[Path, ...], options: str) -> str:
    """8 hex digits over each file's path, size and modification time, and the options."""
    digest = hashlib.sha256()
    for path in paths:
        stat = path.stat() if path.exists() else None
        digest.update(f"{path.resolve()}:{stat and stat.st_size}:{stat and stat.st_mtime_ns}"
                      .encode())  # fmt: skip
    digest.update(options.encode())
    return digest.hexdigest()[:8]


def short_label(label: str | None, path: Path, fallback: str) -> str:
    """``label``, else the file's folder and stem, lowercased for index names."""
    raw = label or f"{path.resolve().parent.name}-{path.stem}"
    return re.sub(r"[^a-z0-9]+", "-", raw.lower()).strip("-") or fallback
