"""Request-time features for the learned relevance model: what the engine said, and how well
each title matches the query.

The engine's score knows only its own field statistics; a shopper's query also says which words
matter (rare words weigh more), which numbers and sizes must match ("3/4 in."), and which brand
is wanted. Every feature is computed from the request alone (query text, titles, brands, engine
scores, vectors) plus an IDF table shipped with the model, so the sidecar, the evaluation and
the trainer compute the very same matrix. Request-relative columns (a value against the best
in the window) let one model serve BM25 and vector scores of any scale. Missing inputs are NaN,
which the tree model routes on its own.

Speed (the sidecar scores every request with it): each distinct title is read once per
process into a record of integers (its token ids, and its tokens in UTF-8 for the character
trigrams and the phrase), since titles recur across requests; per request the query is read
once and one compiled call (numba, GIL released) makes every per-candidate comparison. The
values are those of the plain set and string definitions, bit for bit
(``tests/unit/core/test_relevance_features_kernel.py``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from itertools import repeat

import numpy as np
import numpy.typing as npt
from numba import njit

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

Int64Array = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]
ByteArray = npt.NDArray[np.uint8]
BoolArray = npt.NDArray[np.bool_]

_COL = {name: i for i, name in enumerate(RELEVANCE_FEATURES)}
# the columns the compiled kernel fills (module constants: numba folds them in)
_ENGINE_SCORE = _COL["engine_score"]
_ENGINE_RANK = _COL["engine_rank"]
_RECIPROCAL_RANK = _COL["reciprocal_rank"]
_IDF_COVERAGE = _COL["idf_coverage"]
_IDF_COVERAGE_GAP = _COL["idf_coverage_gap"]
_TERM_COVERAGE = _COL["term_coverage"]
_BIGRAM_COVERAGE = _COL["bigram_coverage"]
_PHRASE = _COL["phrase"]
_LEADING_MATCH = _COL["leading_match"]
_HEAD_TERM = _COL["head_term"]
_MISSING_IDF = _COL["missing_idf"]
_TRIGRAM_OVERLAP = _COL["trigram_overlap"]
_NUMBER_COVERAGE = _COL["number_coverage"]
_TITLE_LENGTH = _COL["title_length"]
_QUERY_LENGTH = _COL["query_length"]
_BRAND_IN_QUERY = _COL["brand_in_query"]
_QUERY_NAMES_BRAND = _COL["query_names_brand"]
_FEEDBACK_COSINE = _COL["feedback_cosine"]
_FEEDBACK_COSINE_GAP = _COL["feedback_cosine_gap"]
_LEAD = 4  # leading_match reads the title's first four tokens


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


def _utf8(text: str) -> bytes:
    """UTF-8, lone surrogates included (Python compares them as code points too)."""
    return text.encode("utf-8", "surrogatepass")


_HEADER = 2  # a title record: [token count (-1 = no title), text bytes]
_NO_TITLE = 0  # the offset of the record every missing or empty title shares


class _TitleStore:
    """Every title seen, as one int32 record in a shared buffer, written once per distinct
    title: the header, the token ids, then the tokens joined by single spaces in UTF-8, four
    bytes a word (character trigrams and the phrase test read them).

    Ids come from this store's own vocabulary, and a request reads all of them from one store,
    so replacing a full store (``_current_store``) never mixes two vocabularies. Records are
    only appended: a request holding the buffer keeps reading its own titles while another
    thread adds more."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self.offset: dict[str | None, int] = {None: _NO_TITLE, "": _NO_TITLE}
        self.data = np.zeros(1 << 16, dtype=np.int32)
        self.data[:_HEADER] = (-1, 0)
        self.used = _HEADER
        self._lock = threading.Lock()

    def offsets(self, titles: Sequence[str | None]) -> Int64Array:
        """Where each title's record starts, adding the titles not seen before."""
        found = np.fromiter(map(self.offset.get, titles, repeat(-1)), np.int64, len(titles))
        if found.min() < 0:
            with self._lock:
                for i in np.flatnonzero(found < 0).tolist():
                    found[i] = self._add(titles[i])
        return found

    def _add(self, title: str | None) -> int:
        """Append one title's record (the lock is held) and return where it starts."""
        at = self.offset.get(title)
        if at is not None:  # added by another thread since the look-up, or twice in a window
            return at
        assert title  # missing and empty titles have a record from the start
        toks = match_tokens(title)
        vocab = self.vocab
        ids = [vocab.setdefault(tok, len(vocab)) for tok in toks]
        text = _utf8(" ".join(toks))
        words = np.frombuffer(text + bytes(-len(text) % 4), dtype=np.int32)
        record = np.concatenate((np.array([len(ids), len(text), *ids], np.int32), words))
        at = self.used
        end = at + record.shape[0]
        if end > self.data.shape[0]:
            grown = np.zeros(max(2 * self.data.shape[0], end), dtype=np.int32)
            grown[:at] = self.data[:at]
            self.data = grown  # readers holding the old buffer still find their records
        self.data[at:end] = record
        self.used = end
        self.offset[title] = at  # published last: the record is complete
        return at

    def full(self) -> bool:
        return len(self.offset) > _MAX_TITLES or self.used > _MAX_WORDS


_MAX_TITLES = 131072  # then a fresh store: memory stays bounded in a long-lived process
_MAX_WORDS = 1 << 23  # 32 MiB of records (the buffer: at most twice that)
_store = _TitleStore()


def _current_store() -> _TitleStore:
    global _store
    store = _store
    if store.full():
        store = _store = _TitleStore()
    return store


@njit(cache=True, nogil=True, inline="always")
def _contains(text: ByteArray, at: int, length: int, needle: ByteArray) -> bool:
    """``needle`` occurs in ``text[at : at + length]``: Python's ``in`` on the strings, since
    UTF-8 puts a match of whole characters only on character boundaries."""
    width = needle.shape[0]
    first = needle[0]
    for s in range(at, at + length - width + 1):
        if text[s] != first:
            continue
        r = 1
        while r < width and text[s + r] == needle[r]:
            r += 1
        if r == width:
            return True
    return False


@njit(cache=True, nogil=True, inline="always")
def _code_point(text: ByteArray, j: int) -> tuple[int, int]:
    """The character starting at byte ``j`` of valid UTF-8, and the byte after it."""
    lead = int(text[j])
    if lead < 0x80:
        return lead, j + 1
    if lead < 0xE0:
        width, c = 2, lead & 0x1F
    elif lead < 0xF0:
        width, c = 3, lead & 0x0F
    else:
        width, c = 4, lead & 0x07
    for r in range(1, width):
        c = (c << 6) | (int(text[j + r]) & 0x3F)
    return c, j + width


_SPACE = 0x20


@njit(cache=True, nogil=True)
def _table(keys: int) -> tuple[Int64Array, Int64Array]:
    """An empty open-addressing table for up to ``keys`` keys (-1 = an empty slot) with a
    value per slot. A power of two, at least 1024 and sixteen times the keys: a look-up of an
    absent key, the usual case, almost always ends at its first slot."""
    size = 1024
    while size < 16 * keys:
        size *= 2
    return np.full(size, -1, dtype=np.int64), np.zeros(size, dtype=np.int64)


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the key's bits, well mixed


@njit(cache=True, nogil=True, inline="always")
def _slot(keys: Int64Array, x: int) -> int:
    """The slot holding ``x``, or the empty slot where it would go."""
    mask = keys.shape[0] - 1
    slot = int((np.uint64(x) * _GOLDEN) >> np.uint64(40)) & mask
    while keys[slot] >= 0 and keys[slot] != x:
        slot = (slot + 1) & mask
    return slot


@njit(cache=True, nogil=True)
def _term_table(ids: Int64Array) -> tuple[Int64Array, Int64Array]:
    """Token id → term (its position in ``ids``); an id of -1 (no title has it) stays out."""
    keys, where = _table(ids.shape[0])
    for t in range(ids.shape[0]):
        if ids[t] >= 0:
            slot = _slot(keys, ids[t])
            if keys[slot] < 0:
                keys[slot] = ids[t]
                where[slot] = t
    return keys, where


@njit(cache=True, nogil=True, inline="always")
def _trigrams(
    text: ByteArray,
    begin: int,
    stop: int,
    keys: Int64Array,
    where: Int64Array,
    seen: Int64Array,
    stamp: int,
    insert: bool,
) -> int:
    """Walk the character trigrams of ``text[begin:stop]`` (UTF-8) with its spaces skipped,
    each as one exact integer (three 21-bit code points). With ``insert``, number the new ones
    into the table and return how many were new; otherwise return how many distinct trigrams
    of the table occur, marking each with ``stamp`` in ``seen`` (indexed by its number)."""
    count = 0
    a = b = -1
    j = begin
    while j < stop:
        c, j = _code_point(text, j)
        if c == _SPACE:
            continue
        if a >= 0:
            code = (a << 42) | (b << 21) | c
            slot = _slot(keys, code)
            if insert:
                if keys[slot] < 0:
                    keys[slot] = code
                    where[slot] = count
                    count += 1
            elif keys[slot] >= 0 and seen[where[slot]] != stamp:
                seen[where[slot]] = stamp
                count += 1
        a, b = b, c
    return count


@njit(cache=True, nogil=True)
def _window_kernel(
    data: Int32Array,  # the title records (``_TitleStore``)
    starts: Int64Array,  # (n,) each candidate's record
    query: Int64Array,  # the query's integers, see below
    length: int,  # query tokens
    weights: npt.NDArray[np.float64],  # IDF of each term
    total: float,  # weights.sum() (numpy's order)
    phrase: ByteArray,  # the query's tokens joined by single spaces, UTF-8
    engine: FloatArray,  # (n,) normalised engine scores
    feedback: FloatArray,  # (n,) feedback cosines, or empty
    brands: Int64Array,  # (n,) brand codes, or empty when no brand is named
    named: BoolArray,  # per brand code: named by the query
    out: FloatArray,  # (n, len(RELEVANCE_FEATURES)), every cell written here but the cosines
) -> None:
    """Fill ``out`` for one window (the cosines to a query vector are left NaN).

    ``query`` holds, in order: each query token's term (an index into the distinct terms, in
    first occurrence order); each term's token id (-1 when no title seen has it); 1 per term
    that is a number, else 0.
    """
    n = out.shape[0]
    k = weights.shape[0]
    text = data.view(np.uint8)
    term_of = query[:length]
    numbers = query[length + k : length + 2 * k]
    term_keys, term_at = _term_table(query[length : length + k])
    gram_keys, gram_at = _table(phrase.shape[0])
    trigram_count = _trigrams(phrase, 0, phrase.shape[0], gram_keys, gram_at, _NO_IDS, 0, True)
    pairs = length - 1
    asked = 0
    for t in range(k):
        asked += numbers[t]
    # per term, pair of terms and trigram, the last candidate (+1) whose title has it, so
    # nothing is cleared between titles
    found = np.zeros(k, np.int64)
    lead = np.zeros(k, np.int64)
    adjacent = np.zeros((k, k), np.int64)
    seen = np.zeros(trigram_count, np.int64)
    last = np.float32(max(n - 1, 1))
    best = np.float32(-np.inf)
    out[:] = np.nan
    for i in range(n):
        rank = np.float32(i)
        out[i, _ENGINE_SCORE] = engine[i]
        out[i, _ENGINE_RANK] = rank / last
        out[i, _RECIPROCAL_RANK] = np.float32(1.0) / (np.float32(1.0) + rank)
        out[i, _QUERY_LENGTH] = np.float32(length)
        code = brands[i] if brands.shape[0] else -1
        out[i, _BRAND_IN_QUERY] = 1.0 if code >= 0 and named[code] else 0.0
        out[i, _QUERY_NAMES_BRAND] = 1.0 if brands.shape[0] else 0.0
        at = starts[i]
        tokens = data[at]
        if tokens < 0:  # no title
            continue
        out[i, _TITLE_LENGTH] = np.float32(tokens)
        if k == 0:
            continue
        stamp = i + 1
        first = at + _HEADER
        ends = first + tokens
        previous = -1
        for j in range(first, ends):
            slot = _slot(term_keys, data[j])
            t = term_at[slot] if term_keys[slot] >= 0 else -1
            if t >= 0:
                found[t] = stamp
                if j - first < _LEAD:
                    lead[t] = stamp
                if previous >= 0:
                    adjacent[previous, t] = stamp
            previous = t
        hits = 0
        leading = 0
        numbers_found = 0
        covered = 0.0
        missing = 0.0
        for t in range(k):
            lack = weights[t]
            if found[t] == stamp:
                hits += 1
                covered += weights[t]
                lack = 0.0
                numbers_found += numbers[t]
            if lead[t] == stamp:
                leading += 1
            if t == 0 or lack > missing:
                missing = lack
        out[i, _TERM_COVERAGE] = hits / k
        coverage = np.float32(covered / total) if total > 0 else np.float32(0.0)
        out[i, _IDF_COVERAGE] = coverage
        best = max(best, coverage)
        out[i, _HEAD_TERM] = 1.0 if found[term_of[length - 1]] == stamp else 0.0
        out[i, _MISSING_IDF] = missing
        out[i, _LEADING_MATCH] = leading / k
        if pairs > 0:
            both = 0
            for p in range(pairs):
                if adjacent[term_of[p], term_of[p + 1]] == stamp:
                    both += 1
            out[i, _BIGRAM_COVERAGE] = both / pairs
        if asked > 0:
            out[i, _NUMBER_COVERAGE] = numbers_found / asked
        begin = ends * 4  # the text, in bytes
        stop = begin + data[at + 1]
        shared = _trigrams(text, begin, stop, gram_keys, gram_at, seen, stamp, False)
        if trigram_count > 0:
            out[i, _TRIGRAM_OVERLAP] = np.float32(shared) / np.float32(trigram_count)
        # the phrase in the title puts every trigram of the query in it: test only then
        contained = shared == trigram_count and _contains(text, begin, stop - begin, phrase)
        out[i, _PHRASE] = 1.0 if contained else 0.0
    if best > -np.inf:
        for i in range(n):
            out[i, _IDF_COVERAGE_GAP] = best - out[i, _IDF_COVERAGE]
    if feedback.shape[0]:
        top = feedback[0]
        for i in range(n):  # numpy's max: NaN wins
            if np.isnan(feedback[i]):
                top = feedback[i]
                break
            top = max(top, feedback[i])
        for i in range(n):
            out[i, _FEEDBACK_COSINE] = feedback[i]
            out[i, _FEEDBACK_COSINE_GAP] = top - feedback[i]


_NO_IDS = np.zeros(0, dtype=np.int64)
_NO_FLAGS = np.zeros(0, dtype=np.bool_)
_NO_WEIGHTS = np.zeros(0, dtype=np.float64)
_NO_TEXT = np.frombuffer(b"", dtype=np.uint8)  # read-only, as every phrase: one signature
_NO_FLOATS = np.zeros(0, dtype=np.float32)


def _feedback(emb: FloatArray | None) -> FloatArray:
    """Cosine of each item to the mean of the engine's top ``FEEDBACK_DEPTH`` (empty without
    vectors, or when that mean is zero)."""
    if emb is None:
        return _NO_FLOATS
    centroid = emb[:FEEDBACK_DEPTH].mean(axis=0)
    norm = float(np.linalg.norm(centroid))
    if norm > 0:
        return np.asarray(emb @ (centroid / norm).astype(np.float32), dtype=np.float32)
    return _NO_FLOATS


def _named_brands(q: tuple[str, ...], candidates: Candidates) -> tuple[Int64Array, BoolArray]:
    """The brand codes and, per code, whether the query names that brand
    (``intent.named_in`` over the brands present in the window); both empty when it names
    none. Codes are int64 whatever their type in ``candidates`` (one compiled kernel)."""
    codes = candidates.brands
    if codes is None or not q:
        return _NO_IDS, _NO_FLAGS
    names = candidates.brand_names
    present = set(codes.tolist())
    present.discard(-1)  # unknown
    if present and min(present) < 0:
        present = {c for c in present if c >= 0}
    wanted = named_in(q, [names[c] for c in present])
    if not wanted:
        return _NO_IDS, _NO_FLAGS
    named = np.zeros(len(names), dtype=np.bool_)
    for c in present:
        named[c] = names[c] in wanted
    return codes.astype(np.int64), named


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
    out = np.empty((n, len(RELEVANCE_FEATURES)), dtype=np.float32)
    if n == 0:
        return out
    store = _current_store()
    starts = store.offsets(titles)  # first: the query's ids are looked up after
    q = match_tokens(query)
    brands, named = _named_brands(q, candidates)
    engine = normalize_scores(candidates.scores)
    feedback = _feedback(candidates.embeddings)
    if q:
        terms = {tok: t for t, tok in enumerate(dict.fromkeys(q))}  # in first occurrence order
        ids = store.vocab.get
        ints = [terms[tok] for tok in q]
        ints += [ids(tok, -1) for tok in terms]
        ints += [tok[:1].isdigit() for tok in terms]
        weights = np.array([idf.weight(tok) for tok in terms], dtype=np.float64)
        phrase = np.frombuffer(_utf8(" ".join(q)), dtype=np.uint8)
        _window_kernel(store.data, starts, np.array(ints, dtype=np.int64), len(q), weights,
                       float(weights.sum()), phrase, engine, feedback, brands, named,
                       out)  # fmt: skip
    else:
        _window_kernel(store.data, starts, _NO_IDS, 0, _NO_WEIGHTS, 0.0, _NO_TEXT, engine,
                       feedback, brands, named, out)  # fmt: skip

    emb = candidates.embeddings
    if query_vector is not None and emb is not None and emb.shape[1] == query_vector.shape[0]:
        cos = emb @ np.asarray(query_vector, dtype=np.float32)
        out[:, _COL["cosine"]] = cos
        out[:, _COL["cosine_gap"]] = float(cos.max()) - cos
        order = np.argsort(-cos, kind="stable")
        position = np.empty(n, dtype=np.float32)
        position[order] = np.arange(n, dtype=np.float32)
        out[:, _COL["cosine_rank"]] = position / max(n - 1, 1)
    return out
