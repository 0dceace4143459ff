"""The `.vir` text form, printing side: `print_graph(graph) -> str` and its pieces.

Invariants (the parser in `compiler.ir.parser` relies on them, and `assert_roundtrip` checks):
- printing then parsing gives a graph equal to the original (`compiler.ir.equality`),
  constants included, byte for byte;
- a float32 number is printed as the shortest decimal that reads back to the same float32,
  or as a hex float (`0x1.8p-3`) when the decimal would not;
- a dense tensor is printed as a flat list of its elements when it is small (at most
  `LITERAL_LIMIT` elements, integers or finite floats) and as base64 of its little-endian bytes
  otherwise; its dtype and shape are in the type printed next to it;
- output is deterministic: the same graph always prints the same bytes.
With `elide_constants=True` large constants print as `dense<elided N bytes>`: shorter dumps for
reading, rejected by the parser.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import numpy as np

from compiler.ir.graph import Graph, Op, Value
from compiler.ir.ops import ANNOTATIONS, op_def
from compiler.ir.type_syntax import format_f32, format_type
from compiler.ir.types import TensorType

LITERAL_LIMIT = 16
_BARE_NAME = re.compile(r"[A-Za-z0-9_.$/\-]+")


def format_name(name: str) -> str:
    """A name as written after `%` or `@`: bare when it is simple, else a JSON string."""
    bare = _BARE_NAME.fullmatch(name) and not name.startswith("//")  # "//" starts a comment
    return name if bare else json.dumps(name)


def _little_endian_bytes(array: np.ndarray) -> bytes:
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()


def _prints_as_literal(array: np.ndarray) -> bool:
    if array.size > LITERAL_LIMIT:
        return False
    return array.dtype.kind in "iu" or bool(np.isfinite(array).all())


def format_dense(array: np.ndarray, elide_constants: bool = False) -> str:
    """`dense<[1, 2]>` (small), `dense<"base64">` (large), or `dense<elided N bytes>`."""
    if _prints_as_literal(array):
        fmt = format_f32 if array.dtype.kind == "f" else str
        return "dense<[" + ", ".join(fmt(v) for v in array.ravel().tolist()) + "]>"
    if elide_constants:
        return f"dense<elided {array.nbytes} bytes>"
    return f'dense<"{base64.b64encode(_little_endian_bytes(array)).decode("ascii")}">'


def format_attr(kind: str, value: Any, elide_constants: bool = False) -> str:
    """An attribute value of the given op-table kind."""
    if kind == "f32":
        return format_f32(value)
    if kind == "str":
        return json.dumps(value)
    if kind == "ints":
        return "[" + ", ".join(str(v) for v in value) + "]"
    if kind == "f32s":
        return "[" + ", ".join(format_f32(v) for v in value) + "]"
    if kind == "tensor":
        return f"{format_dense(value, elide_constants)} : {format_type(TensorType.of_array(value))}"
    return str(value)


def _ref(value: Value) -> str:
    return "%" + format_name(value.name)


def _format_attr_dict(specs, attrs: dict[str, Any], elide_constants: bool) -> str:
    """`{name = value, ...}` in declaration order, or "" when there is nothing to print."""
    shown = [a for a in specs if a.name in attrs]
    if not shown:
        return ""
    return "{" + ", ".join(f"{a.name} = {format_attr(a.kind, attrs[a.name], elide_constants)}" for a in shown) + "}"


def format_op(op: Op, elide_constants: bool = False) -> str:
    """One op on one line (without indentation)."""
    definition = op_def(op.kind)
    parts = [f"{_ref(op.result)} = {op.kind}"]
    if op.kind == "const":
        parts.append(format_dense(op.attrs["value"], elide_constants))
    if op.operands:
        parts.append(", ".join(_ref(v) for v in op.operands))
    specs = [a for a in definition.attrs if not (op.kind == "const" and a.name == "value")]
    attr_dict = _format_attr_dict(specs, op.attrs, elide_constants)
    if attr_dict:
        parts.append(attr_dict)
    signature = ", ".join(format_type(v.type) for v in op.operands)
    parts.append(f": {signature} -> {format_type(op.result.type)}" if signature
                 else f": {format_type(op.result.type)}")
    if op.loc:
        parts.append("loc(" + ", ".join(json.dumps(n) for n in op.loc) + ")")
    return " ".join(parts)


def print_graph(graph: Graph, elide_constants: bool = False) -> str:
    """The whole graph as `.vir` text, ending with a newline."""
    args = ", ".join(" ".join(filter(None, [f"{_ref(v)}: {format_type(v.type)}",
                                            _format_attr_dict(ANNOTATIONS, graph.input_attrs.get(v, {}), False)]))
                     for v in graph.inputs)
    outs = ", ".join(_ref(v) for v in graph.outputs)
    lines = [f"graph @{format_name(graph.name)}({args}) -> ({outs}) {{"]
    lines.extend("  " + format_op(op, elide_constants) for op in graph.ops)
    lines.append("}")
    return "\n".join(lines) + "\n"

