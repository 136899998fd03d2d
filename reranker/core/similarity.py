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
        self._brands = self._codes(n, brands, exempt_brands)
        self._categories = self._codes(n, categories, exempt_categories)
        self._mask = np.empty(n, dtype=bool)

    @staticmethod
    def _codes(n: int, codes: IntArray | None, exempt: Collection[int]) -> IntArray | None:
        if codes is None:
            return None
        out = np.asarray(codes, dtype=np.int32).copy()
        for code in exempt:
            out[out == code] = -1
        return out if bool((out >= 0).any()) else None

    def row(self, j: int, out: FloatArray) -> FloatArray:
        out.fill(0.0)
        mask = self._mask
        for codes, weight in (
            (self._brands, LABEL_BRAND_WEIGHT),
            (self._categories, LABEL_CATEGORY_WEIGHT),
        ):
            if codes is None or codes[j] < 0:
                continue
            np.equal(codes, codes[j], out=mask)
            np.add(out, np.float32(weight), out=out, where=mask)
        out[j] = 1.0
        return out
