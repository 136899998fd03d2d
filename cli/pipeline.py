"""Register the ``divrank`` search pipeline on the engine and make it an index default.

The pipeline pairs the plugin's two processors: ``divrank_window`` (request: fetch the
re-ranking window, remember the caller's page) and ``divrank`` (response: post the window to the
sidecar, apply its order, cut the page, fail open). With ``index.search.default_pipeline`` set
on an index, a frontend's unchanged search is re-ranked; ``?search_pipeline=divrank`` works
either way. The indexer calls :func:`set_default` after an alias swap so a new index version
keeps the pipeline.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError, RequestError, TransportError

from indexer.items import ID_FIELD
from reranker.contract import DEFAULT_DIVERSITY, STRATEGIES

__all__ = [
    "DEFAULT_PIPELINE_SETTING",
    "PipelineConfig",
    "PipelineError",
    "byte_vectors",
    "clear_default",
    "delete",
    "get",
    "install",
    "lean_window_ready",
    "pipeline_body",
    "resolve_indices",
    "set_default",
]

DEFAULT_PIPELINE_SETTING = "index.search.default_pipeline"


class PipelineError(RuntimeError):
    """A pipeline operation the engine refused; the message says what and where."""


@dataclass(frozen=True)
class PipelineConfig:
    """Processor settings; each maps to one key of the plugin's processor config."""

    name: str = "divrank"
    # one URL, or several (the plugin spreads requests over them and skips dead ones)
    sidecar_url: str | tuple[str, ...] = "http://127.0.0.1:8600"
    connect_timeout_ms: int = 200
    read_timeout_ms: int = 1000
    window_size: int = 100
    default_diversity: float = DEFAULT_DIVERSITY
    default_strategy: str = "fusion"
    fail_open: bool = True
    send_embeddings: bool = True
    embedding_field: str = "embedding"
    category_field: str = "category"
    brand_field: str = "brand"
    price_field: str = "price"
    title_field: str = "title"  # for the sidecar's learned relevance model
    popularity_field: str = "popularity"  # the item prior, for personalisation
    # the window from doc values only, the page's _source read after re-ranking (needs the
    # indexer's item_id field: see lean_window_ready)
    lean_window: bool = False
    # float k-NN query vectors on embedding_field quantised to int8 by the plugin (indices
    # written with --storage byte: see byte_vectors)
    byte_query_vectors: bool = False

    def __post_init__(self) -> None:
        # The plugin validates too (400 at creation); failing here names the CLI option.
        if not self.name or self.name.startswith(("_", "-")) or "," in self.name:
            raise ValueError(f"pipeline name {self.name!r} is not a valid name")
        urls = (self.sidecar_url,) if isinstance(self.sidecar_url, str) else self.sidecar_url
        if not 1 <= len(urls) <= 16:
            raise ValueError(f"give 1 to 16 sidecar URLs, got {len(urls)}")
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"sidecar_url {url!r} must start with http:// or https://")
        for key in ("connect_timeout_ms", "read_timeout_ms"):
            value = getattr(self, key)
            if not 1 <= value <= 60_000:
                raise ValueError(f"{key} must be in [1, 60000] ms, got {value}")
        if not 1 <= self.window_size <= 1000:
            raise ValueError(f"window_size must be in [1, 1000], got {self.window_size}")
        if not 0.0 <= self.default_diversity <= 1.0:
            raise ValueError(f"default_diversity must be in [0, 1], got {self.default_diversity}")
        if self.default_strategy not in STRATEGIES:
            raise ValueError(
                f"default_strategy {self.default_strategy!r}: use one of {', '.join(STRATEGIES)}"
            )


def pipeline_body(config: PipelineConfig) -> dict[str, Any]:
    """The ``PUT _search/pipeline/<name>`` body for ``config``."""
    window_keys = ("name", "window_size", "lean_window", "byte_query_vectors")
    response = {k: v for k, v in asdict(config).items() if k not in window_keys}
    if not isinstance(config.sidecar_url, str):
        urls = list(config.sidecar_url)
        response["sidecar_url"] = urls[0] if len(urls) == 1 else urls
    window: dict[str, Any] = {"window_size": config.window_size}
    if not config.send_embeddings:
        # The sidecar looks vectors up by id: the window fetch can leave them out of _source.
        window["exclude_from_window"] = [config.embedding_field]
    if config.embedding_field != "embedding" or config.byte_query_vectors:
        # the field the window fetches as binary (and quantises queries on); "embedding" is
        # the processor's own default
        window["vector_field"] = config.embedding_field
    if config.byte_query_vectors:
        window["byte_query_vectors"] = True
    if config.lean_window:
        window["lean_window"] = True
        window["lean_fields"] = {
            "id": ID_FIELD,
            "category": config.category_field,
            "brand": config.brand_field,
            "price": config.price_field,
            "title": f"{config.title_field}.raw",
            "popularity": config.popularity_field,
        }
    return {
        "description": "divrank: personalization + diversity re-ranking through the sidecar",
        "request_processors": [{"divrank_window": window}],
        "response_processors": [{"divrank": response}],
    }


def _reason(exc: TransportError) -> str:
    info = exc.info if isinstance(exc.info, dict) else {}
    error = info.get("error")
    if isinstance(error, dict):
        return str(error.get("reason") or error)
    return str(error or exc.error)


def install(client: OpenSearch, config: PipelineConfig) -> dict[str, Any]:
    """Create or replace the pipeline; returns the body sent."""
    body = pipeline_body(config)
    try:
        client.transport.perform_request("PUT", f"/_search/pipeline/{config.name}", body=body)
    except TransportError as exc:
        reason = _reason(exc)
        if "divrank" in reason and ("No processor type" in reason or "not found" in reason):
            reason += " (is the divrank plugin installed? `divrank engine up --reinstall-plugin`)"
        raise PipelineError(
            f"OpenSearch refused search pipeline {config.name!r} ({exc.status_code}): {reason}"
        ) from None
    return body


def get(client: OpenSearch, name: str = "divrank") -> dict[str, Any] | None:
    """The stored pipeline definition, or None when there is none."""
    try:
        found = client.transport.perform_request("GET", f"/_search/pipeline/{name}")
    except NotFoundError:
        return None
    definition = found.get(name) if isinstance(found, dict) else None
    return definition if isinstance(definition, dict) else None


def delete(client: OpenSearch, name: str = "divrank") -> bool:
    """Delete the pipeline; False when it did not exist."""
    try:
        client.transport.perform_request("DELETE", f"/_search/pipeline/{name}")
    except NotFoundError:
        return False
    return True


def resolve_indices(client: OpenSearch, target: str) -> list[str]:
    """Concrete indices behind an alias (or the index itself)."""
    try:
        if client.indices.exists_alias(name=target):
            return sorted(client.indices.get_alias(name=target))
        if client.indices.exists(index=target):
            return sorted(client.indices.get(index=target))
    except RequestError as exc:
        raise PipelineError(
            f"{target!r} is not a valid alias or index name: {_reason(exc)}"
        ) from None
    raise PipelineError(f"no alias or index named {target!r} on the engine")


def lean_window_ready(client: OpenSearch, target: str) -> bool:
    """Whether every index behind ``target`` maps ``item_id`` as a keyword with doc values (the
    divrank indexer writes it), so a lean window can read each hit's id without stored fields."""
    mappings = _mappings(client, target)
    for body in mappings.values():
        field = body.get("mappings", {}).get("properties", {}).get(ID_FIELD, {})
        if field.get("type") != "keyword" or field.get("doc_values") is False:
            return False
    return bool(mappings)


def _mappings(client: OpenSearch, target: str) -> dict[str, Any]:
    try:
        found: dict[str, Any] = client.indices.get_mapping(
            index=",".join(resolve_indices(client, target))
        )
    except TransportError as exc:
        raise PipelineError(f"could not read the mapping of {target!r}: {_reason(exc)}") from None
    return found


def byte_vectors(client: OpenSearch, target: str, field: str = "embedding") -> bool:
    """Whether every index behind ``target`` stores ``field`` as byte vectors (``divrank index
    --storage byte``): their k-NN queries take int8 vectors only."""
    mappings = _mappings(client, target)
    for body in mappings.values():
        mapped = body.get("mappings", {}).get("properties", {}).get(field, {})
        if str(mapped.get("data_type", "float")).lower() != "byte":
            return False
    return bool(mappings)


def _put_setting(client: OpenSearch, indices: list[str], value: str | None) -> None:
    try:
        client.indices.put_settings(
            index=",".join(indices), body={"index": {"search.default_pipeline": value}}
        )
    except TransportError as exc:
        raise PipelineError(
            f"could not set {DEFAULT_PIPELINE_SETTING} on {', '.join(indices)} "
            f"({exc.status_code}): {_reason(exc)}"
        ) from None


def set_default(client: OpenSearch, target: str, name: str = "divrank") -> list[str]:
    """Make pipeline ``name`` the default of every index behind ``target``; returns them."""
    if get(client, name) is None:
        raise PipelineError(
            f"search pipeline {name!r} does not exist; create it first (`divrank pipeline install`)"
        )
    indices = resolve_indices(client, target)
    _put_setting(client, indices, name)
    return indices


def clear_default(client: OpenSearch, target: str) -> list[str]:
    """Remove the default pipeline from every index behind ``target``; returns them."""
    indices = resolve_indices(client, target)
    _put_setting(client, indices, None)
    return indices
