"""Shared fixtures. The engine fixture gives every integration test the real OpenSearch."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from indexer import engine as engine_ctl
from reranker.settings import get_settings


@pytest.fixture(scope="session")
def engine() -> Iterator[str]:
    """Base URL of a running engine: reuse one that answers, else start ours and stop it after.

    ``DIVRANK_KEEP_ENGINE=1`` leaves an engine we started running (handy between local runs).
    """
    settings = get_settings()
    url = settings.opensearch_url.rstrip("/")
    if engine_ctl.health(url) is not None:
        yield url
        return
    started = engine_ctl.up(settings)
    try:
        yield started.url
    finally:
        if os.environ.get("DIVRANK_KEEP_ENGINE") != "1":
            engine_ctl.down(settings)


@pytest.fixture(scope="session")
def es_engine() -> Iterator[str]:
    """Base URL of a running Elasticsearch (``DIVRANK_ELASTICSEARCH_URL``): reuse or start one.

    Started with ``divrank engine up --engine elasticsearch`` when nothing answers, and stopped
    at the end unless ``DIVRANK_KEEP_ENGINE=1``.
    """
    from indexer import es_engine as es_ctl

    settings = get_settings()
    url = settings.elasticsearch_url.rstrip("/")
    if engine_ctl.health(url) is not None:
        yield url
        return
    started = es_ctl.up(settings)
    try:
        yield started.url
    finally:
        if os.environ.get("DIVRANK_KEEP_ENGINE") != "1":
            es_ctl.down(settings)
