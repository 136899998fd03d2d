"""Similarity rows on demand: one row ``S[j, :]`` per greedy step, never the N×N matrix.

Greedy MMR and DPP only ever need the similarities of the item just selected to every
candidate, so each step costs one float32 mat-vec (k×N work instead of N×N). Candidates that
arrive without embeddings fall back to label similarity (same brand, same category), so
diversity still works instead of failing.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
from numba import njit

from reranker.core.types import FloatArray, IntArray

__all__ = [
    "LABEL_BRAND_WEIGHT",
    "LABEL_CATEGORY_WEIGHT",
    "EmbeddingRows",
    "LabelRows",
    "SimilarityRows",
    "dot32",
    "label_row",
]

@njit(cache=True, nogil=True, fastmath={"reassoc"})
def dot32(a: FloatArray, b: FloatArray) -> np.float32:
    """float32 dot product for the compiled kernels.

    The one fast-math flag in the core: ``reassoc`` lets the sum vectorise (4x faster). The
    order it picks is fixed once compiled, and each kernel computes a given similarity with it.
    """
    s = np.float32(0.0)
    for d in range(a.shape[0]):
        s += a[d] * b[d]
    return s


LABEL_BRAND_WEIGHT = 0.4
LABEL_CATEGORY_WEIGHT = 0.4
_BRAND_WEIGHT = np.float32(LABEL_BRAND_WEIGHT)
_CATEGORY_WEIGHT = np.float32(LABEL_CATEGORY_WEIGHT)


@njit(cache=True, nogil=True, inline="always")
def label_row(brands: IntArray, categories: IntArray, j: int, out: FloatArray) -> None:
    """``out[i]`` = 0.4·[same brand as j] + 0.4·[same category as j], ``out[j] = 1``.

    Codes < 0 never match; an empty code array means that label is absent.
    """
    out[:] = 0.0
    for codes, weight in ((brands, _BRAND_WEIGHT), (categories, _CATEGORY_WEIGHT)):
        if codes.shape[0] == 0 or codes[j] < 0:
            continue
        code = codes[j]
        for i in range(out.shape[0]):
            if codes[i] == code:
                out[i] += weight
    out[j] = 1.0


class SimilarityRows:
    """Interface: ``row(j, out)`` fills ``out`` with the similarity of item ``j`` to every item.

    Rows must come from a positive semi-definite matrix with unit diagonal (a Gram matrix of
    unit vectors), so the DPP's Cholesky stays valid.
    """

    n: int
    has_embeddings: bool = False

    def row(self, j: int, out: FloatArray) -> FloatArray:
        raise NotImplementedError


class EmbeddingRows(SimilarityRows):
    """Cosine rows from L2-normalised float32 embeddings: one BLAS mat-vec per call."""

    has_embeddings = True

    def __init__(self, embeddings: FloatArray) -> None:
        self.embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        self.n = int(self.embeddings.shape[0])

    def row(self, j: int, out: FloatArray) -> FloatArray:
        # np.dot runs the same BLAS gemv as np.matmul (bit for bit) with less dispatch
        return np.dot(self.embeddings, self.embeddings[j], out=out)  # type: ignore[no-any-return]


class LabelRows(SimilarityRows):
    """Label similarity when there are no vectors: 0.4·[same brand] + 0.4·[same category].

    It is the Gram matrix of one-hot brand and category vectors plus a private component that
    brings each diagonal to 1, hence PSD. Unknown labels (-1) never match, and a brand or
    category the query names (``exempt_*``) does not count as shared: diversity steps back
    on what the shopper asked for.
    """

    def __init__(
        self,
        n: int,
        brands: IntArray | None,
        categories: IntArray | None,
        exempt_brands: Collection[int] = (),
        exempt_categories: Collection[int] = (),
    ) -> None:
        self.n = n
        self.brands = self._codes(brands, exempt_brands)
        self.categories = self._codes(categories, exempt_categories)

    @staticmethod
    def _codes(codes: IntArray | None, exempt: Collection[int]) -> IntArray:
        """Codes with exempt labels set to -1; empty when no candidate has a label left."""
        if codes is None:
            return np.zeros(0, dtype=np.int32)
        out = np.asarray(codes, dtype=np.int32).copy()
        for code in exempt:
            out[out == code] = -1
        return out if bool((out >= 0).any()) else np.zeros(0, dtype=np.int32)

    def row(self, j: int, out: FloatArray) -> FloatArray:
        label_row(self.brands, self.categories, j, out)
        return out
