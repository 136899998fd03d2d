"""Request and response bodies of the sidecar's HTTP API (``docs/api.md``, ``/v1``).

Types, ranges and finiteness are checked here by pydantic; limits that come from settings
(``max_candidates``, ``max_dimension``) arrive through the validation context, and checks that
span several fields (``k``, duplicate ids, dimensions) live in ``validation.py``. Unknown
candidate fields are ignored so the plugin may send more than we read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "MAX_HISTORY",
    "MAX_ID_LENGTH",
    "Candidate",
    "Explanation",
    "HeldBack",
    "History",
    "Knobs",
    "Limits",
    "RerankRequest",
    "RerankResponse",
    "StrategyName",
    "User",
]

MAX_HISTORY = 500  # inline history items or vectors per request
MAX_ID_LENGTH = 512
MAX_LABEL_LENGTH = 512
MAX_QUERY_LENGTH = 2048
# OpenSearch index and alias names: lowercase, no wildcards, commas or leading '_'/'-'/'+'.
INDEX_NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,254}$"

StrategyName = Literal["engine", "personalized", "mmr", "dpp", "fusion"]
ItemId = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)]
Label = Annotated[str, Field(max_length=MAX_LABEL_LENGTH)]
Vector = list[float]


@dataclass(frozen=True)
class Limits:
    """Settings-dependent limits, passed as the pydantic validation context."""

    max_candidates: int = 1000
    max_dimension: int = 4096


def _limits(info: ValidationInfo) -> Limits:
    context = info.context
    return context if isinstance(context, Limits) else Limits()


def _check_dimension(vector: Vector, info: ValidationInfo) -> Vector:
    limit = _limits(info).max_dimension
    if not vector:
        raise PydanticCustomError("empty_vector", "an embedding needs at least one number")
    if len(vector) > limit:
        raise PydanticCustomError(
            "dimension_too_large",
            "embedding has {dimension} numbers, the limit is {limit}",
            {"dimension": len(vector), "limit": limit},
        )
    return vector


class _Lenient(BaseModel):
    """Unknown fields are ignored (a newer client may send more than this version reads);
    types are strict: a number must be a JSON number, never a string or a boolean."""

    model_config = ConfigDict(allow_inf_nan=False, extra="ignore", strict=True)


class History(_Lenient):
    """Inline history: item ids (looked up in ``index``) and/or embedding vectors."""

    item_ids: list[ItemId] = Field(default_factory=list, max_length=MAX_HISTORY)
    vectors: list[Vector] = Field(default_factory=list, max_length=MAX_HISTORY)

    @field_validator("vectors")
    @classmethod
    def _vector_dimensions(cls, vectors: list[Vector], info: ValidationInfo) -> list[Vector]:
        for vector in vectors:
            _check_dimension(vector, info)
        return vectors


class User(_Lenient):
    id: ItemId | None = Field(None, description="Stored profile id; unknown = no personalization")
    history: History | None = None


class Candidate(_Lenient):
    """One engine hit. Extra fields (``_source`` leftovers) are accepted and ignored."""

    id: ItemId
    score: float | None = Field(None, description="Engine score; null = missing")
    embedding: Vector | None = None
    category: Label | None = Field(None, description="Path with '/' between levels")
    brand: Label | None = None
    price: float | None = None

    @field_validator("embedding")
    @classmethod
    def _embedding_dimension(cls, vector: Vector | None, info: ValidationInfo) -> Vector | None:
        return None if vector is None else _check_dimension(vector, info)


class Knobs(BaseModel):
    """Unknown knobs are rejected: a misspelt knob must not be silently ignored."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid", strict=True)

    diversity: float = Field(
        0.5, ge=0.0, le=1.0, description="0 = relevance only, 1 = most diverse"
    )
    strategy: StrategyName = "fusion"
    explain: bool = False
    max_per_brand: int | None = Field(None, ge=1)
    max_per_category: int | None = Field(None, ge=1)
    duplicate_threshold: float | None = Field(
        None, gt=0.0, le=1.0, description="Cosine above which two items are near-duplicates"
    )
    dpp_window: int | None = Field(None, ge=1, description="Sliding-window DPP for long pages")


class RerankRequest(_Lenient):
    query: str | None = Field(None, max_length=MAX_QUERY_LENGTH)
    index: str | None = Field(
        None,
        pattern=INDEX_NAME_PATTERN,
        description="Index or alias to look up missing embeddings (and history items) by id",
    )
    user: User | None = None
    candidates: list[Candidate] = Field(min_length=1)
    k: int | None = Field(None, ge=1, description="Page size; default min(10, candidates)")
    knobs: Knobs = Field(default_factory=lambda: Knobs())

    @field_validator("candidates")
    @classmethod
    def _candidate_count(cls, candidates: list[Candidate], info: ValidationInfo) -> list[Candidate]:
        limit = _limits(info).max_candidates
        if len(candidates) > limit:
            raise PydanticCustomError(
                "too_many_candidates",
                "{count} candidates, the limit is {limit}",
                {"count": len(candidates), "limit": limit},
            )
        return candidates


class HeldBack(BaseModel):
    """The higher-scoring candidate a cap or near-duplicate rule kept off this slot."""

    id: str
    engine_rank: int
    score: float
    reasons: list[str]


class Explanation(BaseModel):
    """Why an item is where it is; ``terms`` add up to ``fused``."""

    id: str
    fused: float
    terms: dict[str, float] = Field(default_factory=dict)
    decisions: list[str] = Field(
        default_factory=list, description="Caps relaxed for this pick, candidates held back"
    )
    engine_rank: int | None = Field(None, description="Position in the engine's order")
    features: dict[str, float] | None = Field(None, description="Raw feature values (fusion)")
    held_back: HeldBack | None = None
    limits: dict[str, float | int | None] | None = Field(
        None, description="Caps and near-duplicate threshold in force"
    )


class RerankResponse(BaseModel):
    ids: list[str]
    scores: list[float]
    strategy: StrategyName
    model_version: str
    explanations: list[Explanation] | None = Field(
        None, description="Present only when knobs.explain is true"
    )
    degraded: list[str] | None = Field(
        None, description="Present when a look-up failed and the answer used less information"
    )
