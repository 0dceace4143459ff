"""Structural equality of graphs: `graph_difference(a, b)` names the first difference.

Two graphs are equal when they have the same name, the same inputs (names, types, annotations), the same
ops in the same order (kind, operand names, result name and type, attributes, loc) and the same
outputs. Values are matched by name, so the two graphs may be separate objects (e.g. one parsed
from the other's text). Floats compare bit for bit (so -0.0 differs from 0.0 and NaN equals
itself); constants compare by dtype, shape and bytes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from compiler.ir.graph import Graph, Op


def _same_attr(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and a.shape == b.shape and a.tobytes() == b.tobytes())
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same_attr(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return np.float64(a).tobytes() == np.float64(b).tobytes()
    return type(a) is type(b) and a == b


def _op_difference(a: Op, b: Op) -> str | None:
    if a.kind != b.kind:
        return f"kind {a.kind} vs {b.kind}"
    if a.result.name != b.result.name:
        return f"result %{a.result.name} vs %{b.result.name}"
    if a.result.type != b.result.type:
        return f"result type {a.result.type} vs {b.result.type}"
    if [v.name for v in a.operands] != [v.name for v in b.operands]:
        return f"operands {[v.name for v in a.operands]} vs {[v.name for v in b.operands]}"
    if sorted(a.attrs) != sorted(b.attrs):
        return f"attribute names {sorted(a.attrs)} vs {sorted(b.attrs)}"
    for name in sorted(a.attrs):
        if not _same_attr(a.attrs[name], b.attrs[name]):
            return f"attribute '{name}' differs"
    if a.loc != b.loc:
        return f"loc {a.loc} vs {b.loc}"
    return None


def graph_difference(a: Graph, b: Graph) -> str | None:
    """None when the graphs are structurally equal, else a message naming the first difference."""
    if a.name != b.name:
        return f"graph name @{a.name} vs @{b.name}"
    ins_a = [(v.name, v.type) for v in a.inputs]
    ins_b = [(v.name, v.type) for v in b.inputs]
    if ins_a != ins_b:
        return f"graph inputs {ins_a} vs {ins_b}"
    for va, vb in zip(a.inputs, b.inputs):
        attrs_a, attrs_b = a.input_attrs.get(va, {}), b.input_attrs.get(vb, {})
        if sorted(attrs_a) != sorted(attrs_b) or not all(_same_attr(attrs_a[k], attrs_b[k]) for k in attrs_a):
            return f"graph input %{va.name} annotations {attrs_a} vs {attrs_b}"
    for index, (op_a, op_b) in enumerate(zip(a.ops, b.ops)):
        difference = _op_difference(op_a, op_b)
        if difference:
            return f"op {index} ({op_a.describe()}): {difference}"
    if len(a.ops) != len(b.ops):
        return f"{len(a.ops)} ops vs {len(b.ops)} ops"
    outs_a, outs_b = [v.name for v in a.outputs], [v.name for v in b.outputs]
    if outs_a != outs_b:
        return f"graph outputs {outs_a} vs {outs_b}"
    return None


def graphs_equal(a: Graph, b: Graph) -> bool:
    return graph_difference(a, b) is None
