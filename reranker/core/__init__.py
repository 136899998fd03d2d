"""The ranking core: numpy in, numpy out, no I/O, no torch.

``rerank(candidates, k, knobs, user=None, weights=None) -> Ranking`` is the one entry point
(sidecar, evaluation and training all call it); strategies are chosen by ``knobs.strategy``
from ``STRATEGY_REGISTRY``. The trainer reads features through ``FEATURE_NAMES``,
``SelectionState`` and ``rollout_features`` and hands back ``FusionWeights``;
``history_profile`` turns a shopper's history into the ``UserProfile`` ranked with.
"""

from reranker.contract import STRATEGIES
from reranker.core.calibration import CalibrationState, kl_divergence
from reranker.core.cholesky import IncrementalCholesky
from reranker.core.dpp import dpp_select
from reranker.core.features import FEATURE_NAMES, STATIC_FEATURES, STEP_FEATURES, static_features
from reranker.core.intent import QueryIntent, detect_intent
from reranker.core.mmr import mmr_select
from reranker.core.normalize import normalize_scores
from reranker.core.profile import history_profile
from reranker.core.registry import STRATEGY_REGISTRY, quality, rerank
from reranker.core.request import Request, prepare
from reranker.core.rollout import Rollout, rollout_features
from reranker.core.selection import GreedyResult
from reranker.core.selection_state import SelectionState
from reranker.core.similarity import EmbeddingRows, LabelRows, SimilarityRows
from reranker.core.types import Candidates, Knobs, Ranking, UserProfile
from reranker.core.weights import DEFAULT_WEIGHTS, FusionWeights

__all__ = [
    "DEFAULT_WEIGHTS",
    "FEATURE_NAMES",
    "STATIC_FEATURES",
    "STEP_FEATURES",
    "STRATEGIES",
    "STRATEGY_REGISTRY",
    "CalibrationState",
    "Candidates",
    "EmbeddingRows",
    "FusionWeights",
    "GreedyResult",
    "IncrementalCholesky",
    "Knobs",
    "LabelRows",
    "QueryIntent",
    "Ranking",
    "Request",
    "Rollout",
    "SelectionState",
    "SimilarityRows",
    "UserProfile",
    "detect_intent",
    "dpp_select",
    "history_profile",
    "kl_divergence",
    "mmr_select",
    "normalize_scores",
    "prepare",
    "quality",
    "rerank",
    "rollout_features",
    "static_features",
]
