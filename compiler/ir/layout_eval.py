"""What the layout ops do to data, in numpy: `evaluate_layout(kind, arrays, attrs, result_type)`.

Layout ops only move bytes (no arithmetic), so their meaning is fixed by the op table alone; this
module is that meaning, used by `fold-constants` and available to the reference interpreter.
Invariants: the result has exactly `result_type`'s dtype and shape (checked), the inputs are
never modified, and the result is a new C-contiguous read-only array.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from compiler.ir.errors import IRError
from compiler.ir.types import TensorType

Evaluator = Callable[[list[np.ndarray], dict[str, Any], TensorType], np.ndarray]


def _gather(arrays: list[np.ndarray], attrs: dict[str, Any], result: TensorType) -> np.ndarray:
    data, indices = arrays
    axis = attrs["axis"]
    bad = (indices < 0) | (indices >= data.shape[axis])
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise IRError(f"gather index {int(indices[where])} at {list(where)} is outside [0, "
                      f"{data.shape[axis]}) along axis {axis}")
    return np.take(data, indices, axis=axis)


def _slice(arrays: list[np.ndarray], attrs: dict[str, Any], result: TensorType) -> np.ndarray:
    (x,) = arrays
    for axis, (start, end, step) in enumerate(zip(attrs["starts"], attrs["ends"], attrs["steps"])):
        x = np.take(x, np.arange(start, end, step, dtype=np.int64), axis=axis)
    return x


LAYOUT_EVALUATORS: dict[str, Evaluator] = {
    "reshape": lambda arrays, attrs, result: arrays[0].reshape(result.shape),
    "flatten": lambda arrays, attrs, result: arrays[0].reshape(result.shape),
    "squeeze": lambda arrays, attrs, result: arrays[0].reshape(result.shape),
    "unsqueeze": lambda arrays, attrs, result: arrays[0].reshape(result.shape),
    "transpose": lambda arrays, attrs, result: arrays[0].transpose(attrs["perm"]),
    "concat": lambda arrays, attrs, result: np.concatenate(arrays, axis=attrs["axis"]),
    "gather": _gather,
    "slice": _slice,
}


def evaluate_layout(kind: str, arrays: list[np.ndarray], attrs: dict[str, Any], result: TensorType) -> np.ndarray:
    """The result of layout op `kind` on `arrays` (the op must already verify)."""
    if kind not in LAYOUT_EVALUATORS:
        raise IRError(f"op '{kind}' is not a layout op (layout ops: {', '.join(LAYOUT_EVALUATORS)})")
    out = np.array(LAYOUT_EVALUATORS[kind](arrays, attrs, result), dtype=result.np_dtype, order="C", copy=True)
    if out.shape != result.shape:
        raise IRError(f"op '{kind}' produced shape {list(out.shape)}, its type says {list(result.shape)}")
    out.flags.writeable = False
    return out
