"""Dataset loaders behind one Protocol; ``get_loader(name)`` picks one by name."""

from __future__ import annotations

from collections.abc import Callable

from evaluation.datasets.homedepot import HomeDepotLoader
from evaluation.datasets.movielens import MovieLensLoader
from evaluation.datasets.types import Catalog, Dataset, DatasetLoader, Request

__all__ = [
    "LOADERS",
    "Catalog",
    "Dataset",
    "DatasetLoader",
    "HomeDepotLoader",
    "MovieLensLoader",
    "Request",
    "get_loader",
]

LOADERS: dict[str, Callable[[], DatasetLoader]] = {
    HomeDepotLoader.name: HomeDepotLoader,
    MovieLensLoader.name: MovieLensLoader,
}


def get_loader(name: str) -> DatasetLoader:
    """The loader registered under ``name``; an unknown name is a ValueError listing the known."""
    try:
        return LOADERS[name]()
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(sorted(LOADERS))}") from None
