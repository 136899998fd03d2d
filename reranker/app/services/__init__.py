"""Edge services: OpenSearch look-ups with caches, request translation, the rerank pipeline."""

__all__ = [
    "cache",
    "model",
    "opensearch",
    "profiles",
    "reranking",
    "translate",
    "vectors",
]
