"""The pipeline body names one sidecar as a string and several as a list; bad URLs are refused."""

from __future__ import annotations

import pytest

from cli.pipeline import PipelineConfig, pipeline_body


def _url(config: PipelineConfig) -> object:
    return pipeline_body(config)["response_processors"][0]["divrank"]["sidecar_url"]


def test_one_or_several_sidecars() -> None:
    assert _url(PipelineConfig(sidecar_url="http://127.0.0.1:1")) == "http://127.0.0.1:1"
    assert _url(PipelineConfig(sidecar_url=("http://127.0.0.1:1",))) == "http://127.0.0.1:1"
    several = ("http://127.0.0.1:1", "http://127.0.0.1:2")
    assert _url(PipelineConfig(sidecar_url=several)) == list(several)


TOO_MANY = tuple(f"http://127.0.0.1:{p}" for p in range(17))


@pytest.mark.parametrize("urls", [(), ("ftp://x",), TOO_MANY])
def test_bad_sidecar_lists_are_refused(urls: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="sidecar"):
        PipelineConfig(sidecar_url=urls)


def test_lean_window_goes_to_the_window_processor_with_the_configured_fields() -> None:
    plain = pipeline_body(PipelineConfig())
    assert plain["request_processors"] == [{"divrank_window": {"window_size": 100}}]
    body = pipeline_body(PipelineConfig(lean_window=True, brand_field="maker", title_field="name"))
    window = body["request_processors"][0]["divrank_window"]
    assert window["lean_window"] is True
    assert window["lean_fields"] == {
        "id": "item_id", "category": "category", "brand": "maker", "price": "price",
        "title": "name.raw", "popularity": "popularity",
    }  # fmt: skip
    assert "lean_window" not in body["response_processors"][0]["divrank"]


def test_byte_query_vectors_go_to_the_window_processor_for_the_embedding_field() -> None:
    body = pipeline_body(PipelineConfig(byte_query_vectors=True, embedding_field="vec"))
    window = body["request_processors"][0]["divrank_window"]
    assert window == {"window_size": 100, "vector_field": "vec", "byte_query_vectors": True}
    assert "byte_query_vectors" not in body["response_processors"][0]["divrank"]


def test_a_custom_embedding_field_is_the_one_the_window_fetches() -> None:
    window = pipeline_body(PipelineConfig(embedding_field="vec"))["request_processors"][0]
    assert window == {"divrank_window": {"window_size": 100, "vector_field": "vec"}}
    excluded = pipeline_body(PipelineConfig(embedding_field="vec", send_embeddings=False))
    assert excluded["request_processors"][0]["divrank_window"]["exclude_from_window"] == ["vec"]
