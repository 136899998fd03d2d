"""Reading a text export (catalog rows, events), gzip-compressed or not, line by line.

Shops hand over their exports compressed as often as not (``events.ndjson.gz``); the name
decides, so a plain file never pays for a sniff and a ``.gz`` one is read as a stream,
never unpacked to disk. Whatever stops the reading (not UTF-8, a truncated download) is one
:class:`TextFileError` naming the file and the last line read, the same for every reader.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["TextFileError", "numbered_lines", "plain_name"]


class TextFileError(ValueError):
    """The file cannot be read on; the message names it and the last line read."""


def plain_name(path: Path) -> str:
    """The lower-cased name without ``.gz``: what the format is told from."""
    name = path.name.lower()
    return name[: -len(".gz")] if name.endswith(".gz") else name


def _open_text(path: Path) -> IO[str]:
    """UTF-8 text, newlines as they are (the csv module wants ``newline=""``)."""
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(number, line)`` from 1, each line as it is in the file (newline kept)."""
    number = 0
    with _open_text(path) as fh:
        try:
            for number, line in enumerate(fh, start=1):
                yield number, line
        except UnicodeDecodeError:
            raise TextFileError(f"{path}: not UTF-8 text after line {number}") from None
        except (gzip.BadGzipFile, EOFError) as exc:  # a broken or truncated .gz
            raise TextFileError(
                f"{path}: not a readable gzip file after line {number} ({exc})"
            ) from None
