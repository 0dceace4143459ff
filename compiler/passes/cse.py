"""Common-subexpression elimination: an op that computes what an earlier op computes is dropped.

Every IR op is pure, so two ops compute the same value when they have the same kind, the same
operands (the same values, in the same order), exactly equal attributes and the same result
type. The later op's uses then read the earlier op's result. Constants are ops without operands,
so two `const` ops with identical data (dtype, shape and bytes) and type merge the same way.
The case that motivates the pass: after onnxruntime's `quant_pre_process` the quantizer
quantizes the same float tensor once per consumer (Q, K and V of every block), three identical
`quantize` layers on the vector unit.

Invariants kept: the surviving ops keep their order, names, attributes and `loc`; a result that
is a graph output is never forwarded (graph output names are the model's output names; the op
stays, and a later equal op may still be forwarded to it); graph inputs are never touched.
Attributes compare exactly: floats by their bits (so a NaN equals the same NaN and 0.0 is not
-0.0), arrays by dtype, shape and bytes, and an int never equals a float.

One sweep in program order reaches the fixpoint: operands are renamed to their survivors before
the op itself is looked up, so ops whose operands merged are found equal in the same sweep.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from compiler.ir.errors import IRError
from compiler.ir.graph import Graph, Op, Value
from compiler.ir.passes import Pass


class TensorKey:
    """An array as a key: equal to another exactly when dtype, shape and bytes are the same.

    Its hash reads only a sample of `SAMPLE` elements spread over the array, so keying a model's
    weights neither copies nor hashes all their bytes (vit-base: 87 MB); arrays sharing a hash
    are then compared in full."""

    SAMPLE = 64
    __slots__ = ("array", "_hash")

    def __init__(self, array: np.ndarray):
        self.array = array
        flat = array.reshape(-1)
        sample = flat[::max(1, flat.size // self.SAMPLE)]
        self._hash = hash((array.dtype.str, array.shape, sample.tobytes()))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TensorKey):
            return NotImplemented
        a, b = self.array, other.array
        return (self._hash == other._hash and a.dtype.str == b.dtype.str and a.shape == b.shape
                and np.array_equal(_bytes(a), _bytes(b)))


def _bytes(array: np.ndarray) -> np.ndarray:
    """The array's bytes as one flat uint8 array, so NaNs and signed zeros compare by their bits."""
    return np.ascontiguousarray(array).reshape(-1).view(np.uint8)


def exact_key(value: Any) -> Any:
    """A hashable key equal for two attribute values exactly when they are the same value,
    bit for bit (numpy arrays and floats compare by their bytes; types are part of the key)."""
    if isinstance(value, np.ndarray):
        return ("tensor", TensorKey(value))
    if isinstance(value, float):
        return ("float", struct.pack("<d", value))
    if isinstance(value, tuple):
        return ("tuple", tuple(exact_key(item) for item in value))
    if isinstance(value, (bool, int, str)):
        return (type(value).__name__, value)
    raise TypeError(f"attribute value {value!r} of type {type(value).__name__} has no exact key")


def op_key(op: Op) -> tuple:
    """What decides that two ops compute the same value: kind, operand identities, attributes, result type."""
    try:
        attrs = tuple(sorted((name, exact_key(value)) for name, value in op.attrs.items()))
    except TypeError as err:
        raise IRError(f"{op.describe()}: {err}") from None
    # values hash and compare by identity: the same operands means the same values
    return (op.kind, tuple(op.operands), attrs, op.result.type)


def eliminate_common_subexpressions(graph: Graph) -> list[tuple[Op, Value]]:
    """Forward every op's result to an earlier equal op's result, in place; returns
    (removed op, the value now used instead), in op order."""
    outputs = set(graph.outputs)
    survivor: dict[Value, Value] = {}  # removed op's result -> the earlier equal result
    first_with_key: dict[tuple, Value] = {}
    kept, merged = [], []
    for op in graph.ops:
        op.operands = [survivor.get(operand, operand) for operand in op.operands]
        key = op_key(op)
        earlier = first_with_key.setdefault(key, op.result)
        if earlier is op.result or op.result in outputs:
            kept.append(op)
            continue
        survivor[op.result] = earlier
        merged.append((op, earlier))
    graph.ops = kept
    graph.refresh_names()
    return merged


@dataclass(frozen=True)
class CommonSubexpressionElimination(Pass):
    """Merge ops that compute the same value (same kind, operands, attributes and result type)."""

    name = "cse"

    def apply(self, graph: Graph) -> None:
        merged = eliminate_common_subexpressions(graph)
        for op, earlier in merged:
            self.log.debug("%s: uses %%%s instead", op.describe(), earlier.name)
        self.log.debug("merged %d of %d ops", len(merged), len(merged) + len(graph.ops))
