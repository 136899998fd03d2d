"""What differs between OpenSearch and Elasticsearch for the indexer, behind one small object.

The load → verify → swap → prune logic (:mod:`indexer.versioned_load`,
:mod:`indexer.alias_swap`, :mod:`indexer.bulk_writer`) is the same for both engines, and both
Python clients accept the same calls with a raw ``body``. Only these differ:

- the vector field: ``knn_vector`` (k-NN plugin, lucene HNSW) vs ``dense_vector`` (HNSW in
  the server), and their index settings; ``flat_object`` vs ``flattened``;
- the k-NN query used to verify a new version;
- the client's exception for "not found" and its bulk helpers.

:func:`dialect_of` picks the dialect from the client's type, so callers keep passing a client.
Elasticsearch mappings are derived from the OpenSearch ones (:func:`to_elasticsearch_body`),
so the two never drift apart field by field.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from indexer import mapping

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch
    from opensearchpy import OpenSearch

    SearchClient: TypeAlias = OpenSearch | Elasticsearch
else:
    SearchClient: TypeAlias = Any

__all__ = [
    "ELASTICSEARCH",
    "OPENSEARCH",
    "Dialect",
    "EngineName",
    "SearchClient",
    "dialect_of",
    "to_elasticsearch_body",
    "vector_dim",
]

EngineName = Literal["opensearch", "elasticsearch"]

_SIMILARITY = {"cosinesimil": "cosine", "l2": "l2_norm", "innerproduct": "max_inner_product"}


def _dense_vector(knn: dict[str, Any]) -> dict[str, Any]:
    """An OpenSearch ``knn_vector`` definition as the equivalent Elasticsearch ``dense_vector``."""
    method = knn.get("method") or {}
    params = dict(method.get("parameters") or {})
    encoder = params.pop("encoder", None)
    byte = knn.get("data_type") == "byte"
    options: dict[str, Any] = {"type": "int8_hnsw" if encoder and not byte else "hnsw"}
    options.update({k: params[k] for k in ("m", "ef_construction") if k in params})
    field: dict[str, Any] = {
        "type": "dense_vector",
        "dims": knn["dimension"],
        "index": True,
        "similarity": _SIMILARITY[method.get("space_type", "cosinesimil")],
        # Explicit: Elasticsearch 9.x defaults >= 384-d fields to BBQ quantisation.
        "index_options": options,
    }
    if byte:
        field["element_type"] = "byte"
    return field


def _convert_properties(properties: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, field in properties.items():
        kind = field.get("type")
        if kind == "knn_vector":
            out[name] = _dense_vector(field)
        elif kind == "flat_object":
            out[name] = {"type": "flattened"}
        elif "properties" in field:
            out[name] = {**field, "properties": _convert_properties(field["properties"])}
        else:
            out[name] = field
    return out


def to_elasticsearch_body(body: dict[str, Any], source_vectors: bool = True) -> dict[str, Any]:
    """An index body from :mod:`indexer.mapping` rewritten for Elasticsearch.

    ``mapping.exclude_source_vectors: false`` keeps vectors in ``_source`` as sent (9.2+
    leaves them out by default), the counterpart of OpenSearch's
    ``knn.derived_source.enabled: false``: the sidecar and the client hook read them there.
    ``source_vectors=False`` keeps the server default instead. Needed by the native
    ``diversify`` retriever: on 9.5.4 it returns no hits at all from an index that keeps its
    vectors in ``_source`` (its embeddings fetch finds no vector, so MMR selects nothing).
    """
    out = copy.deepcopy(body)
    index_settings = dict(out.get("settings", {}).get("index", {}))
    for key in ("knn", "knn.derived_source.enabled"):
        index_settings.pop(key, None)
    index_settings["mapping.exclude_source_vectors"] = not source_vectors
    out["settings"] = {**out.get("settings", {}), "index": index_settings}
    mappings = out["mappings"]
    mappings["properties"] = _convert_properties(mappings.get("properties", {}))
    return out


def vector_dim(field: dict[str, Any]) -> int | None:
    """Dimension of a vector field mapping of either engine, None for other fields."""
    for key in ("dimension", "dims"):
        if key in field:
            return int(field[key])
    return None


@dataclass(frozen=True)
class Dialect:
    name: EngineName

    @property
    def not_found(self) -> tuple[type[Exception], ...]:
        if self.name == "elasticsearch":
            from elasticsearch import NotFoundError as EsNotFound

            return (EsNotFound,)
        from opensearchpy.exceptions import NotFoundError as OsNotFound

        return (OsNotFound,)

    @property
    def helpers(self) -> ModuleType:
        """The client's bulk helpers (``streaming_bulk`` / ``parallel_bulk``, same signatures)."""
        if self.name == "elasticsearch":
            from elasticsearch import helpers as es_helpers

            return es_helpers
        from opensearchpy import helpers as os_helpers

        return os_helpers

    def knn_probe(self, field: str, vector: list[float] | list[int], k: int = 1) -> dict[str, Any]:
        """A search body asking the ``k`` nearest neighbours of ``vector`` in ``field``."""
        if self.name == "elasticsearch":
            return {
                "size": k,
                "_source": False,
                "knn": {
                    "field": field,
                    "query_vector": vector,
                    "k": k,
                    "num_candidates": max(10, k),
                },
            }
        return {
            "size": k,
            "_source": False,
            "query": {"knn": {field: {"vector": vector, "k": k}}},
        }

    def item_index_body(
        self,
        dim: int,
        meta: dict[str, Any],
        storage: str = "float32",
        m: int = mapping.HNSW_M,
        ef_construction: int = mapping.HNSW_EF_CONSTRUCTION,
        source_vectors: bool | None = None,
    ) -> dict[str, Any]:
        """Vectors in ``_source`` or not; None = the engine's divrank default: OpenSearch leaves
        them out (the plugin reads vector values), Elasticsearch keeps them (the client-side
        hook reads them there)."""
        if self.name == "elasticsearch":
            body = mapping.item_index_body(
                dim, meta, storage=storage, m=m, ef_construction=ef_construction,
                source_vectors=True,
            )  # fmt: skip
            return to_elasticsearch_body(body, source_vectors=source_vectors is not False)
        return mapping.item_index_body(
            dim, meta, storage=storage, m=m, ef_construction=ef_construction,
            source_vectors=bool(source_vectors),
        )  # fmt: skip

    def profile_index_body(self, dim: int, meta: dict[str, Any]) -> dict[str, Any]:
        body = mapping.profile_index_body(dim, meta)
        return to_elasticsearch_body(body) if self.name == "elasticsearch" else body


OPENSEARCH = Dialect("opensearch")
ELASTICSEARCH = Dialect("elasticsearch")


def dialect_of(client: object) -> Dialect:
    """The dialect of a client object: Elasticsearch's client, else OpenSearch (the default)."""
    module = type(client).__module__
    return ELASTICSEARCH if module.split(".")[0] == "elasticsearch" else OPENSEARCH
