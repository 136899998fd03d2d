"""Request and response bodies of the sidecar's HTTP API (``docs/api.md``, ``/v1``).

Types, ranges and finiteness are checked here by pydantic; limits that come from settings
(``max_candidates``, ``max_dimension``) arrive through the validation context, and checks that
span several fields (``k``, duplicate ids, dimensions) live in ``validation.py``. Unknown
candidate fields are ignored so the plugin may send more than we read.

A candidate's vector may come as a JSON array (``embedding``) or as base64 of little-endian
float32 (``embedding_b64``): the compact form is a third of the bytes and decodes with
``np.frombuffer``, with no Python float per number (that parse dominated the request's cost).
The texts are decoded after validation, the window's in one pass (``base64_vectors.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PrivateAttr,
    ValidationInfo,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from reranker.app.base64_vectors import decode_one
from reranker.contract import DEFAULT_DIVERSITY, MAX_HISTORY, STRATEGIES

__all__ = [
    "MAX_ID_LENGTH",
    "Base64Vector",
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

MAX_ID_LENGTH = 512
MAX_LABEL_LENGTH = 512
MAX_QUERY_LENGTH = 2048
MAX_TITLE_LENGTH = 2048
# OpenSearch index and alias names: lowercase, no wildcards, commas or leading '_'/'-'/'+'.
INDEX_NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,254}$"

StrategyName = Literal[STRATEGIES]  # type: ignore[valid-type]
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


class _Float32Base64:
    """Pydantic hook for ``Base64Vector``: a strict JSON string, documented as base64 float32.
    It is decoded after validation, for the whole window at once (``base64_vectors.py``)."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.str_schema(strict=True)

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "string",
            "contentEncoding": "base64",
            "description": "base64 of the embedding as little-endian float32 (4 bytes a number)",
        }


Base64Vector = Annotated[str, _Float32Base64()]


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
    embedding_b64: Base64Vector | None = None
    category: Label | None = Field(None, description="Path with '/' between levels")
    brand: Label | None = None
    price: float | None = None
    title: str | None = Field(
        None, max_length=MAX_TITLE_LENGTH, description="For the learned relevance model"
    )
    popularity: float | None = Field(
        None, ge=0.0, description="Item prior from the shop's events (any scale, e.g. buyers)"
    )

    @field_validator("embedding")
    @classmethod
    def _embedding_dimension(cls, vector: Vector | None, info: ValidationInfo) -> Vector | None:
        return None if vector is None else _check_dimension(vector, info)

    @field_validator("embedding_b64")
    @classmethod
    def _one_vector(cls, text: str | None, info: ValidationInfo) -> str | None:
        if text is not None and info.data.get("embedding") is not None:
            raise PydanticCustomError(
                "embedding_conflict", "send either embedding or embedding_b64, not both"
            )
        return text

    @property
    def vector(self) -> np.ndarray | Vector | None:
        """The candidate's vector in whichever form it came."""
        if self.embedding_b64 is None:
            return self.embedding
        # parse_rerank_request decodes the window at once (RerankRequest.vectors); this is for
        # a candidate built some other way
        return decode_one(self.embedding_b64, Limits().max_dimension)

    @property
    def vector_field(self) -> str:
        return "embedding_b64" if self.embedding_b64 is not None else "embedding"


class Knobs(BaseModel):
    """Unknown knobs are rejected: a misspelt knob must not be silently ignored."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid", strict=True)

    diversity: float = Field(
        DEFAULT_DIVERSITY, ge=0.0, le=1.0, description="0 = relevance only, 1 = most diverse"
    )
    strategy: StrategyName = "fusion"
    explain: bool = False
    max_per_brand: int | None = Field(None, ge=1)
    max_per_category: int | None = Field(None, ge=1)
    duplicate_threshold: float | None = Field(
        None, gt=0.0, le=1.0, description="Cosine above which two items are near-duplicates"
    )
    dpp_window: int | None = Field(None, ge=1, description="Sliding-window DPP for long pages")
    relevance_model: bool = Field(
        True,
        description="Rank by the learned relevance model (when the sidecar has one and the "
        "request carries a query and titles); false = by the engine's scores",
    )


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
    page_size: int | None = Field(
        None,
        ge=1,
        description="Caps and label pressure count per page of this many (default k). For page "
        "n of size s send k = n*s and page_size = s: the first picks are then the earlier pages'",
    )
    knobs: Knobs = Field(default_factory=lambda: Knobs())
    # the candidates' vectors, base64 ones decoded (validation.decode_vectors), and their
    # (n, d) matrix when every candidate sent base64 of one dimension
    _vectors: list[np.ndarray | Vector | None] | None = PrivateAttr(default=None)
    _matrix: np.ndarray | None = PrivateAttr(default=None)

    def vectors(self) -> list[np.ndarray | Vector | None]:
        """Each candidate's vector in whichever form it came, ``None`` where none came."""
        decoded = self._vectors
        return decoded if decoded is not None else [c.vector for c in self.candidates]

    def vector_matrix(self) -> np.ndarray | None:
        """All the window's vectors as one read-only (n, d) float32 matrix, when they came so."""
        return self._matrix

    def set_vectors(
        self, vectors: list[np.ndarray | Vector | None], matrix: np.ndarray | None
    ) -> None:
        self._vectors = vectors
        self._matrix = matrix

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
