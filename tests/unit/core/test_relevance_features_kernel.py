"""The compiled relevance features equal their plain definitions, bit for bit.

``relevance_features`` reads titles from a per-process store of integer records and compares
them to the query in one numba call. The reference here computes every column one candidate at
a time with Python sets and strings, the way the features are defined; on many random windows
(units, fractions, repeated words, Unicode digits and case folding, missing titles, unknown
brands, with and without vectors) both must give the same float32 bits, so the shipped model
keeps scoring as it was trained.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import reranker.core.relevance_features as rf
from reranker.core import Candidates
from reranker.core.intent import named_in
from reranker.core.normalize import normalize_scores
from reranker.core.relevance_features import (
    RELEVANCE_FEATURES,
    IdfTable,
    match_tokens,
    relevance_features,
)

COL = {name: i for i, name in enumerate(RELEVANCE_FEATURES)}
PHRASES = (
    "dewalt drill drills dril cordless 20-volt max 1/2 in. 3/4 in 8ft 8 ft x 2x4 2 4",
    "pvc pipe pipes the and for of by behr premium paint gal. 1-gal glass ss s a",
    "led bulbs 60w 60 w m18 #10 o'brien x-large white White WHITE 36 80 steel door",
    "straße STRASSE İstanbul café CAFÉ ½ ² 𝟙𝟚 ٣ 水 _under_ score",  # Unicode digits, folds
)
WORDS = [word for phrase in PHRASES for word in phrase.split()]
BRANDS = ["DEWALT", "Milwaukee", "Behr Premium", "Home Decorators Collection", "3M", "a", "GE",
          "the", "White", "Steel Door Co"]  # fmt: skip


def _grams(toks: Sequence[str]) -> set[str]:
    squeezed = "".join(toks)
    return {squeezed[i : i + 3] for i in range(len(squeezed) - 2)}


def reference(
    query: str,
    titles: Sequence[str | None],
    candidates: Candidates,
    idf: IdfTable,
    query_vector: np.ndarray | None = None,
) -> np.ndarray:
    """The features by their definitions, one candidate at a time."""
    n = len(candidates)
    out = np.full((n, len(RELEVANCE_FEATURES)), np.nan, dtype=np.float32)
    if n == 0:
        return out
    out[:, COL["engine_score"]] = normalize_scores(candidates.scores)
    q = match_tokens(query)
    terms = list(dict.fromkeys(q))
    weights = [idf.weight(t) for t in terms]
    total = float(np.array(weights, dtype=np.float64).sum())
    pairs = list(itertools.pairwise(q))
    numbers = [t for t in terms if t[:1].isdigit()]
    query_grams = _grams(q)
    wanted: frozenset[str] = frozenset()
    if candidates.brands is not None and q:
        present = {c for c in candidates.brands.tolist() if c >= 0}
        wanted = named_in(q, [candidates.brand_names[c] for c in present])
    for i, title in enumerate(titles):
        out[i, COL["engine_rank"]] = np.float32(i) / np.float32(max(n - 1, 1))
        out[i, COL["reciprocal_rank"]] = np.float32(1.0) / (np.float32(1.0) + np.float32(i))
        out[i, COL["query_length"]] = len(q)
        code = -1 if candidates.brands is None else int(candidates.brands[i])
        out[i, COL["brand_in_query"]] = code >= 0 and candidates.brand_names[code] in wanted
        out[i, COL["query_names_brand"]] = bool(wanted)
        if not title:
            continue
        toks = match_tokens(title)
        out[i, COL["title_length"]] = len(toks)
        if not terms:
            continue
        present_tokens = set(toks)
        hit = [t in present_tokens for t in terms]
        out[i, COL["term_coverage"]] = sum(hit) / len(terms)
        covered = sum(w for w, h in zip(weights, hit, strict=True) if h)
        out[i, COL["idf_coverage"]] = covered / total if total > 0 else 0.0
        out[i, COL["head_term"]] = q[-1] in present_tokens
        out[i, COL["missing_idf"]] = max(0.0 if h else w for w, h in zip(weights, hit, strict=True))
        out[i, COL["leading_match"]] = sum(t in set(toks[:4]) for t in terms) / len(terms)
        out[i, COL["phrase"]] = " ".join(q) in " ".join(toks)
        if pairs:
            adjacent = set(itertools.pairwise(toks))
            out[i, COL["bigram_coverage"]] = sum(p in adjacent for p in pairs) / len(pairs)
        if numbers:
            numbers_found = sum(t in present_tokens for t in numbers)
            out[i, COL["number_coverage"]] = numbers_found / len(numbers)
        if query_grams:
            shared = len(query_grams & _grams(toks))
            out[i, COL["trigram_overlap"]] = np.float32(shared) / np.float32(len(query_grams))
    coverage = out[:, COL["idf_coverage"]]
    if np.isfinite(coverage).any():
        out[:, COL["idf_coverage_gap"]] = np.nanmax(coverage) - coverage
    emb = candidates.embeddings
    if emb is not None:
        centroid = emb[: rf.FEEDBACK_DEPTH].mean(axis=0)
        norm = float(np.linalg.norm(centroid))
        if norm > 0:
            feedback = emb @ (centroid / norm).astype(np.float32)
            out[:, COL["feedback_cosine"]] = feedback
            out[:, COL["feedback_cosine_gap"]] = float(feedback.max()) - feedback
    if query_vector is not None and emb is not None:
        cos = (emb @ query_vector).tolist()
        for i, value in enumerate(cos):  # position by cosine, ties in engine order
            above = sum(other > value for other in cos) + sum(c == value for c in cos[:i])
            out[i, COL["cosine"]] = value
            out[i, COL["cosine_gap"]] = np.float32(max(cos)) - np.float32(value)
            out[i, COL["cosine_rank"]] = np.float32(above) / np.float32(max(n - 1, 1))
    return out


def _text(rng: np.random.Generator, low: int, high: int) -> str:
    words = rng.choice(WORDS, size=int(rng.integers(low, high + 1))).tolist()
    seps = rng.choice([" ", " ", " ", "-", ", ", "/", " & "], size=len(words)).tolist()
    return "".join(w + s for w, s in zip(words, seps, strict=True)).strip()


Window = tuple[str, list[str | None], Candidates, np.ndarray | None]


def _window(rng: np.random.Generator) -> Window:
    n = int(rng.choice([1, 2, 7, 40, 100]))
    titles: list[str | None] = []
    for _ in range(n):
        kind = rng.random()
        titles.append(None if kind < 0.04 else "" if kind < 0.06 else "!!! --" if kind < 0.07
                      else _text(rng, 1, 22))  # fmt: skip
    kind = rng.random()
    if kind < 0.35 and any(titles):  # a stretch of a title, re-cased: phrases and bigrams
        words = str(rng.choice([t for t in titles if t])).split()
        start = int(rng.integers(0, len(words)))
        query = " ".join(words[start : start + int(rng.integers(1, 5))]).upper()
    elif kind < 0.4:
        query = str(rng.choice(["", "the and", "!!", "a", "x", "2"]))
    elif kind < 0.45:
        query = _text(rng, 9, 14)  # more distinct terms than numpy's short sum
    else:
        query = _text(rng, 1, 5)
    if query and rng.random() < 0.2:  # a typo
        cut = int(rng.integers(0, len(query)))
        query = query[:cut] + query[cut + 1 :]
    dim = 16
    emb = rng.normal(size=(n, dim)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    scores = np.sort(rng.gamma(2.0, 4.0, n).astype(np.float32))[::-1].copy()
    if rng.random() < 0.1:
        scores[int(rng.integers(0, n))] = np.nan
    with_brands = rng.random() < 0.85
    cands = Candidates(
        ids=[f"p{i}" for i in range(n)],
        scores=scores,
        embeddings=emb if rng.random() < 0.8 else None,
        brands=rng.integers(-1, len(BRANDS), n).astype(np.int32) if with_brands else None,
        brand_names=list(BRANDS),
    )
    vector = emb[int(rng.integers(0, n))] if rng.random() < 0.3 else None
    return query, titles, cands, vector


def _idf(rng: np.random.Generator) -> IdfTable:
    catalog = [_text(rng, 2, 12) for _ in range(300)]
    return IdfTable.from_titles(catalog, min_df=2)


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    same_shape = a.shape == b.shape and a.dtype == b.dtype
    return same_shape and bool((a.view(np.uint32) == b.view(np.uint32)).all())


def test_every_column_equals_its_definition_bit_for_bit() -> None:
    rng = np.random.default_rng(14)
    idf = _idf(rng)
    for _ in range(400):
        query, titles, cands, vector = _window(rng)
        got = relevance_features(query, titles, cands, idf, vector)
        want = reference(query, titles, cands, idf, vector)
        bad = np.argwhere(got.view(np.uint32) != want.view(np.uint32))
        assert not bad.size, (query, [RELEVANCE_FEATURES[c] for c in np.unique(bad[:, 1])])


def test_titles_seen_before_and_a_renewed_store_give_the_same_features(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(3)
    idf = _idf(rng)
    windows = [_window(rng) for _ in range(60)]
    first = [relevance_features(q, t, c, idf, v) for q, t, c, v in windows]
    again = [relevance_features(q, t, c, idf, v) for q, t, c, v in windows]  # from the store
    monkeypatch.setattr(rf, "_MAX_TITLES", 50)  # a fresh store every request or two
    renewed = [relevance_features(q, t, c, idf, v) for q, t, c, v in windows]
    for a, b, c in zip(first, again, renewed, strict=True):
        assert _same_bits(a, b) and _same_bits(a, c)


def test_concurrent_requests_share_one_store_safely(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rf, "_store", rf._TitleStore())  # empty: every thread adds titles
    rng = np.random.default_rng(5)
    idf = _idf(rng)
    windows = [_window(rng) for _ in range(120)]
    barrier = threading.Barrier(4)

    def run(part: int) -> list[np.ndarray]:
        barrier.wait()
        return [relevance_features(q, t, c, idf, v) for q, t, c, v in windows[part::4]]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, range(4)))
    for part, got in enumerate(results):
        for (q, t, c, v), x in zip(windows[part::4], got, strict=True):
            assert _same_bits(x, reference(q, t, c, idf, v)), q


def test_an_empty_window_and_an_empty_query() -> None:
    idf = IdfTable({"drill": 2.0}, 3.0)
    empty = Candidates(ids=[], scores=np.zeros(0, dtype=np.float32))
    assert relevance_features("drill", [], empty, idf).shape == (0, len(RELEVANCE_FEATURES))
    cands = Candidates(ids=["a", "b"], scores=np.array([2.0, 1.0], dtype=np.float32))
    x = relevance_features("", ["DeWalt drill", None], cands, idf)
    assert _same_bits(x, reference("", ["DeWalt drill", None], cands, idf))
    assert x[0, COL["title_length"]] == 2 and np.isnan(x[0, COL["term_coverage"]])
