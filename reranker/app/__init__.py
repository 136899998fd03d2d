"""The re-ranking sidecar (FastAPI): HTTP at the edge, the numpy ranking core inside."""

__all__ = ["api", "main", "schemas", "services"]
