"""The window's base64 vectors decoded in one pass agree with decoding them one by one, and a
bad text in a window that takes the single pass is still named by candidate and kind."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from reranker.app.base64_vectors import VectorFormatError, decode_one, decode_window

MAX_DIMENSION = 64


def _b64(values: np.ndarray) -> str:
    return base64.b64encode(np.asarray(values, dtype="<f4").tobytes()).decode("ascii")


def _window(n: int, dim: int, seed: int = 0) -> tuple[np.ndarray, list[str | None]]:
    rows = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return rows, [_b64(r) for r in rows]


def test_a_window_without_padding_is_one_matrix_equal_to_the_texts() -> None:
    rows, texts = _window(20, 12)  # 48 bytes: 64 characters, no '='
    window = decode_window(texts, MAX_DIMENSION)
    assert window.matrix is not None and window.matrix.shape == (20, 12)
    assert not window.errors
    np.testing.assert_array_equal(window.matrix, rows)
    for text, vector in zip(texts, window.vectors, strict=True):
        assert text is not None and vector is not None
        np.testing.assert_array_equal(vector, decode_one(text, MAX_DIMENSION))


@pytest.mark.parametrize(
    "make_matrix_ineligible",
    [
        lambda texts: _window(len(texts), 8)[1],  # 32 bytes: '=' padding
        lambda texts: [None, *texts[1:]],  # one candidate without a vector
        lambda texts: [*texts[:-1], _b64(np.ones(15))],  # one of another length
    ],
)
def test_other_windows_decode_text_by_text(make_matrix_ineligible: object) -> None:
    _, texts = _window(6, 12)
    mixed = make_matrix_ineligible(texts)  # type: ignore[operator]
    window = decode_window(mixed, MAX_DIMENSION)
    assert window.matrix is None and not window.errors
    for text, vector in zip(mixed, window.vectors, strict=True):
        if text is None:
            assert vector is None
        else:
            np.testing.assert_array_equal(vector, decode_one(text, MAX_DIMENSION))


def _nan_at(position: int) -> str:
    values = np.ones(12, dtype="<f4")
    values[position] = np.nan
    return _b64(values)


@pytest.mark.parametrize(
    ("bad", "kind"),
    [
        (_nan_at(5), "finite_number"),
        ("A" * 30 + "==" + "A" * 32, "invalid_base64"),  # same length, '=' inside
        ("!" * 64, "invalid_base64"),
        ("\n" + "A" * 63, "invalid_base64"),  # a stray character
    ],
)
def test_a_bad_text_in_a_single_pass_window_is_named(bad: str, kind: str) -> None:
    _, texts = _window(5, 12)
    assert len(bad) == len(texts[0] or "")  # the window would take the single pass
    texts[2] = bad
    window = decode_window(texts, MAX_DIMENSION)
    assert window.matrix is None
    assert [(i, e.kind) for i, e in window.errors] == [(2, kind)]
    assert window.vectors[2] is None
    assert all(window.vectors[i] is not None for i in (0, 1, 3, 4))


def test_the_nan_position_is_in_the_message() -> None:
    _, texts = _window(4, 12)
    texts[1] = _nan_at(7)
    [(index, error)] = decode_window(texts, MAX_DIMENSION).errors
    assert index == 1 and "position 7" in error.message


def test_too_long_texts_are_refused_before_decoding() -> None:
    with pytest.raises(VectorFormatError) as caught:
        decode_one("!" * 10_000, MAX_DIMENSION)  # not base64 either: the length is checked first
    assert caught.value.kind == "dimension_too_large"
    _, texts = _window(3, 12)
    window = decode_window([t * 8 for t in texts if t], 16)  # 96 numbers each, limit 16
    assert window.matrix is None
    assert [e.kind for _, e in window.errors] == ["dimension_too_large"] * 3
