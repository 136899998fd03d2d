"""Request-time features for the learned relevance model: what the engine said, and how well
each title matches the query.

The engine's score knows only its own field statistics; a shopper's query also says which words
matter (rare words weigh more), which numbers and sizes must match ("3/4 in."), and which brand
is wanted. Every feature is computed from the request alone (query text, titles, brands, engine
scores, vectors) plus an IDF table shipped with the model, so the sidecar, the evaluation and
the trainer compute the very same matrix. Request-relative columns (a value against the best
in the window) let one model serve BM25 and vector scores of any scale. Missing inputs are NaN,
which the tree model routes on its own.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from reranker.core.intent import named_in, tokens
from reranker.core.normalize import normalize_scores
from reranker.core.types import Candidates, FloatArray

__all__ = ["RELEVANCE_FEATURES", "IdfTable", "relevance_features"]

RELEVANCE_FEATURES = (
    "engine_score",  # min-max in the window (normalize_scores' rules)
    "engine_rank",  # position / (n - 1)
    "reciprocal_rank",
    "idf_coverage",  # IDF mass of query terms found in the title / IDF mass of the query
    "idf_coverage_gap",  # best idf_coverage in the window minus this one
    "term_coverage",  # share of query terms found in the title
    "bigram_coverage",  # share of adjacent query-term pairs found adjacent in the title
    "phrase",  # 1 when the whole query appears contiguously in the title
    "leading_match",  # share of query terms among the title's first four tokens
    "head_term",  # 1 when the query's last term (usually the product type) is in the title
    "missing_idf",  # largest IDF of a query term the title lacks (a rare word missing hurts)
    "trigram_overlap",  # share of the query's character trigrams in the title (typos, "2x4")
    "number_coverage",  # share of the query's numbers found in the title; NaN without numbers
    "title_length",  # tokens
    "query_length",  # tokens
    "brand_in_query",  # 1 when this item's brand is named by the query
    "query_names_brand",  # 1 when the query names any brand present in the window
    "cosine",  # query-item cosine; NaN without a query vector
    "cosine_gap",  # best cosine in the window minus this one
    "cosine_rank",  # position by cosine in the window / (n - 1)
    "feedback_cosine",  # cosine to the mean of the engine's top 10 (pseudo-relevance feedback)
    "feedback_cosine_gap",  # best feedback_cosine in the window minus this one
)
FEEDBACK_DEPTH = 10


class IdfTable:
    """Inverse document frequency of title tokens, ``log(1 + N / df)``, from the training
    catalog; a token it has never seen weighs as much as the rarest ones."""

    def __init__(self, idf: Mapping[str, float], unseen: float) -> None:
        self.idf = dict(idf)
        self.unseen = float(unseen)

    @classmethod
    def from_titles(cls, titles: Sequence[str], min_df: int = 2) -> IdfTable:
        df: dict[str, int] = {}
        for title in titles:
            for tok in set(match_tokens(title)):
                df[tok] = df.get(tok, 0) + 1
        n = max(len(titles), 1)
        kept = {tok: float(np.log1p(n / c)) for tok, c in df.items() if c >= min_df}
        return cls(kept, float(np.log1p(n / max(min_df - 1, 1))))

    def weight(self, token: str) -> float:
        return self.idf.get(token, self.unseen)


_DIGIT_EDGE = re.compile(r"(?<=\d)(?=[^\W\d])|(?<=[^\W\d])(?=\d)")


def match_tokens(text: str) -> tuple[str, ...]:
    """``intent.tokens`` with digits and letters apart: "8ft" and "8 ft." match."""
    return tokens(_DIGIT_EDGE.sub(" ", text.casefold()))


def _trigrams(text: str) -> frozenset[str]:
    squeezed = "".join(match_tokens(text))
    return frozenset(squeezed[i : i + 3] for i in range(len(squeezed) - 2))


@dataclass(frozen=True)
class _Title:
    present: frozenset[str]
    adjacent: frozenset[tuple[str, str]]
    lead: frozenset[str]  # the first four tokens
    text: str  # tokens joined by single spaces, for the phrase test
    length: int
    trigrams: frozenset[str]


@lru_cache(maxsize=131072)
def _title_index(title: str) -> _Title:
    """What the features read from a title, computed once per distinct title (titles recur
    across requests, so the per-request work is set look-ups only)."""
    toks = match_tokens(title)
    return _Title(frozenset(toks), frozenset(itertools.pairwise(toks)), frozenset(toks[:4]),
                  " ".join(toks), len(toks), _trigrams(title))  # fmt: skip


_EMPTY = _Title(frozenset(), frozenset(), frozenset(), "", 0, frozenset())


def _hits(sets: Sequence[frozenset], keys: Sequence[object]) -> npt.NDArray[np.bool_]:
    """(len(sets), len(keys)) membership matrix, built in one pass of set look-ups."""
    flat = [key in found for found in sets for key in keys]
    return np.array(flat, dtype=bool).reshape(len(sets), len(keys))


def relevance_features(
    query: str,
    titles: Sequence[str | None],
    candidates: Candidates,
    idf: IdfTable,
    query_vector: FloatArray | None = None,
) -> npt.NDArray[np.float32]:
    """(n, len(RELEVANCE_FEATURES)) features of the window, in engine order."""
    n = len(candidates)
    if len(titles) != n:
        raise ValueError(f"{len(titles)} titles for {n} candidates")
    out = np.full((n, len(RELEVANCE_FEATURES)), np.nan, dtype=np.float32)
    if n == 0:
        return out
    col = {name: i for i, name in enumerate(RELEVANCE_FEATURES)}
    out[:, col["engine_score"]] = normalize_scores(candidates.scores)
    ranks = np.arange(n, dtype=np.float32)
    out[:, col["engine_rank"]] = ranks / max(n - 1, 1)
    out[:, col["reciprocal_rank"]] = 1.0 / (1.0 + ranks)

    q = match_tokens(query)
    q_trigrams = _trigrams(query)
    terms = tuple(dict.fromkeys(q))
    weights = np.array([idf.weight(t) for t in terms], dtype=np.float64)
    total = float(weights.sum())
    pairs = tuple(itertools.pairwise(q))
    numbers = tuple(t for t in terms if t[:1].isdigit())
    phrase = " ".join(q)
    out[:, col["query_length"]] = len(q)

    brand_names = candidates.brand_names
    brand_codes = candidates.brands
    named = np.zeros(n, dtype=np.float32)
    if brand_codes is not None and q:
        present = [c for c in np.unique(brand_codes).tolist() if c >= 0]
        wanted = named_in(q, [brand_names[c] for c in present])
        named_codes = [c for c in present if brand_names[c] in wanted]
        named = np.isin(brand_codes, named_codes).astype(np.float32)
        out[:, col["query_names_brand"]] = float(bool(named_codes))
    else:
        out[:, col["query_names_brand"]] = 0.0
    out[:, col["brand_in_query"]] = named

    has_title = np.array([bool(t) for t in titles], dtype=bool)
    index = [_title_index(t) if t else _EMPTY for t in titles]
    out[:, col["title_length"]] = np.where(has_title, [ix.length for ix in index], np.nan)
    if terms:
        found = _hits([ix.present for ix in index], terms)
        out[:, col["term_coverage"]] = found.mean(axis=1)
        out[:, col["idf_coverage"]] = found @ weights / total if total > 0 else 0.0
        out[:, col["head_term"]] = found[:, terms.index(q[-1])]
        out[:, col["missing_idf"]] = np.where(found, 0.0, weights).max(axis=1)
        lead = _hits([ix.lead for ix in index], terms)
        out[:, col["leading_match"]] = lead.mean(axis=1)
        out[:, col["phrase"]] = [phrase in ix.text for ix in index]
        if pairs:
            out[:, col["bigram_coverage"]] = _hits([ix.adjacent for ix in index], pairs).mean(1)
        if numbers:
            digits = [terms.index(t) for t in numbers]
            out[:, col["number_coverage"]] = found[:, digits].mean(axis=1)
        if q_trigrams:  # set intersection in C beats one look-up per trigram
            shared = [len(q_trigrams & ix.trigrams) for ix in index]
            out[:, col["trigram_overlap"]] = np.array(shared, np.float32) / len(q_trigrams)
        no_title = ~has_title
        for name in ("term_coverage", "idf_coverage", "head_term", "missing_idf",
                     "leading_match", "phrase", "bigram_coverage", "number_coverage",
                     "trigram_overlap"):  # fmt: skip
            out[no_title, col[name]] = np.nan
    cov = out[:, col["idf_coverage"]]
    if np.isfinite(cov).any():
        out[:, col["idf_coverage_gap"]] = np.nanmax(cov) - cov

    emb = candidates.embeddings
    if emb is not None:
        centroid = emb[:FEEDBACK_DEPTH].mean(axis=0)
        norm = float(np.linalg.norm(centroid))
        if norm > 0:
            feedback = emb @ (centroid / norm).astype(np.float32)
            out[:, col["feedback_cosine"]] = feedback
            out[:, col["feedback_cosine_gap"]] = float(feedback.max()) - feedback
    if query_vector is not None and emb is not None and emb.shape[1] == query_vector.shape[0]:
        cos = emb @ np.asarray(query_vector, dtype=np.float32)
        out[:, col["cosine"]] = cos
        out[:, col["cosine_gap"]] = float(cos.max()) - cos
        order = np.argsort(-cos, kind="stable")
        position = np.empty(n, dtype=np.float32)
        position[order] = np.arange(n, dtype=np.float32)
        out[:, col["cosine_rank"]] = position / max(n - 1, 1)
    return out
