"""Lowering of the float32 ops onnxruntime leaves between DequantizeLinear and QuantizeLinear.

Elementwise ops map one to one (`add sub mul div pow sqrt erf tanh exp`), as do MatMul (a float
MatMul that onnxruntime did not fuse, see `compiler.frontend.ort_optimizer`), ReduceMean,
LayerNormalization and Softmax (onnxruntime leaves it float, DQ -> Softmax -> Q, when it does not
fuse it to QLinearSoftmax, e.g. behind the dynamo exporter's IsNaN/Where guard); Identity is an
alias. Softmax always has opset-13 semantics here (one axis, default -1): `loading` refuses
opsets below 13. Every operand must be float32: an integer tensor
reaching a float op means a pattern the frontend does not know, and it stops there.
"""

from __future__ import annotations

import numpy as np
import onnx

from compiler.frontend.errors import node_error
from compiler.frontend.lowering import Lowering, normalized_axis
from compiler.frontend.onnx_view import attribute

ELEMENTWISE = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Pow": "pow", "Sqrt": "sqrt",
               "Erf": "erf", "Tanh": "tanh", "Exp": "exp", "MatMul": "matmul"}


def _float_operands(lw: Lowering, node: onnx.NodeProto, names) -> list:
    operands = [lw.value(name, node) for name in names]
    for name, value in zip(names, operands):
        if value.type.dtype != "f32":
            raise node_error(node, f"input '{name}' is {value.type.dtype}; only float32 is supported here")
    return operands


def lower_elementwise(lw: Lowering, node: onnx.NodeProto) -> None:
    operands = _float_operands(lw, node, list(node.input))
    lw.emit(ELEMENTWISE[node.op_type], operands, node, node.output[0])


def lower_identity(lw: Lowering, node: onnx.NodeProto) -> None:
    lw.alias(node.output[0], lw.value(node.input[0], node))


def lower_reduce_mean(lw: Lowering, node: onnx.NodeProto) -> None:
    (x,) = _float_operands(lw, node, [node.input[0]])
    axes_input = lw.view.optional_input(node, 1)
    axes = lw.view.constant(node, axes_input).tolist() if axes_input else attribute(node, "axes", None)
    if not axes:
        if attribute(node, "noop_with_empty_axes", 0):
            lw.alias(node.output[0], x)
            return
        axes = list(range(x.type.rank))
    axes = tuple(sorted(normalized_axis(node, int(a), x.type.rank) for a in axes))
    lw.emit("reduce_mean", [x], node, node.output[0], attrs={"axes": axes, "keepdims": int(attribute(node, "keepdims", 1))})


def lower_softmax(lw: Lowering, node: onnx.NodeProto) -> None:
    (x,) = _float_operands(lw, node, [node.input[0]])
    axis = normalized_axis(node, attribute(node, "axis", -1), x.type.rank)
    lw.emit("softmax", [x], node, node.output[0], attrs={"axis": axis})


def lower_layer_normalization(lw: Lowering, node: onnx.NodeProto) -> None:
    if any(node.output[1:]):
        raise node_error(node, "LayerNormalization's Mean / InvStdDev outputs are not supported")
    if attribute(node, "stash_type", 1) != 1:
        raise node_error(node, "LayerNormalization with stash_type other than float32 is not supported")
    operands = _float_operands(lw, node, [name for name in node.input if name])
    axis = normalized_axis(node, attribute(node, "axis", -1), operands[0].type.rank)
    epsilon = float(np.float32(attribute(node, "epsilon", 1e-5)))
    lw.emit("layernorm", operands, node, node.output[0], attrs={"axis": axis, "epsilon": epsilon})
