"""Groups of nodes of onnxruntime's optimised graph that become one IR op.

Found before lowering, in priority order; a node belongs to at most one group:
1. `TableChain` (compiler.frontend.tables): an elementwise chain on one 8-bit tensor -> `onnx_chain`.
2. `FloatBinary`: DQ(a), DQ(b) -> Add or Mul -> Q, which onnxruntime runs in float because an
   input is int8 (see compiler.frontend.ort_optimizer) -> `qadd` / `qmul` mode `float`, which
   is exactly Q(f32(DQ(a) op DQ(b))).
Q/DQ pairs around layout ops need no group: onnxruntime 1.32 drops the pairs with equal
parameters around Reshape, Transpose, Gather, Slice, Flatten, Squeeze and Unsqueeze itself, and
a QLinearConcat whose inputs share the output's parameters becomes a plain `concat`
(tests/compiler/frontend/test_layout_ops.py pins both).
A group is lowered when the walk reaches its last node; by then all of its inputs exist.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx

from compiler.frontend.lowering import Lowering
from compiler.frontend.onnx_view import OnnxView
from compiler.frontend.tables import OUTPUT_PARAMS, TableChain, chain_text, find_table_chains
from compiler.ir.types import TensorType

def _default_domain(node: onnx.NodeProto) -> bool:
    return node.domain in ("", "ai.onnx")


@dataclass
class ChainGroup:
    chain: TableChain

    @property
    def nodes(self) -> list[onnx.NodeProto]:
        return self.chain.nodes

    def lower(self, lw: Lowering) -> None:
        chain = self.chain
        x = lw.value(chain.source)
        end = chain.nodes[-1]
        scale_index, zero_index = OUTPUT_PARAMS[end.op_type]
        zero_point = lw.view.optional_input(end, zero_index)
        quant = lw.quant(end, end.input[scale_index], zero_point, x.type.rank)
        result = TensorType(lw.code_dtype(end, zero_point, np.dtype(np.uint8)), x.type.shape, quant)
        text = chain_text(lw.model, lw.view, chain.nodes, chain.source, x.type, chain.output, result.np_dtype)
        lw.emit("onnx_chain", [x], chain.nodes, chain.output, result, {"model": text})


@dataclass
class FloatBinary:
    nodes: list[onnx.NodeProto]  # [op, quantize]

    def lower(self, lw: Lowering) -> None:
        op, quantize = self.nodes
        operands = []
        for name in op.input:
            dq = lw.view.producer[name]
            operands.append(lw.quantized(dq, dq.input[0], dq.input[1], lw.view.optional_input(dq, 2)))
        zero_point = lw.view.optional_input(quantize, 2)
        shape = np.broadcast_shapes(*(v.type.shape for v in operands))
        quant = lw.quant(quantize, quantize.input[1], zero_point, len(shape))
        result = TensorType(lw.code_dtype(quantize, zero_point, np.dtype(np.uint8)), shape, quant)
        kind = {"Add": "qadd", "Mul": "qmul"}[op.op_type]
        lw.emit(kind, operands, self.nodes, quantize.output[0], result, {"mode": "float"})


def find_groups(view: OnnxView) -> list:
    """Every group, in the priority order of the module docstring."""
    groups: list = [ChainGroup(chain) for chain in find_table_chains(view)]
    claimed = {id(n) for g in groups for n in g.nodes}
    for node in view.nodes:
        if id(node) in claimed or not _default_domain(node):
            continue
        group = _float_binary(view, node)
        if group is not None and not any(id(n) in claimed for n in group.nodes):
            claimed.update(id(n) for n in group.nodes)
            groups.append(group)
    return groups


def _dq_producer(view: OnnxView, name: str) -> onnx.NodeProto | None:
    producer = view.producer.get(name)
    return producer if producer is not None and producer.op_type == "DequantizeLinear" else None


def _single_quantize_user(view: OnnxView, node: onnx.NodeProto) -> onnx.NodeProto | None:
    out = node.output[0]
    users = view.users(out)
    if view.is_graph_output(out) or len(users) != 1 or users[0].op_type != "QuantizeLinear":
        return None
    return users[0]


def _per_tensor(view: OnnxView, node: onnx.NodeProto) -> bool:
    return view.is_constant(node.input[1]) and view.constants[node.input[1]].size == 1


def _eight_bit(view: OnnxView, node: onnx.NodeProto) -> bool:
    """A Q/DQ whose codes are int8 or uint8 (its zero point's type; none means uint8)."""
    zero = node.input[2] if len(node.input) > 2 and node.input[2] else None
    return zero is None or (view.is_constant(zero) and view.constants[zero].dtype in (np.int8, np.uint8))


def _float_binary(view: OnnxView, node: onnx.NodeProto) -> FloatBinary | None:
    if node.op_type not in ("Add", "Mul") or len(node.input) != 2:
        return None
    dqs = [_dq_producer(view, name) for name in node.input]
    quantize = _single_quantize_user(view, node)
    if quantize is None or any(dq is None for dq in dqs):
        return None
    if not all(_per_tensor(view, n) and _eight_bit(view, n) for n in dqs + [quantize]):
        return None
    return FloatBinary([node, quantize])
