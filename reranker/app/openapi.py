"""OpenAPI document: adds the rerank request schema, which the route parses by hand.

``/v1/rerank`` reads raw bytes and validates them with pydantic's JSON parser (see
``validation.py``), so FastAPI cannot infer the body schema; it is published here instead.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from reranker.app.schemas import RerankRequest

__all__ = ["install_openapi"]


def install_openapi(app: FastAPI) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            request_schema = RerankRequest.model_json_schema(
                ref_template="#/components/schemas/{model}", mode="validation"
            )
            schemas = doc.setdefault("components", {}).setdefault("schemas", {})
            for name, sub in request_schema.pop("$defs", {}).items():
                schemas.setdefault(name, sub)
            schemas["RerankRequest"] = request_schema
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]
