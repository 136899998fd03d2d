"""The learned relevance model: a LightGBM ranker over ``relevance_features``.

The engine's score alone makes every step toward diversity cost relevance; a model that knows
which titles match the query better can re-order the window for relevance first, and the fusion
then trades *that* relevance against personalisation and diversity. The served form is plain
data (the LightGBM model text, the feature names and the IDF table), built from a dict so the
core never reads a file; ``reranker.relevance_io`` loads and saves it as JSON, no pickle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import lightgbm
import numpy as np

from reranker.core.normalize import MAX_GAIN_TEMPERATURE, learned_gains
from reranker.core.relevance_features import RELEVANCE_FEATURES, IdfTable, relevance_features
from reranker.core.tree_ensemble import TreeEnsemble
from reranker.core.types import Candidates, FloatArray
from reranker.core.weights import FusionWeights

__all__ = ["FORMAT", "RelevanceModel"]

FORMAT = "divrank-relevance/1"


@dataclass(frozen=True)
class RelevanceModel:
    """Scores a window; higher = more relevant (a gain in [0, 1], not a probability)."""

    booster: lightgbm.Booster
    idf: IdfTable
    version: str
    metadata: Mapping[str, Any]
    # fusion weights tuned on validation for this model's scores (`divrank tune --objective
    # learned`); None = the core's defaults
    fusion_weights: FusionWeights | None = None
    # how sharply ``score`` curves the scores into gains (``normalize.learned_gains``; fitted
    # on validation by `divrank fit-gain`); 0 = linear
    gain_temperature: float = 0.0
    # the booster's trees compiled for serving (``tree_ensemble``): same scores, a fraction of
    # the call cost; None when the model has splits the kernel cannot walk (then the booster)
    trees: TreeEnsemble | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        t = self.gain_temperature
        number = isinstance(t, int | float) and not isinstance(t, bool)
        if not number or not 0 <= t <= MAX_GAIN_TEMPERATURE:
            raise ValueError(
                f"field 'gain_temperature' must be a number in [0, {MAX_GAIN_TEMPERATURE:g}], "
                f"got {t!r}"
            )
        if self.trees is None:
            try:
                compiled = TreeEnsemble.from_lightgbm_text(self.booster.model_to_string())
            except ValueError:
                compiled = None
            object.__setattr__(self, "trees", compiled)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RelevanceModel:
        """Check the format and the feature list, then build the booster from its text."""
        if data.get("format") != FORMAT:
            raise ValueError(f"format is {data.get('format')!r}, expected {FORMAT!r}")
        features = tuple(data.get("features", ()))
        if features != RELEVANCE_FEATURES:
            raise ValueError(
                f"the model was trained on features {list(features)}; this version computes "
                f"{list(RELEVANCE_FEATURES)}: retrain it with `divrank train-relevance`"
            )
        text = data.get("lightgbm")
        idf = data.get("idf")
        if not isinstance(text, str) or not text.startswith("tree"):
            raise ValueError("field 'lightgbm' must hold a LightGBM model as text")
        if not isinstance(idf, dict):
            raise ValueError("field 'idf' must map tokens to weights")
        try:
            booster = lightgbm.Booster(model_str=text)
        except lightgbm.basic.LightGBMError as exc:
            raise ValueError(f"field 'lightgbm' is not a valid LightGBM model: {exc}") from exc
        if booster.num_feature() != len(RELEVANCE_FEATURES):
            raise ValueError(
                f"the LightGBM model reads {booster.num_feature()} features, "
                f"expected {len(RELEVANCE_FEATURES)}"
            )
        return cls(
            booster=booster,
            idf=IdfTable(idf, float(data.get("unseen_idf", 0.0))),
            version=str(data.get("version", "relevance")),
            metadata=dict(data.get("metadata", {})),
            gain_temperature=data.get("gain_temperature", 0.0),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": self.version,
            "features": list(RELEVANCE_FEATURES),
            "unseen_idf": self.idf.unseen,
            "idf": self.idf.idf,
            "metadata": dict(self.metadata),
            "gain_temperature": self.gain_temperature,
            "lightgbm": self.booster.model_to_string(),
        }

    def predict(self, features: np.ndarray) -> FloatArray:
        if features.shape[0] == 0:
            return np.zeros(0, dtype=np.float32)
        if self.trees is not None:
            return self.trees.predict(features).astype(np.float32)
        return np.asarray(self.booster.predict(features, num_threads=1), dtype=np.float32)

    def score(
        self,
        query: str,
        titles: Sequence[str | None],
        candidates: Candidates,
        query_vector: FloatArray | None = None,
    ) -> FloatArray:
        """Learned relevance of each candidate as a gain in [0, 1] (engine order in, one per
        candidate; ``predict`` gives the raw ranking scores)."""
        raw = self.predict(relevance_features(query, titles, candidates, self.idf, query_vector))
        return learned_gains(raw, self.gain_temperature)
