"""Where item vectors live: out of ``_source`` on OpenSearch unless asked, kept on Elasticsearch."""

from __future__ import annotations

from indexer.engine_dialect import ELASTICSEARCH, OPENSEARCH
from indexer.mapping import item_index_body


def test_opensearch_items_keep_vectors_out_of_source_by_default() -> None:
    body = OPENSEARCH.item_index_body(8, {"kind": "items"})
    assert body["mappings"]["_source"] == {"excludes": ["embedding"]}
    assert body["mappings"]["properties"]["embedding"]["type"] == "knn_vector"


def test_source_vectors_and_byte_storage_keep_them() -> None:
    assert "_source" not in OPENSEARCH.item_index_body(8, {}, source_vectors=True)["mappings"]
    # byte vectors stay in _source: no _source filter on the fastest bulk path
    assert "_source" not in item_index_body(8, {}, storage="byte")["mappings"]


def test_elasticsearch_keeps_vectors_in_source_for_the_hook() -> None:
    body = ELASTICSEARCH.item_index_body(8, {})
    assert "_source" not in body["mappings"]
    assert body["settings"]["index"]["mapping.exclude_source_vectors"] is False
    assert ELASTICSEARCH.item_index_body(8, {}, source_vectors=False)["settings"]["index"][
        "mapping.exclude_source_vectors"
    ] is True


def test_items_carry_their_id_as_a_doc_values_keyword() -> None:
    # the plugin's lean window reads a hit's id from doc values, without the stored fields
    for dialect in (OPENSEARCH, ELASTICSEARCH):
        field = dialect.item_index_body(8, {})["mappings"]["properties"]["item_id"]
        assert field == {"type": "keyword", "index": False}  # doc values are on by default
