"""A LightGBM model's trees as flat arrays, walked by one compiled kernel.

LightGBM trains the relevance model and stays the source of truth (its text is what the model
file ships); serving 100 candidates through ``Booster.predict`` costs about 200 µs of call
overhead and per-row dispatch, most of the scorer's budget. The trees themselves are small
(72 of 31 leaves): walking them here gives the same numbers, bit for bit, because the walk
is LightGBM's own numerical decision (missing values by the node's missing type and default
direction, ``value <= threshold`` otherwise) and the trees are summed in double precision in
their order, as LightGBM does. Categorical splits are not supported: such a model keeps
``Booster.predict`` (``from_lightgbm_text`` raises).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = ["TreeEnsemble"]

Float64Array = npt.NDArray[np.float64]
Int32Array = npt.NDArray[np.int32]
ZERO_THRESHOLD = 1e-35  # LightGBM's kZeroThreshold
MISSING_ZERO, MISSING_NAN = 1, 2
DEFAULT_LEFT = 2


@dataclass(frozen=True)
class TreeEnsemble:
    """Every tree's nodes back to back: tree t owns nodes ``node_start[t]:node_start[t+1]``
    and leaves ``leaf_start[t]:leaf_start[t+1]``; a child < 0 is leaf ``~child``."""

    feature: Int32Array
    threshold: Float64Array
    decision: Int32Array
    left: Int32Array
    right: Int32Array
    leaf_value: Float64Array
    node_start: Int32Array
    leaf_start: Int32Array
    n_features: int

    @classmethod
    def from_lightgbm_text(cls, text: str) -> TreeEnsemble:
        """Parse ``Booster.model_to_string()``; ValueError on what this kernel cannot walk."""
        header, trees = _blocks(text)
        if int(header.get("num_class", "1")) != 1 or int(header.get("num_tree_per_iteration",
                                                                     "1")) != 1:  # fmt: skip
            raise ValueError("only single-output LightGBM models can be compiled")
        if "max_feature_idx" not in header:
            raise ValueError("the LightGBM text has no max_feature_idx")
        parts: dict[str, list[np.ndarray]] = {k: [] for k in
                                              ("f", "t", "d", "l", "r", "v")}  # fmt: skip
        node_start, leaf_start = [0], [0]
        for tree in trees:
            if int(tree.get("num_cat", "0")) != 0:
                raise ValueError("categorical splits are not supported by the compiled trees")
            if tree.get("is_linear", "0") != "0":
                raise ValueError("linear trees are not supported by the compiled trees")
            leaves = np.array(tree["leaf_value"].split(), dtype=np.float64)
            if int(tree["num_leaves"]) > 1:
                parts["f"].append(np.array(tree["split_feature"].split(), dtype=np.int32))
                parts["t"].append(np.array(tree["threshold"].split(), dtype=np.float64))
                parts["d"].append(np.array(tree["decision_type"].split(), dtype=np.int32))
                parts["l"].append(np.array(tree["left_child"].split(), dtype=np.int32))
                parts["r"].append(np.array(tree["right_child"].split(), dtype=np.int32))
                if np.any(parts["d"][-1] & 1):
                    raise ValueError("categorical splits are not supported by the compiled trees")
            node_start.append(node_start[-1] + int(tree["num_leaves"]) - 1)
            leaf_start.append(leaf_start[-1] + leaves.size)
            parts["v"].append(leaves)

        def cat(key: str, dtype: type) -> np.ndarray:
            return np.concatenate(parts[key]).astype(dtype) if parts[key] else np.zeros(0, dtype)

        return cls(
            feature=cat("f", np.int32),
            threshold=cat("t", np.float64),
            decision=cat("d", np.int32),
            left=cat("l", np.int32),
            right=cat("r", np.int32),
            leaf_value=cat("v", np.float64),
            node_start=np.array(node_start, dtype=np.int32),
            leaf_start=np.array(leaf_start, dtype=np.int32),
            n_features=int(header["max_feature_idx"]) + 1,
        )

    def predict(self, features: npt.NDArray[np.floating]) -> Float64Array:
        """Raw scores of the (n, n_features) rows, as ``Booster.predict`` gives them."""
        x = np.ascontiguousarray(features, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"features have shape {x.shape}, expected (n, {self.n_features})")
        out = np.empty(x.shape[0], dtype=np.float64)
        _walk(x, self.feature, self.threshold, self.decision, self.left, self.right,
              self.leaf_value, self.node_start, self.leaf_start, out)  # fmt: skip
        return out


def _blocks(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The header's ``key=value`` lines and one dict per ``Tree=`` block."""
    header: dict[str, str] = {}
    trees: list[dict[str, str]] = []
    current = header
    for line in text.splitlines():
        if line.startswith("end of trees"):
            break
        if line.startswith("Tree="):
            current = {}
            trees.append(current)
            continue
        key, sep, value = line.partition("=")
        if sep:
            current[key] = value
    return header, trees


@njit(cache=True, nogil=True)
def _walk(
    x: npt.NDArray[np.float32],
    feature: Int32Array,
    threshold: Float64Array,
    decision: Int32Array,
    left: Int32Array,
    right: Int32Array,
    leaf_value: Float64Array,
    node_start: Int32Array,
    leaf_start: Int32Array,
    out: Float64Array,
) -> None:
    trees = node_start.shape[0] - 1
    out[:] = 0.0
    for t in range(trees):  # tree by tree: one tree's nodes stay in cache for every row
        first, leaves = node_start[t], leaf_start[t]
        if node_start[t + 1] == first:  # a single leaf
            for i in range(x.shape[0]):
                out[i] += leaf_value[leaves]
            continue
        for i in range(x.shape[0]):
            node = 0
            while True:
                k = first + node
                value = np.float64(x[i, feature[k]])
                kind = decision[k]
                missing = (kind >> 2) & 3
                if np.isnan(value) and missing != MISSING_NAN:
                    value = np.float64(0.0)
                if (missing == MISSING_ZERO and abs(value) <= ZERO_THRESHOLD) or (
                    missing == MISSING_NAN and np.isnan(value)
                ):
                    go_left = (kind & DEFAULT_LEFT) != 0
                else:
                    go_left = value <= threshold[k]
                child = left[k] if go_left else right[k]
                if child < 0:
                    out[i] += leaf_value[leaves + (-child - 1)]
                    break
                node = child
