"""Training curves: TensorBoard event files when tensorboard is installed, CSV otherwise."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

__all__ = ["RunLog"]


class RunLog:
    """``log(step, {name: value})``; ``kind`` says which writer is in use."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._tb: Any = None
        self._csv_path = directory / "metrics.csv"
        try:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(log_dir=str(directory))
            self.kind = "tensorboard"
        except ImportError:  # tensorboard not installed: same numbers in a CSV file
            self.kind = "csv"
        self._rows: list[dict[str, float]] = []

    def log(self, step: int, values: dict[str, float]) -> None:
        if self._tb is not None:
            for name, value in values.items():
                self._tb.add_scalar(name, value, step)
        self._rows.append({"step": float(step), **values})

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
        if self._rows:  # the CSV is always written: easy to read without TensorBoard
            names = list(dict.fromkeys(k for row in self._rows for k in row))
            with self._csv_path.open("w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=names)
                writer.writeheader()
                writer.writerows(self._rows)
