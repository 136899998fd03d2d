"""Client-side divrank for engines without search pipelines (Elasticsearch): see ``search.py``."""

from reranker.hook.backends import RerankBackend, RerankFailure, SidecarClient
from reranker.hook.knobs import DivrankRequestError, HookKnobs, parse_ext
from reranker.hook.search import DivrankUnavailable, HookConfig, SearchClient, divrank_search

__all__ = [
    "DivrankRequestError",
    "DivrankUnavailable",
    "HookConfig",
    "HookKnobs",
    "RerankBackend",
    "RerankFailure",
    "SearchClient",
    "SidecarClient",
    "divrank_search",
    "parse_ext",
]
