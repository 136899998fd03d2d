"""All divrank configuration in one place: environment variables prefixed ``DIVRANK_``.

Every component (engine scripts, indexer, sidecar, evaluation) reads its settings here so a
deployment has exactly one table of knobs (see README, "Configuration").
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DIVRANK_", extra="ignore")

    # --- engine (OpenSearch from Maven Central) ---------------------------------------------
    opensearch_url: str = "http://127.0.0.1:9200"
    opensearch_user: str | None = None
    opensearch_password: str | None = None
    engine_version: str = "3.5.0"
    engine_home: Path = REPO_ROOT / ".engine"
    engine_port: int = 9200
    engine_heap: str = "3g"
    java_home: Path = Path("/usr/lib/jvm/temurin-25-jdk-amd64")
    engine_start_timeout_s: float = 180.0

    # --- Elasticsearch (second engine: `--engine elasticsearch`, client-side hook) ------------
    elasticsearch_url: str = "http://127.0.0.1:9400"
    elasticsearch_user: str | None = None
    elasticsearch_password: str | None = None
    es_version: str = "9.5.4"  # newest integ-test zip Maven Central served when checked
    es_port: int = 9400  # HTTP port of the local Elasticsearch (transport: +100)
    es_heap: str = "1g"
    # The sidecar's POST /v1/search proxy forwards to this engine; unset = the route is off.
    search_proxy_url: str | None = None
    search_proxy_window: int = Field(100, ge=1, le=1000)

    # --- data ---------------------------------------------------------------------------------
    shared_data: Path = REPO_ROOT.parent / "shared" / "data"  # ../shared/data beside the repo

    # --- indexer ------------------------------------------------------------------------------
    embedding_model: str = "all-MiniLM-L6-v2"
    embedding_batch_size: int = 64
    cache_dir: Path = REPO_ROOT / ".cache"
    profiles_alias: str = "divrank-profiles"

    # --- sidecar ------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8600
    max_candidates: int = Field(1000, ge=1)
    max_dimension: int = Field(4096, ge=1)
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    weights_path: Path | None = None
    # learned relevance (reranker/relevance_io.py): unset = the shipped Home Depot model; a
    # missing or corrupt file stops the sidecar at start. DIVRANK_RELEVANCE=false switches it off
    relevance_model: Path | None = None
    relevance: bool = True
    # bearer token for every route but /healthz, /readyz and /metrics; unset = no auth
    token: str | None = None
    # the /demo page and its JSON calls (off in the Docker image)
    demo: bool = True
    workers: int = Field(1, ge=1)
    # uvicorn's line per request; off by default: the sidecar logs its own per-rerank line (with
    # the user id hashed), and the access line costs about 0.1 ms a request
    access_log: bool = False
    # profile / vector look-ups in OpenSearch (off: rerank only with what the request carries)
    sidecar_lookups: bool = True
    lookup_timeout_s: float = Field(0.5, gt=0)
    lookup_backoff_s: float = Field(5.0, ge=0)  # skip look-ups this long after a failure
    profile_cache_size: int = Field(10_000, ge=0)
    profile_cache_ttl_s: float = Field(300.0, ge=0)
    vector_cache_size: int = Field(50_000, ge=0)  # rows; 50k x 384-d float32 ~ 77 MB
    # alias whose item vectors each sidecar worker reads into that cache at start and after
    # every alias swap (/readyz says "loading" until done): pipelines with send_embeddings off
    # then send no vectors and never wait on a look-up
    preload_vectors: str | None = None
    alias_refresh_s: float = Field(30.0, ge=0)  # how often an alias is re-resolved

    # --- demo (`make demo`, `divrank demo`, the sidecar's /demo page) -------------------------
    demo_alias: str = "icecat"  # items alias the demo indexes and searches
    demo_pipeline: str = "divrank"  # search pipeline the demo's divrank column goes through

    @field_validator("token")
    @classmethod
    def _token_not_blank(cls, value: str | None) -> str | None:
        # An empty DIVRANK_TOKEN would silently switch authentication off.
        if value is not None and not value.strip():
            raise ValueError(
                "DIVRANK_TOKEN is set but empty: give it a secret, or unset it to run without auth"
            )
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings are read once per process; tests call ``get_settings.cache_clear()``."""
    return Settings()
