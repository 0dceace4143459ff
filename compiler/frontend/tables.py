"""Elementwise chains on one 8-bit tensor become one 256-entry `table`, evaluated by onnxruntime.

A chain starts at an 8-bit tensor x and grows through elementwise nodes (DQ, Q, float unary and
binary ops, QLinearAdd / QLinearMul / QLinearSigmoid / QLinearLeakyRelu / QLinearWhere) whose every other input
is either already in the chain or a one-element constant (or its DequantizeLinear). It ends at the last 8-bit tensor y
such that nothing between x and y is read outside the chain. Then y depends only on the code of
x, element by element (GELU as Div -> Erf -> Add -> Mul(x, .) -> Mul with its inner Q/DQ pairs,
a Div by a scalar before Softmax, Pow/Sqrt in a decomposed LayerNorm, the dynamo exporter's
Where(IsNaN(p), 0, p) guard after Softmax).

The table is exact by construction: the chain's nodes, taken from onnxruntime's optimised graph,
are written into a small model whose input is x, and onnxruntime runs it with optimisations
disabled, i.e. with exactly the kernels (same dtypes, after the S8->U8 rewrite) that run in the
full model, on all 256 codes laid out in x's own shape (so vectorised kernels see the same
lengths). Every code must give one output wherever it sits, else the chain is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

from compiler.frontend.errors import FrontendError
from compiler.frontend.onnx_view import OnnxView
from compiler.frontend.ort_optimizer import run_without_optimization

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


def evaluate_table(model: onnx.ModelProto, view: OnnxView, nodes: list[onnx.NodeProto], source: str,
                   source_dtype: np.dtype, source_shape: tuple[int, ...], output: str,
                   output_dtype: np.dtype) -> np.ndarray:
    """Run `nodes` (from `model`) with onnxruntime on all 256 codes: the 256-entry table."""
    used = {i for n in nodes for i in n.input if i}
    initializers = [numpy_helper.from_array(view.constants[name], name) for name in sorted(used)
                    if view.is_constant(name) and name != source]
    graph = helper.make_graph(
        nodes, "table_chain",
        [helper.make_tensor_value_info(source, helper.np_dtype_to_tensor_dtype(np.dtype(source_dtype)), source_shape)],
        [helper.make_tensor_value_info(output, helper.np_dtype_to_tensor_dtype(np.dtype(output_dtype)), None)],
        initializers)
    small = helper.make_model(graph, opset_imports=list(model.opset_import), ir_version=model.ir_version)
    size = math.prod(source_shape)
    codes_seen = np.zeros(256, dtype=bool)
    table = np.zeros(256, dtype=output_dtype)
    for start in range(0, 256, max(size, 1)):
        codes = ((np.arange(size) + start) % 256).astype(np.uint8)
        x = codes.view(np.dtype(source_dtype)).reshape(source_shape)
        (y,) = run_without_optimization(small, {source: x})
        if y.shape != tuple(source_shape):
            raise FrontendError(f"nodes {', '.join(repr(n.name) for n in nodes)}: the elementwise chain "
                                f"changes the shape {list(source_shape)} -> {list(y.shape)}")
        y = y.ravel()
        candidate = table.copy()
        candidate[codes] = y
        agrees_with_earlier = np.all(candidate[codes_seen] == table[codes_seen])
        if not agrees_with_earlier or not np.array_equal(candidate[codes], y):
            raise FrontendError(f"nodes {', '.join(repr(n.name) for n in nodes)}: onnxruntime gives one "
                                f"code different results at different positions; not a table")
        table = candidate
        codes_seen[codes] = True
    return table
