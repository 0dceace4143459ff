"""Elementwise chains on one 8-bit tensor, found in onnxruntime's optimised graph, as ONNX text.

A chain starts at an 8-bit tensor x and grows through elementwise nodes (DQ, Q, float unary and
binary ops, QLinearAdd / QLinearMul / QLinearSigmoid / QLinearLeakyRelu / QLinearWhere) whose every other input
is either already in the chain or a one-element constant (or its DequantizeLinear). It ends at the last 8-bit tensor y
such that nothing between x and y is read outside the chain. Then y depends only on the code of
x, element by element (GELU as Div -> Erf -> Add -> Mul(x, .) -> Mul with its inner Q/DQ pairs,
a Div by a scalar before Softmax, Pow/Sqrt in a decomposed LayerNorm, the dynamo exporter's
Where(IsNaN(p), 0, p) guard after Softmax).

The frontend lowers each chain to one `onnx_chain` op: `chain_text` writes the chain's nodes,
exactly as they stand in the optimised graph (same kernels and dtypes, after the S8->U8
rewrite), into a small model whose input is x (in x's own shape) and prints it in onnx's
textual syntax, checking that it reads back to the same nodes and constants bit for bit.
The reference interpreter runs that model with onnxruntime, and the `tabulate` pass turns it
into a 256-entry `table` (compiler.reference.kernels.onnx_chain), so both are exact by
construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
import onnx.parser
import onnx.printer
from onnx import helper, numpy_helper

from compiler.frontend.errors import FrontendError
from compiler.frontend.onnx_view import OnnxView
from compiler.ir.types import TensorType

MS = "com.microsoft"
_FLOAT_ELEMENTWISE = ("Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Erf", "Tanh", "Exp", "Log", "Sigmoid",
                      "Relu", "Neg", "Abs", "Reciprocal", "LeakyRelu", "HardSigmoid", "Softplus", "Clip", "Gelu",
                      "IsNaN", "Where", "Not", "Equal", "Greater", "Less")
# com.microsoft: the quantized elementwise kernels, and the GELU fusions onnxruntime may make
_MICROSOFT_ELEMENTWISE = ("QLinearAdd", "QLinearMul", "QLinearSigmoid", "QLinearLeakyRelu", "QLinearWhere", "Gelu",
                          "FastGelu", "QuickGelu")
# op type -> input indices of (scale, zero point) of its 8-bit output
OUTPUT_PARAMS = {"QuantizeLinear": (1, 2), "QLinearAdd": (6, 7), "QLinearMul": (6, 7),
                 "QLinearSigmoid": (3, 4), "QLinearLeakyRelu": (3, 4), "QLinearWhere": (7, 8)}


def _kind(node: onnx.NodeProto) -> str | None:
    """'dq', 'q', 'compute' for a node a chain may contain, else None."""
    if node.domain in ("", "ai.onnx"):
        if node.op_type == "DequantizeLinear":
            return "dq"
        if node.op_type == "QuantizeLinear":
            return "q"
        return "compute" if node.op_type in _FLOAT_ELEMENTWISE else None
    if node.domain == MS and node.op_type in _MICROSOFT_ELEMENTWISE:
        return "compute"
    return None


@dataclass
class TableChain:
    """Nodes (in graph order) computing 8-bit `output` elementwise from 8-bit `source`."""

    source: str
    output: str
    nodes: list[onnx.NodeProto]


def find_table_chains(view: OnnxView) -> list[TableChain]:
    """Every maximal chain, in graph order; no node belongs to two chains."""
    position = {id(n): i for i, n in enumerate(view.nodes)}
    claimed: set[int] = set()
    chains = []
    for source in _eight_bit_sources(view):
        chain = _chain_from(view, source, position, claimed)
        if chain is not None:
            claimed.update(id(n) for n in chain.nodes if not _is_constant_node(view, n))
            chains.append(chain)
    return chains


def _eight_bit_sources(view: OnnxView) -> list[str]:
    """Computed tensors that some chain-capable node reads as 8-bit codes, in graph order."""
    eight_bit_inputs = {"DequantizeLinear": (0,), "QLinearAdd": (0, 3), "QLinearMul": (0, 3),
                        "QLinearSigmoid": (0,), "QLinearLeakyRelu": (0,), "QLinearWhere": (1, 4)}
    seen, sources = set(), []
    for node in view.nodes:
        if _kind(node) is None:
            continue
        for index in eight_bit_inputs.get(node.op_type, ()):
            name = node.input[index]
            if name not in seen and not view.is_constant(name):
                seen.add(name)
                sources.append(name)
    return sources


def _is_scalar_constant(view: OnnxView, name: str) -> bool:
    return not name or (view.is_constant(name) and view.constants[name].size == 1)


def _constant_dequantize(view: OnnxView, name: str) -> onnx.NodeProto | None:
    """The DequantizeLinear producing `name` from one-element constants only, else None."""
    producer = view.producer.get(name)
    if producer is None or producer.op_type != "DequantizeLinear":
        return None
    return producer if all(_is_scalar_constant(view, i) for i in producer.input) else None


def _is_constant_node(view: OnnxView, node: onnx.NodeProto) -> bool:
    return all(view.is_constant(i) for i in node.input if i)


def _chain_from(view: OnnxView, source: str, position: dict[int, int], claimed: set[int]) -> TableChain | None:
    region: list[onnx.NodeProto] = []
    members: set[int] = set()
    tensors = {source}
    grown = True
    while grown:
        grown = False
        for name in list(tensors):
            for node in view.users(name):
                if id(node) in claimed or id(node) in members or _kind(node) is None:
                    continue
                constant_inputs = [_constant_dequantize(view, i) for i in node.input if i not in tensors]
                if all(i in tensors or _is_scalar_constant(view, i) or _constant_dequantize(view, i)
                       for i in node.input):
                    for added in [dq for dq in constant_inputs if dq is not None] + [node]:
                        if id(added) not in members:
                            members.add(id(added))
                            region.append(added)
                    tensors.update(o for o in node.output if o)
                    grown = True
    region.sort(key=lambda n: position[id(n)])
    for end in reversed(region):
        if end.op_type not in OUTPUT_PARAMS:
            continue
        nodes = _ancestors_within(end, region, view)
        if _is_closed(nodes, end.output[0], view) and any(_kind(n) == "compute" for n in nodes):
            return TableChain(source, end.output[0], nodes)
    return None


def _ancestors_within(end: onnx.NodeProto, region: list[onnx.NodeProto], view: OnnxView) -> list[onnx.NodeProto]:
    members = {id(n) for n in region}
    keep, stack = {id(end)}, [end]
    while stack:
        for name in stack.pop().input:
            producer = view.producer.get(name)
            if producer is not None and id(producer) in members and id(producer) not in keep:
                keep.add(id(producer))
                stack.append(producer)
    return [n for n in region if id(n) in keep]


def _is_closed(nodes: list[onnx.NodeProto], output: str, view: OnnxView) -> bool:
    """Nothing the chain computes, except `output`, is read outside it or is a graph output."""
    members = {id(n) for n in nodes}
    for node in nodes:
        if _is_constant_node(view, node):
            continue  # a dequantized constant may be shared with other consumers
        for name in node.output:
            if not name or name == output:
                continue
            if view.is_graph_output(name) or any(id(u) not in members for u in view.users(name)):
                return False
    return True


def chain_text(model: onnx.ModelProto, view: OnnxView, nodes: list[onnx.NodeProto], source: str,
               source_type: TensorType, output: str, output_dtype: np.dtype) -> str:
    """`nodes` (from `model`) as one small ONNX model in onnx's textual syntax: input `x` (tensor
    `source`, of `source_type`), output `y` (tensor `output`, same shape), every constant inline,
    the opsets the nodes use, on one line.

    For a short, readable text the tensors are renamed (x, y, t0.. for intermediates, c0.. for
    constants) and node names dropped (the op's loc keeps them); names change nothing onnxruntime
    computes. The text must read back to the very nodes and constants (bit for bit), else the
    chain is refused."""
    used = sorted({i for n in nodes for i in n.input if i and view.is_constant(i) and i != source})
    names = {source: "x", output: "y", **{name: f"c{i}" for i, name in enumerate(used)}}
    for node in nodes:
        for name in node.output:
            names.setdefault(name, f"t{len(names) - len(used) - 2}")
    renamed = [_renamed(node, names) for node in nodes]
    initializers = [numpy_helper.from_array(view.constants[name], names[name]) for name in used]
    shape = list(source_type.shape)
    graph = helper.make_graph(
        renamed, "chain",
        [helper.make_tensor_value_info("x", helper.np_dtype_to_tensor_dtype(source_type.np_dtype), shape)],
        [helper.make_tensor_value_info("y", helper.np_dtype_to_tensor_dtype(np.dtype(output_dtype)), shape)],
        initializers)
    domains = {"" if n.domain == "ai.onnx" else n.domain for n in nodes} | {""}
    opsets = [o for o in model.opset_import if o.domain in domains]
    printed = onnx.printer.to_text(helper.make_model(graph, opset_imports=opsets, ir_version=model.ir_version))
    text = " ".join(line.strip() for line in printed.splitlines())  # one line: the syntax ignores layout
    _check_reads_back(text, graph, nodes)
    return text


def _renamed(node: onnx.NodeProto, names: dict[str, str]) -> onnx.NodeProto:
    copy = onnx.NodeProto()
    copy.CopyFrom(node)
    copy.ClearField("name")
    copy.input[:] = [names.get(i, i) for i in node.input]
    copy.output[:] = [names.get(o, o) for o in node.output]
    return copy


def _check_reads_back(text: str, graph: onnx.GraphProto, nodes: list[onnx.NodeProto]) -> None:
    names = ", ".join(repr(n.name) for n in nodes)
    try:
        parsed = onnx.parser.parse_model(text).graph
    except Exception as err:  # onnx raises its own ParseError type
        raise FrontendError(f"nodes {names}: onnx cannot read its own text of the chain back: {err}") from None
    same_nodes = [_normalized(n) for n in parsed.node] == [_normalized(n) for n in graph.node]
    same_constants = [(t.name, numpy_helper.to_array(t).tobytes(), numpy_helper.to_array(t).dtype)
                      for t in parsed.initializer] == [(t.name, numpy_helper.to_array(t).tobytes(),
                                                        numpy_helper.to_array(t).dtype) for t in graph.initializer]
    if not (same_nodes and same_constants):
        raise FrontendError(f"nodes {names}: onnx's textual syntax does not hold the chain exactly")


def _normalized(node: onnx.NodeProto) -> bytes:
    """A node's bytes without what does not change what it computes: its doc string (the text form
    drops it) and the spelling of the default domain ("", "ai.onnx" and unset are the same)."""
    copy = onnx.NodeProto()
    copy.CopyFrom(node)
    copy.domain = "" if node.domain == "ai.onnx" else node.domain
    copy.ClearField("doc_string")
    return copy.SerializeToString()
