"""Opening a text export (catalog rows, events), gzip-compressed or not.

Shops hand over their exports compressed as often as not (``events.ndjson.gz``); the name
decides, so a plain file never pays for a sniff and a ``.gz`` one is read as a stream,
never unpacked to disk.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import IO

__all__ = ["UNREADABLE", "open_text", "plain_name"]

# what a broken or truncated .gz raises while it is read
UNREADABLE: tuple[type[Exception], ...] = (gzip.BadGzipFile, EOFError)


def plain_name(path: Path) -> str:
    """The lower-cased name without ``.gz``: what the format is told from."""
    name = path.name.lower()
    return name[: -len(".gz")] if name.endswith(".gz") else name


def open_text(path: Path) -> IO[str]:
    """UTF-8 text, newlines as they are (the csv module wants ``newline=""``)."""
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")
