"""An OpenSearch client from settings, and one clear error when the engine cannot be used.

Every indexer command starts with :func:`connect`, so an engine that is down, a wrong URL or
wrong credentials produce a single sentence naming the URL and what to do, never a stack trace
from deep inside a bulk call.
"""

from __future__ import annotations

from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import (
    AuthenticationException,
    AuthorizationException,
    ConnectionError,
    ConnectionTimeout,
    TransportError,
)

from config.settings import Settings

__all__ = ["EngineUnavailable", "connect", "connect_elasticsearch"]


class EngineUnavailable(RuntimeError):
    """The engine is unreachable or refuses our credentials."""


def connect(settings: Settings, url: str | None = None, timeout: float = 60.0) -> OpenSearch:
    """A client for ``url`` (default ``DIVRANK_OPENSEARCH_URL``), checked with one request."""
    target = (url or settings.opensearch_url).rstrip("/")
    auth = None
    if settings.opensearch_user:
        auth = (settings.opensearch_user, settings.opensearch_password or "")
    client = OpenSearch(
        hosts=[target],
        http_auth=auth,
        timeout=timeout,
        max_retries=2,
        retry_on_timeout=True,
        http_compress=False,
    )
    try:
        client.info()
    except (AuthenticationException, AuthorizationException):
        raise EngineUnavailable(
            f"OpenSearch at {target} refused the credentials (DIVRANK_OPENSEARCH_USER / "
            "DIVRANK_OPENSEARCH_PASSWORD)"
        ) from None
    except (ConnectionError, ConnectionTimeout):
        raise EngineUnavailable(
            f"cannot reach OpenSearch at {target}; start it with `divrank engine up` or set "
            "DIVRANK_OPENSEARCH_URL"
        ) from None
    except TransportError as exc:
        raise EngineUnavailable(
            f"OpenSearch at {target} answered {exc.status_code}: {exc.error}"
        ) from None
    return client


def connect_elasticsearch(settings: Settings, url: str | None = None, timeout: float = 60.0) -> Any:
    """An ``elasticsearch`` client for ``url`` (default ``DIVRANK_ELASTICSEARCH_URL``), checked.

    The check is ``_cluster/health``, not ``GET /``: the integ-test distribution we run locally
    leaves out the module that serves the root endpoint.
    """
    from elastic_transport import ConnectionError as EsConnectionError
    from elastic_transport import ConnectionTimeout as EsConnectionTimeout
    from elasticsearch import ApiError, Elasticsearch
    from elasticsearch import AuthenticationException as EsAuth
    from elasticsearch import AuthorizationException as EsAuthz

    target = (url or settings.elasticsearch_url).rstrip("/")
    auth = None
    if settings.elasticsearch_user:
        auth = (settings.elasticsearch_user, settings.elasticsearch_password or "")
    client = Elasticsearch(
        target,
        basic_auth=auth,
        request_timeout=timeout,
        max_retries=2,
        retry_on_timeout=True,
    )
    try:
        client.cluster.health()
    except (EsAuth, EsAuthz):
        raise EngineUnavailable(
            f"Elasticsearch at {target} refused the credentials (DIVRANK_ELASTICSEARCH_USER / "
            "DIVRANK_ELASTICSEARCH_PASSWORD)"
        ) from None
    except (EsConnectionError, EsConnectionTimeout):
        raise EngineUnavailable(
            f"cannot reach Elasticsearch at {target}; start it with "
            "`divrank engine up --engine elasticsearch` or set DIVRANK_ELASTICSEARCH_URL"
        ) from None
    except ApiError as exc:
        raise EngineUnavailable(
            f"Elasticsearch at {target} answered {exc.meta.status}: {exc.message}"
        ) from None
    return client
