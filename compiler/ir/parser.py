"""The `.vir` text form, parsing side: `parse_graph(text, filename) -> Graph`.

The grammar is `vir.lark` (lark, LALR). The tree is turned into a `Graph` op by op; attribute
values are converted by the kind the op table declares for them, so the text needs no type tags.
Every error is an `IRParseError` whose message starts with `filename:line:column`. The parsed
graph is verified (`compiler.ir.verifier`) before it is returned, so a parsed graph is valid.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from importlib import resources
from typing import Any

import lark
import numpy as np

from compiler.ir.errors import IRError, IRParseError
from compiler.ir.graph import Graph, Op, Value
from compiler.ir.ops import ANNOTATIONS, OP_TABLE, AttrSpec, normalize_attrs, normalize_input_attrs
from compiler.ir.type_syntax import format_type
from compiler.ir.types import Quant, TensorType
from compiler.ir.verifier import verify


# Grammar terminal names -> how a parse error message calls them.
_TERMINAL_NAMES = {
    "OPNAME": "an op name", "ATTR_NAME": "an attribute name", "BARE_NAME": "a name", "STRING": "a string",
    "NUMBER": "a number", "SHAPE_DTYPE": "a shape and dtype like 2x3xf32", "PERCENT": "'%'", "EQUAL": "'='",
    "COLON": "':'", "COMMA": "','", "LPAR": "'('", "RPAR": "')'", "LBRACE": "'{'", "RBRACE": "'}'",
    "NUMBER_LIST": "a list of numbers", "LESSTHAN": "'<'", "MORETHAN": "'>'", "AT": "'@'", "GRAPH": "'graph'",
    "DENSE": "'dense'", "LOC": "'loc'", "TENSOR": "'tensor'", "__ANON_0": "'->'",
}


@functools.cache
def _lark_parser() -> lark.Lark:
    grammar = resources.files("compiler.ir").joinpath("vir.lark").read_text()
    return lark.Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True)


def _list_patterns() -> tuple[re.Pattern, re.Pattern]:
    """Whole-list patterns (numbers; integers) built from the grammar's NUMBER terminal, so a
    NUMBER_LIST token is checked in one regex pass instead of item by item."""
    number = _lark_parser().get_terminal("NUMBER").pattern.value
    integer = r"-?[0-9]+"
    return tuple(re.compile(rf"\s*(?:(?:{p})\s*(?:,\s*(?:{p})\s*)*)?") for p in (number, integer))


def _number(text: str) -> int | float:
    if "x" in text:
        return float.fromhex(text)
    if any(c in text for c in ".eEn"):  # decimal point, exponent, inf, nan
        return float(text)
    return int(text)


class _GraphBuilder:
    """Turns a parse tree into a Graph, reporting errors at the line of the offending text."""

    def __init__(self, filename: str):
        self.filename = filename
        self.values: dict[str, Value] = {}
        self.number_list, self.integer_list = _list_patterns()

    def fail(self, node: lark.Tree | lark.Token, message: str) -> IRParseError:
        line = getattr(node, "line", None) or node.meta.line
        column = getattr(node, "column", None) or node.meta.column
        return IRParseError(f"{self.filename}:{line}:{column}: {message}")

    # ---- numbers, types, constants ----------------------------------------------------------

    def string(self, token: lark.Token) -> str:
        try:
            return json.loads(str(token))
        except json.JSONDecodeError as err:
            raise self.fail(token, f"bad string: {err.msg}") from None

    def name(self, node: lark.Token) -> str:
        return self.string(node) if node.type == "STRING" else str(node)

    def f32(self, text: str) -> float:
        """A number as the float32 nearest to it, IEEE rounding (printed text reads back exactly)."""
        with np.errstate(over="ignore"):  # beyond the float32 range rounds to infinity
            return float(np.float32(_number(text)))

    def integer(self, text: str, at: lark.Token) -> int:
        value = _number(text)
        if not isinstance(value, int):
            raise self.fail(at, f"expected an integer, got {text}")
        return value

    def list_items(self, tree: lark.Tree, integers: bool) -> list[str]:
        """The items of a `list` node's NUMBER_LIST token, all numbers (or all integers)."""
        (token,) = tree.children
        inner = token[1:-1]
        if (self.integer_list if integers else self.number_list).fullmatch(inner):
            return [item.strip() for item in inner.split(",")] if inner.strip() else []
        for item in (item.strip() for item in inner.split(",")):  # find the culprit for the message
            if not self.number_list.fullmatch(item):
                raise self.fail(token, f"{item!r} in this list is not a number")
            if integers and not self.integer_list.fullmatch(item):
                raise self.fail(token, f"expected an integer, got {item}")
        raise self.fail(token, "malformed list")

    def f32_list(self, tree: lark.Tree) -> tuple[float, ...]:
        items = self.list_items(tree, integers=False)
        values = [_number(item) for item in items] if any("x" in item for item in items) else [float(i) for i in items]
        with np.errstate(over="ignore"):  # beyond the float32 range rounds to infinity
            return tuple(np.array(values, dtype=np.float64).astype(np.float32).astype(np.float64).tolist())

    def int_list(self, tree: lark.Tree) -> tuple[int, ...]:
        return tuple(int(item) for item in self.list_items(tree, integers=True))

    def quant(self, tree: lark.Tree) -> Quant:
        if tree.data == "quant_tensor":
            scale, zero = tree.children
            return Quant((self.f32(scale),), (self.integer(zero, zero),))
        axis, scales, zeros = tree.children
        return Quant(self.f32_list(scales), self.int_list(zeros), self.integer(axis, axis))

    def type(self, tree: lark.Tree) -> TensorType:
        shape_dtype, quant = tree.children
        *dims, dtype = str(shape_dtype).split("x")
        try:
            return TensorType(dtype, tuple(int(d) for d in dims), self.quant(quant) if quant else None)
        except IRParseError:
            raise
        except IRError as err:
            raise self.fail(tree, str(err)) from None

    def dense(self, tree: lark.Tree, t: TensorType) -> np.ndarray:
        (data,) = tree.children
        if isinstance(data, lark.Token) and data.type == "ELIDED":
            raise self.fail(data, f"constant data was elided ({data}) when this text was printed: "
                                  f"print without --elide-constants to get parseable IR")
        dtype = t.np_dtype
        if isinstance(data, lark.Tree):  # a flat list of elements
            items = self.f32_list(data) if dtype.kind == "f" else self.int_list(data)
            if len(items) != t.num_elements:
                raise self.fail(tree, f"dense literal has {len(items)} elements, its type "
                                      f"{list(t.shape)} needs {t.num_elements}")
            array = np.array(items, dtype=np.float64 if dtype.kind == "f" else object)
            if dtype.kind != "f" and any(not np.iinfo(dtype).min <= v <= np.iinfo(dtype).max for v in items):
                raise self.fail(tree, f"dense literal has a value outside {t.dtype}")
            array = array.astype(dtype).reshape(t.shape)
        else:
            raw = self.base64(data)
            if len(raw) != t.num_elements * dtype.itemsize:
                raise self.fail(data, f"dense data has {len(raw)} bytes, its type needs "
                                      f"{t.num_elements * dtype.itemsize}")
            array = np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype).reshape(t.shape)
        array.flags.writeable = False
        return array

    def base64(self, token: lark.Token) -> bytes:
        try:
            return base64.b64decode(self.string(token), validate=True)
        except ValueError:
            raise self.fail(token, "dense data is not valid base64") from None

    # ---- attributes ---------------------------------------------------------------------------

    def attr(self, kind: str, node: lark.Tree) -> Any:
        """Convert an attribute value node to the normalized value of `kind`."""
        expected = {"int": "number", "f32": "number", "str": "string", "ints": "list", "f32s": "list",
                    "tensor": "dense_attr"}[kind]
        if node.data != expected:
            raise self.fail(node, f"expected a {kind} value, got a {node.data.replace('_attr', '')}")
        (first, *rest) = node.children
        if kind == "int":
            return self.integer(first, first)
        if kind == "f32":
            return self.f32(first)
        if kind == "str":
            return self.string(first)
        if kind == "ints":
            return self.int_list(node)
        if kind == "f32s":
            return self.f32_list(node)
        return self.dense(first, self.type(rest[0]))

    def attrs(self, specs: tuple[AttrSpec, ...], owner: str, tree: lark.Tree | None) -> dict[str, Any]:
        """An attribute dict converted by the kinds of `specs` (`owner` names its op or input)."""
        result: dict[str, Any] = {}
        for attr in tree.children if tree is not None else ():
            name_token, value = attr.children
            name = str(name_token)
            spec = next((s for s in specs if s.name == name), None)
            if spec is None:
                raise self.fail(name_token, f"{owner} has no attribute '{name}'")
            if name in result:
                raise self.fail(name_token, f"attribute '{name}' is given twice")
            result[name] = self.attr(spec.kind, value)
        return result

    # ---- values and ops -----------------------------------------------------------------------

    def define(self, graph: Graph, ref: lark.Tree, make) -> Value:
        name = self.name(ref.children[0])
        if name in self.values:
            raise self.fail(ref, f"%{name} is defined twice")
        value = make(name)
        self.values[name] = value
        return value

    def use(self, ref: lark.Tree) -> Value:
        name = self.name(ref.children[0])
        if name not in self.values:
            raise self.fail(ref, f"%{name} is used before it is defined (or never defined)")
        return self.values[name]

    def op(self, graph: Graph, tree: lark.Tree) -> None:
        result_ref, kind_token, dense, *rest = tree.children
        *operand_refs, attr_dict, signature, loc = rest
        kind = str(kind_token)
        if kind not in OP_TABLE:
            raise self.fail(kind_token, f"unknown op '{kind}'")
        operands = [self.use(ref) for ref in operand_refs if ref is not None]
        types = [self.type(t) for t in signature.children if t is not None]
        if len(types) == 1 and operands:
            raise self.fail(signature, f"op '{kind}' has operands: write ': operand types -> result type'")
        declared, result_type = types[:-1], types[-1]
        if len(declared) != len(operands):
            raise self.fail(signature, f"op '{kind}' has {len(operands)} operand(s) but "
                                       f"{len(declared)} operand type(s)")
        for i, (value, t) in enumerate(zip(operands, declared)):
            if value.type != t:
                raise self.fail(signature, f"operand {i} %{value.name} has type {format_type(value.type)}, "
                                           f"the signature says {format_type(t)}")
        attrs = self.attrs(OP_TABLE[kind].attrs, f"op '{kind}'", attr_dict)
        if (dense is not None) != (kind == "const"):
            raise self.fail(kind_token, "only const takes a dense value before its type"
                            if dense is not None else "const needs a dense<...> value")
        if dense is not None:
            attrs["value"] = self.dense(dense, result_type)
        locs = tuple(self.string(t) for t in loc.children) if loc is not None else ()
        result = self.define(graph, result_ref, lambda name: Value(name, result_type))
        graph.ops.append(Op(kind, operands, normalize_attrs(kind, attrs), result, locs))

    def graph(self, tree: lark.Tree) -> Graph:
        name_token, *rest = tree.children
        graph = Graph(self.name(name_token))
        ops = [c for c in rest if isinstance(c, lark.Tree) and c.data == "op"]
        args = [c for c in rest if isinstance(c, lark.Tree) and c.data == "arg"]
        outputs = [c for c in rest if isinstance(c, lark.Tree) and c.data == "value_ref"]
        for arg in args:
            ref, t, attr_dict = arg.children
            value = self.define(graph, ref, lambda name: Value(name, self.type(t)))
            graph.inputs.append(value)
            if attr_dict is not None:
                graph.input_attrs[value] = normalize_input_attrs(
                    self.attrs(ANNOTATIONS, f"graph input %{value.name}", attr_dict))
        for op in ops:
            self.op(graph, op)
        graph.set_outputs(self.use(ref) for ref in outputs)
        graph.refresh_names()
        return graph


def parse_graph(text: str, filename: str = "<vir>") -> Graph:
    """Parse `.vir` text into a verified Graph; raises `IRParseError` (bad text) or `IRError`."""
    try:
        tree = _lark_parser().parse(text)
    except lark.exceptions.UnexpectedInput as err:
        expected = getattr(err, "expected", None) or getattr(err, "allowed", None) or ()
        readable = sorted(_TERMINAL_NAMES.get(name, name) for name in expected)
        hint = f" (expected {' or '.join(readable[:8])})" if readable else ""
        found = text[err.pos_in_stream:err.pos_in_stream + 20].split("\n")[0] if err.pos_in_stream is not None else ""
        raise IRParseError(f"{filename}:{err.line}:{err.column}: unexpected {found!r}{hint}") from None
    graph = _GraphBuilder(filename).graph(tree.children[0])
    try:
        verify(graph)
    except IRParseError:
        raise
    except IRError as err:
        raise IRError(f"{filename}: {err}") from None
    return graph
