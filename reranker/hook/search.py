"""``divrank_search``: the plugin's behaviour, client-side, for engines without search pipelines.

Elasticsearch (or any engine whose client has ``search(index=..., body=...)``) runs the
caller's query with a widened window; the window goes to the same re-ranking the plugin uses
(the sidecar over HTTP, or its service in process); the caller's page is cut out of the one
re-ranked order, so ``from``/``size`` pages inside the window never repeat or skip a hit.

Exactly like the plugin (``plugin/README.md``):

- passed through untouched, with ``ext.divrank.reason``: ``size_zero``, ``search_after``,
  ``explicit_sort`` (anything but ``_score`` descending), ``page_beyond_window``, ``scroll``;
  ``no_hits_in_page`` when the window has no hit at ``from``;
- fail-open: when re-ranking fails the page is the engine's order with ``degraded: true`` and
  the reason; ``fail_open=False`` raises :class:`DivrankUnavailable` instead;
- the vector field is removed from ``_source`` unless the caller listed it in ``_source``
  includes; the caller's ``_source`` filter is re-applied to the page;
- ``ext.divrank``: ``applied``, ``degraded``, ``reason``, ``strategy``, ``diversity``,
  ``model_version``, ``window``, ``took_ms``, ``sidecar_ms``; with ``explain``, each hit gets
  ``fields._divrank``.

Example::

    from elasticsearch import Elasticsearch
    from reranker.hook import SidecarClient, divrank_search

    es = Elasticsearch("http://127.0.0.1:9400")
    page = divrank_search(es, "products", {"query": {"match": {"title": "toner"}}, "size": 10},
                          user_id="u42", diversity=0.6, reranker=SidecarClient())
"""

from __future__ import annotations

import base64
import copy
import fnmatch
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from reranker.contract import DEFAULT_DIVERSITY
from reranker.hook.backends import RerankBackend, RerankFailure, SidecarClient
from reranker.hook.knobs import DivrankRequestError, HookKnobs, parse_ext
from reranker.hook.query_text import query_text

__all__ = ["DEFAULT_SIZE", "DivrankUnavailable", "HookConfig", "SearchClient", "divrank_search"]

DEFAULT_SIZE = 10
EXPLANATION_FIELD = "_divrank"
_INDEX_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,254}$")
_MAX_LABEL = 512
MAX_TITLE_CHARS = 512  # as the plugin: the relevance features read the first words


class SearchClient(Protocol):
    def search(self, *, index: str, body: dict[str, Any]) -> Any: ...


class DivrankUnavailable(RuntimeError):
    """Re-ranking failed and ``fail_open`` is off (the plugin answers 502/503)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"divrank re-ranking failed [{reason}]: {message} (fail_open is false)")
        self.reason = reason


@dataclass(frozen=True)
class HookConfig:
    """The plugin's processor settings, for the client side."""

    window_size: int = 100
    vector_field: str = "embedding"
    category_field: str = "category"
    brand_field: str = "brand"
    price_field: str = "price"
    title_field: str = "title"  # sent for the sidecar's learned relevance model
    send_embeddings: bool = True
    default_diversity: float = DEFAULT_DIVERSITY
    default_strategy: str = "fusion"
    fail_open: bool = True


@dataclass(frozen=True)
class _Plan:
    start: int
    size: int
    window: int
    skip: str | None
    caller_source: Any  # the caller's _source (None = not given)


def _merge_knobs(body: dict[str, Any], overrides: dict[str, Any]) -> HookKnobs:
    ext = body.get("ext")
    block: dict[str, Any] = {}
    if isinstance(ext, Mapping) and "divrank" in ext:
        raw = ext["divrank"]
        if not isinstance(raw, Mapping):
            raise DivrankRequestError("[ext.divrank] must be an object")
        block.update(raw)
        rest = {k: v for k, v in ext.items() if k != "divrank"}
        if rest:
            body["ext"] = rest
        else:
            del body["ext"]
    block.update({k: v for k, v in overrides.items() if v is not None})
    return parse_ext(block)


def _int_field(body: Mapping[str, Any], key: str, default: int) -> int:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise DivrankRequestError(f"[{key}] must be a non-negative integer, got [{value}]")
    return value


def _score_order(sort: Any) -> bool:
    if sort is None or sort == []:
        return True
    items = sort if isinstance(sort, list) else [sort]
    if len(items) != 1:
        return False
    only = items[0]
    if only == "_score":
        return True
    if isinstance(only, Mapping) and list(only) == ["_score"]:
        spec = only["_score"]
        order = spec.get("order", "desc") if isinstance(spec, Mapping) else spec
        return order == "desc"
    return False


def _plan(body: Mapping[str, Any], window: int, scroll: bool) -> _Plan:
    start = _int_field(body, "from", 0)
    size = _int_field(body, "size", DEFAULT_SIZE)
    skip = None
    if scroll:
        skip = "scroll"
    elif size == 0:
        skip = "size_zero"
    elif body.get("search_after"):
        skip = "search_after"
    elif not _score_order(body.get("sort")):
        skip = "explicit_sort"
    elif start + size > window:
        skip = "page_beyond_window"
    return _Plan(start, size, window, skip, body.get("_source"))


def _includes_excludes(source: Any) -> tuple[list[str], list[str], bool]:
    """(includes, excludes, fetch) of a ``_source`` value in any of its request forms."""
    if source is None or source is True:
        return [], [], True
    if source is False:
        return [], [], False
    if isinstance(source, str):
        return [source], [], True
    if isinstance(source, list):
        return [str(s) for s in source], [], True
    if isinstance(source, Mapping):
        inc = source.get("includes", source.get("include", []))
        exc = source.get("excludes", source.get("exclude", []))
        inc = [inc] if isinstance(inc, str) else list(inc or [])
        exc = [exc] if isinstance(exc, str) else list(exc or [])
        return inc, exc, True
    return [], [], True


def _filter_source(source: dict[str, Any], includes: list[str], excludes: list[str]) -> dict:
    """Apply a ``_source`` includes/excludes filter (dotted paths, ``*`` wildcards)."""

    def matches(path: str, patterns: list[str]) -> bool:
        return any(fnmatch.fnmatchcase(path, pat) for pat in patterns)

    def walk(node: dict[str, Any], prefix: str, included: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in node.items():
            path = f"{prefix}{key}"
            if matches(path, excludes):
                continue
            inside = included or matches(path, includes)
            if inside:
                out[key] = walk(value, path + ".", True) if isinstance(value, dict) else value
            elif isinstance(value, dict) and any(
                pat.startswith(path + ".") or pat.startswith("*") for pat in includes
            ):
                inner = walk(value, path + ".", False)
                if inner:
                    out[key] = inner
        return out

    return walk(source, "", not includes)


def _label(value: Any) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= _MAX_LABEL else None


def _vector_b64(value: Any) -> str | None:
    if not isinstance(value, list) or not value:
        return None
    try:
        vec = np.asarray(value, dtype="<f4")
    except (TypeError, ValueError):
        return None
    if vec.ndim != 1 or not np.isfinite(vec).all():
        return None
    return base64.b64encode(vec.tobytes()).decode("ascii")


def _candidate(hit: Mapping[str, Any], config: HookConfig) -> dict[str, Any]:
    source = hit.get("_source") or {}
    score = hit.get("_score")
    cand: dict[str, Any] = {
        "id": str(hit["_id"]),
        "score": float(score) if isinstance(score, int | float) and math.isfinite(score) else None,
    }
    if config.send_embeddings:
        b64 = _vector_b64(source.get(config.vector_field))
        if b64 is not None:
            cand["embedding_b64"] = b64
    for key, field in (("category", config.category_field), ("brand", config.brand_field)):
        label = _label(source.get(field))
        if label is not None:
            cand[key] = label
    price = source.get(config.price_field)
    if isinstance(price, int | float) and not isinstance(price, bool) and math.isfinite(price):
        cand["price"] = float(price)
    title = source.get(config.title_field)
    if isinstance(title, list):
        title = title[0] if title else None
    if isinstance(title, str) and title:
        cand["title"] = title[:MAX_TITLE_CHARS]
    return cand


def _payload(
    hits: Sequence[Mapping[str, Any]],
    index: str,
    query: str | None,
    knobs: HookKnobs,
    config: HookConfig,
    page_end: int,
    page_size: int,
) -> dict[str, Any]:
    """The rerank body; the sidecar ranks up to the page's end, counting caps per page, so a
    deep page's first picks are the earlier pages' (the plugin sends the same)."""
    ids = [str(hit["_id"]) for hit in hits]
    if len(set(ids)) != len(ids):
        repeated = next(i for i in ids if ids.count(i) > 1)
        raise RerankFailure(
            "duplicate_ids", f"hit id [{repeated}] occurs twice in the window (several indices?)"
        )
    payload: dict[str, Any] = {
        "candidates": [_candidate(hit, config) for hit in hits],
        "k": max(1, min(len(hits), page_end)),
        "page_size": max(1, min(len(hits), page_size)),
        "knobs": {
            "diversity": knobs.diversity
            if knobs.diversity is not None
            else config.default_diversity,
            "strategy": knobs.strategy or config.default_strategy,
            "explain": bool(knobs.explain),
        },
    }
    for key in ("max_per_brand", "max_per_category", "relevance_model"):
        if getattr(knobs, key) is not None:
            payload["knobs"][key] = getattr(knobs, key)
    if query:
        payload["query"] = query
    if _INDEX_NAME.match(index):
        payload["index"] = index
    if knobs.user_id is not None or knobs.history:
        user: dict[str, Any] = {}
        if knobs.user_id is not None:
            user["id"] = knobs.user_id
        if knobs.history:
            user["history"] = {"item_ids": list(knobs.history)}
        payload["user"] = user
    return payload


def _check_reply(reply: Mapping[str, Any], window_ids: set[str]) -> list[str]:
    ids = reply.get("ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise RerankFailure("sidecar_bad_reply", "reply has no list of string ids")
    if len(set(ids)) != len(ids):
        raise RerankFailure("sidecar_bad_reply", "reply repeats an id")
    if not set(ids) <= window_ids:
        raise RerankFailure("sidecar_bad_reply", "reply names ids outside the window")
    return ids


def _as_dict(response: Any) -> dict[str, Any]:
    body = getattr(response, "body", response)  # elasticsearch-py wraps it in ObjectApiResponse
    if not isinstance(body, Mapping):
        raise TypeError(f"search returned {type(body).__name__}, expected a JSON object")
    return dict(body)


def divrank_search(
    client: SearchClient,
    index: str,
    body: Mapping[str, Any] | None = None,
    *,
    user_id: str | None = None,
    diversity: float | None = None,
    strategy: str | None = None,
    explain: bool | None = None,
    history: Sequence[str] | None = None,
    window_size: int | None = None,
    max_per_brand: int | None = None,
    max_per_category: int | None = None,
    relevance_model: bool | None = None,
    reranker: RerankBackend | None = None,
    config: HookConfig | None = None,
    scroll: bool = False,
) -> dict[str, Any]:
    """Search ``index`` with ``body`` and return the re-ranked page as a response dict.

    Knobs come from ``body["ext"]["divrank"]`` (the plugin's request format) and from the
    keyword arguments, which win. ``reranker`` defaults to the sidecar at
    ``http://127.0.0.1:8600``. Raises :class:`DivrankRequestError` for bad knobs (before any
    search), the client's own errors when the search itself fails, and
    :class:`DivrankUnavailable` only with ``config.fail_open=False``.
    """
    started = time.perf_counter()
    config = config or HookConfig()
    request = copy.deepcopy(dict(body or {}))
    knobs = _merge_knobs(
        request,
        {
            "user_id": user_id,
            "diversity": diversity,
            "strategy": strategy,
            "explain": explain,
            "history": None if history is None else {"item_ids": list(history)},
            "window_size": window_size,
            "max_per_brand": max_per_brand,
            "max_per_category": max_per_category,
            "relevance_model": relevance_model,
        },
    )
    window = knobs.window_size or config.window_size
    plan = _plan(request, window, scroll)
    diversity_used = knobs.diversity if knobs.diversity is not None else config.default_diversity
    strategy_used = knobs.strategy or config.default_strategy

    def ext(**fields: Any) -> dict[str, Any]:
        block = {
            "applied": False,
            "degraded": False,
            "reason": None,
            "strategy": None,
            "diversity": None,
            "model_version": None,
            "window": 0,
            "took_ms": int((time.perf_counter() - started) * 1000),
            "sidecar_ms": 0,
        }
        block.update(fields)
        return block

    if plan.skip is not None:
        response = _as_dict(client.search(index=index, body=request))
        return _with_ext(response, response.get("hits", {}).get("hits", []), ext(reason=plan.skip))

    includes, excludes, fetch = _includes_excludes(plan.caller_source)
    window_request = dict(request, **{"from": 0, "size": window})
    if plan.caller_source is not None:
        window_request["_source"] = True  # the re-ranking needs vector, category, brand, price
    response = _as_dict(client.search(index=index, body=window_request))
    hits: list[dict[str, Any]] = list(response.get("hits", {}).get("hits", []))

    def shaped(order: list[dict[str, Any]], reply: Mapping[str, Any] | None) -> list[dict]:
        page = order[plan.start : plan.start + plan.size]
        explanations: dict[Any, Mapping[str, Any]] = {}
        scores: dict[Any, Any] = {}
        if reply is not None and knobs.explain:
            scores = dict(zip(reply.get("ids", []), reply.get("scores", []), strict=False))
            for item in reply.get("explanations") or []:
                explanations[item.get("id")] = item
        out = []
        for rank, hit in enumerate(page, start=plan.start):
            hit = dict(hit)
            source = hit.get("_source")
            if isinstance(source, dict):
                if not fetch:
                    hit.pop("_source", None)
                else:
                    if config.vector_field not in includes:
                        source = {k: v for k, v in source.items() if k != config.vector_field}
                    if includes or excludes:
                        source = _filter_source(source, includes, excludes)
                    hit["_source"] = source
            if reply is not None and knobs.explain:
                detail = {
                    k: v for k, v in (explanations.get(hit["_id"]) or {}).items() if k != "id"
                }
                detail.setdefault("fused", scores.get(hit["_id"]))
                detail["engine_score"] = hit.get("_score")
                detail["rank"] = rank
                hit["fields"] = {**(hit.get("fields") or {}), EXPLANATION_FIELD: [detail]}
            out.append(hit)
        return out

    if not hits or plan.start >= len(hits):
        return _with_ext(
            response, shaped(hits, None), ext(reason="no_hits_in_page", window=len(hits))
        )

    sidecar_started = time.perf_counter()
    backend = reranker or SidecarClient()
    try:
        payload = _payload(hits, index, query_text(request.get("query")), knobs, config,
                           plan.start + plan.size, plan.size)  # fmt: skip
        reply = backend.rerank(payload)
        ids = _check_reply(reply, {str(h["_id"]) for h in hits})
    except RerankFailure as failure:
        sidecar_ms = int((time.perf_counter() - sidecar_started) * 1000)
        if not config.fail_open:
            raise DivrankUnavailable(failure.reason, str(failure)) from failure
        page = shaped(hits, None)
        return _with_ext(
            response,
            page,
            ext(
                degraded=True,
                reason=failure.reason,
                strategy=strategy_used,
                diversity=diversity_used,
                window=len(hits),
                sidecar_ms=sidecar_ms,
            ),
        )
    sidecar_ms = int((time.perf_counter() - sidecar_started) * 1000)
    by_id = {str(h["_id"]): h for h in hits}
    order = [by_id.pop(i) for i in ids]
    order.extend(by_id.values())  # ids the re-ranking left out keep engine order after its list
    return _with_ext(
        response,
        shaped(order, reply),
        ext(
            applied=True,
            strategy=reply.get("strategy") or strategy_used,
            diversity=diversity_used,
            model_version=reply.get("model_version"),
            window=len(hits),
            sidecar_ms=sidecar_ms,
        ),
    )


def _with_ext(
    response: dict[str, Any], page: list[dict[str, Any]], block: dict[str, Any]
) -> dict[str, Any]:
    """The engine's response with the page as hits and ``ext.divrank`` set (other ext kept)."""
    out = dict(response)
    out["hits"] = {**(response.get("hits") or {}), "hits": page}
    out["ext"] = {**(response.get("ext") or {}), "divrank": block}
    return out
