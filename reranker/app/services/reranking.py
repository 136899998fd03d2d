"""One re-rank request end to end: look-ups, translation, the core, the response, the metrics.

Look-ups are best effort: when OpenSearch is down or slow, the request is answered with what it
carries and the response's ``degraded`` list (and ``divrank_degraded_total``) says what was
missing. Only the core's own verdict on bad input becomes a 422; everything else is a bug.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from reranker.app import metrics
from reranker.app.privacy import hash_user_id
from reranker.app.schemas import Explanation, RerankRequest, RerankResponse
from reranker.app.services.model import ServedModel
from reranker.app.services.opensearch import LookupUnavailable
from reranker.app.services.profiles import ProfileInvalid, ProfileStore, StoredProfile
from reranker.app.services.translate import page_size, to_candidates, to_knobs, to_profile
from reranker.app.services.vectors import ItemRecord, VectorStore
from reranker.core import rerank
from reranker.core.types import Candidates, Ranking

__all__ = ["CoreRejected", "Reranker"]

log = logging.getLogger("divrank.sidecar")


class CoreRejected(ValueError):
    """The ranking core refused this input (a 422 naming the request body)."""


@dataclass
class Reranker:
    model: ServedModel
    profiles: ProfileStore | None  # None: look-ups switched off
    vectors: VectorStore | None

    def may_block(self, request: RerankRequest) -> bool:
        """Whether answering may need a look-up over the network (else it is pure CPU work).

        Cached look-ups count as CPU work: most requests of returning shoppers then skip the
        thread hand-off. An entry that expires between this check and its use costs one
        look-up on the event loop, bounded by the look-up timeout.
        """
        if request.index is not None and self.vectors is not None:
            missing = [
                c.id
                for c, v in zip(request.candidates, request.vectors(), strict=True)
                if v is None
            ]
            history = request.user.history if request.user else None
            if history is not None and history.item_ids:
                missing += history.item_ids
            if missing and not self.vectors.all_cached(request.index, missing):
                return True
        user_id = request.user.id if request.user else None
        if user_id is None or self.profiles is None:
            return False
        return not self.profiles.cached(user_id)

    def __call__(self, request: RerankRequest) -> RerankResponse:
        started = time.perf_counter()
        notes: list[str] = []
        fetched = self._candidate_records(request, notes)
        candidates, more = to_candidates(request, fetched)
        notes += more
        dim = None if candidates.embeddings is None else int(candidates.embeddings.shape[1])
        stored = self._stored_profile(request, notes)
        history_vectors, history_records, history_categories = self._history(request, notes)
        inline = request.user.history if request.user else None
        user, more = to_profile(stored, history_vectors, history_records, dim,
                                inline.item_ids if inline is not None else (),
                                history_categories)  # fmt: skip
        notes += more
        candidates = self._learned_relevance(request, candidates)
        weights = self.model.weights
        relevance = self.model.relevance
        if weights is None and candidates.relevance is not None and relevance is not None:
            weights = relevance.fusion_weights  # tuned for the model's scores
        knobs = to_knobs(request, candidates)
        k = page_size(request)
        try:
            ranking = rerank(candidates, k, knobs, user=user, weights=weights)
        except ValueError as exc:
            log.warning("core rejected a request: %s", exc)
            raise CoreRejected(str(exc)) from exc
        response = self._response(request, ranking, notes)

        elapsed = time.perf_counter() - started
        strategy = knobs.strategy
        metrics.RERANK_REQUESTS.labels(strategy).inc()
        metrics.RERANK_LATENCY.labels(strategy).observe(elapsed)
        metrics.RERANK_CANDIDATES.observe(len(candidates))
        for reason in notes:
            metrics.DEGRADED.labels(reason).inc()
        log.info(
            "rerank strategy=%s n=%d k=%d user=%s personalised=%s ms=%.2f degraded=%s",
            strategy,
            len(candidates),
            k,
            hash_user_id(request.user.id if request.user else None),
            user is not None,
            elapsed * 1e3,
            ",".join(notes) or "-",
        )
        return response

    def _learned_relevance(self, request: RerankRequest, candidates: Candidates) -> Candidates:
        """The window with the relevance model's scores, when it has what the model reads."""
        model = self.model.relevance
        if model is None or not request.knobs.relevance_model or not request.query:
            return candidates
        if request.knobs.strategy == "engine":  # engine order reads no relevance: skip the model
            return candidates
        titles = [c.title for c in request.candidates]
        if not any(titles):
            return candidates
        return replace(candidates, relevance=model.score(request.query, titles, candidates))

    def _candidate_records(self, request: RerankRequest, notes: list[str]) -> dict[str, ItemRecord]:
        missing = [
            c.id for c, v in zip(request.candidates, request.vectors(), strict=True) if v is None
        ]
        if not missing or request.index is None or self.vectors is None:
            return {}
        try:
            return self.vectors.fetch(request.index, missing)
        except LookupUnavailable:
            notes.append("vectors_unavailable")
            return {}

    def _stored_profile(self, request: RerankRequest, notes: list[str]) -> StoredProfile | None:
        user_id = request.user.id if request.user else None
        if user_id is None or self.profiles is None:
            return None
        try:
            return self.profiles.get(user_id)
        except LookupUnavailable:
            notes.append("profile_unavailable")
        except ProfileInvalid:
            notes.append("profile_invalid")
        return None

    def _history(
        self, request: RerankRequest, notes: list[str]
    ) -> tuple[list[np.ndarray], list[ItemRecord], list[str | None] | None]:
        """Inline history: its vectors, the records of its item ids found in the index, and
        each id's category (None when not found; None for all when not looked up)."""
        history = request.user.history if request.user else None
        if history is None:
            return [], [], None
        vectors = [np.asarray(v, dtype=np.float32) for v in history.vectors]
        records: list[ItemRecord] = []
        categories: list[str | None] | None = None
        if history.item_ids and request.index is not None and self.vectors is not None:
            try:
                found = self.vectors.fetch(request.index, history.item_ids)
                records = [found[i] for i in history.item_ids if i in found]
                categories = [found[i].category if i in found else None for i in history.item_ids]
            except LookupUnavailable:
                notes.append("history_unavailable")
        return vectors, records, categories

    def _response(
        self, request: RerankRequest, ranking: Ranking, notes: list[str]
    ) -> RerankResponse:
        ids = [request.candidates[int(i)].id for i in ranking.order]
        explanations = None
        if request.knobs.explain and ranking.explanations is not None:
            explanations = [
                _explanation(item_id, float(score), raw)
                for item_id, score, raw in zip(
                    ids, ranking.scores, ranking.explanations, strict=True
                )
            ]
        return RerankResponse(
            ids=ids,
            scores=[float(s) for s in ranking.scores],
            strategy=request.knobs.strategy,
            model_version=self.model.version,
            explanations=explanations,
            degraded=sorted(set(notes)) or None,
        )


def _explanation(item_id: str, score: float, raw: dict[str, Any]) -> Explanation:
    """The core's explanation record in the API's shape (``explain.py`` documents the keys)."""
    decisions = [f"{name.replace('_', ' ')} relaxed" for name in raw.get("relaxed") or []]
    held = raw.get("held_back")
    if held:
        decisions.append(f"held back {held['id']}: {', '.join(held.get('reasons', []))}")
    return Explanation(
        id=item_id,
        fused=float(raw.get("score", score)),
        terms={str(k): float(v) for k, v in (raw.get("contributions") or {}).items()},
        decisions=decisions,
        engine_rank=raw.get("engine_rank"),
        features=raw.get("features"),
        held_back=held or None,
        limits=raw.get("limits"),
    )
