"""`import_model`: an ONNX model (QDQ or QOperator, opsets 13-21) -> a verified IR `Graph`.

Steps: load and check (`loading`), let onnxruntime optimise (`ort_optimizer`), recover the
user's tensor names (`names`), find the multi-node groups (`patterns`), then walk the optimised
graph in order and lower every node with the handler registered for its op type in `HANDLERS`.
An op type without a handler stops the import with the node's name, its op type and the list
of what is supported; nothing is silently dropped. DequantizeLinear nodes are lowered lazily,
where their output is needed (see `lowering`). The result is verified before it is returned.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass

import onnx

from compiler.frontend import float_ops, layout_ops, quantized_ops
from compiler.frontend.errors import FrontendError, node_error
from compiler.frontend.loading import load_checked_model
from compiler.frontend.lowering import Lowering
from compiler.frontend.names import original_tensor_names
from compiler.frontend.ort_optimizer import optimized_by_onnxruntime
from compiler.frontend.patterns import find_groups
from compiler.ir.graph import Graph
from compiler.ir.types import TensorType

MS = "com.microsoft"

# (domain, op type) -> handler(lowering, node)
HANDLERS = {
    ("", "QuantizeLinear"): quantized_ops.lower_quantize,
    ("", "QLinearMatMul"): quantized_ops.lower_qlinear_matmul,
    ("", "QLinearConv"): quantized_ops.lower_qlinear_conv,
    ("", "MatMulInteger"): quantized_ops.lower_matmul_integer,
    (MS, "QGemm"): quantized_ops.lower_qgemm,
    (MS, "QLinearConv"): quantized_ops.lower_qlinear_conv,
    (MS, "QLinearAdd"): quantized_ops.lower_qlinear_add,
    (MS, "QLinearMul"): quantized_ops.lower_qlinear_mul,
    (MS, "QLinearSoftmax"): quantized_ops.lower_qlinear_softmax,
    (MS, "QLinearConcat"): quantized_ops.lower_qlinear_concat,
    ("", "LayerNormalization"): float_ops.lower_layer_normalization,
    ("", "ReduceMean"): float_ops.lower_reduce_mean,
    ("", "Softmax"): float_ops.lower_softmax,
    ("", "Identity"): float_ops.lower_identity,
    **{("", op): float_ops.lower_elementwise for op in float_ops.ELEMENTWISE},
    ("", "Reshape"): layout_ops.lower_reshape,
    ("", "Transpose"): layout_ops.lower_transpose,
    ("", "Gather"): layout_ops.lower_gather,
    ("", "Slice"): layout_ops.lower_slice,
    ("", "Concat"): layout_ops.lower_concat,
    ("", "Squeeze"): layout_ops.lower_squeeze,
    ("", "Unsqueeze"): layout_ops.lower_unsqueeze,
    ("", "Flatten"): layout_ops.lower_flatten,
    ("", "Split"): layout_ops.lower_split,
}
LAZY = {"DequantizeLinear", "Constant"}


@dataclass
class ImportedModel:
    """The IR plus what ties it to onnxruntime: its optimised graph and, for every IR value that
    holds an ONNX tensor of that graph, the tensor's name there (`onnx_tensor[ir_name]`)."""

    graph: Graph
    optimized: onnx.ModelProto
    onnx_tensor: dict[str, str]


def import_model(path_or_model: str | pathlib.Path | onnx.ModelProto) -> Graph:
    """The IR of an ONNX model, mirroring the kernels onnxruntime runs for it."""
    return import_model_with_tensors(path_or_model).graph


def import_model_with_tensors(path_or_model: str | pathlib.Path | onnx.ModelProto) -> ImportedModel:
    """`import_model`, also returning onnxruntime's optimised graph and the tensor map."""
    checked = load_checked_model(path_or_model)
    model = checked.model
    optimized = optimized_by_onnxruntime(model, checked.serialized)
    lw = Lowering(optimized, original_tensor_names(model.graph, optimized.graph))
    for value in optimized.graph.input:
        if value.name not in lw.view.constants:
            lw.values[value.name] = lw.graph.add_input(value.name, _input_type(value))
    groups = find_groups(lw.view)
    group_of_last = {id(g.nodes[-1]): g for g in groups}
    grouped = {id(n) for g in groups for n in g.nodes}
    for node in lw.view.nodes:
        if id(node) in group_of_last:
            group_of_last[id(node)].lower(lw)
        elif id(node) in grouped or (node.op_type in LAZY and node.domain in ("", "ai.onnx")):
            continue
        else:
            _handler(node)(lw, node)
    lw.graph.set_outputs([lw.value(name) for name in lw.view.output_names])
    lw.graph.verify()
    onnx_tensor = {}
    for tensor, value in lw.values.items():
        onnx_tensor.setdefault(value.name, tensor)
    return ImportedModel(lw.graph, optimized, onnx_tensor)


def _handler(node: onnx.NodeProto):
    domain = "" if node.domain == "ai.onnx" else node.domain
    handler = HANDLERS.get((domain, node.op_type))
    if handler is None:
        supported = sorted({op for _, op in HANDLERS} | LAZY)
        raise node_error(node, f"op type not supported by vitc (supported: {', '.join(supported)})")
    return handler


def _input_type(value: onnx.ValueInfoProto) -> TensorType:
    tensor = value.type.tensor_type
    if tensor.elem_type != onnx.TensorProto.FLOAT:
        raise FrontendError(f"graph input '{value.name}' has element type "
                            f"{onnx.TensorProto.DataType.Name(tensor.elem_type)}; vitc models take float32 inputs")
    return TensorType("f32", tuple(d.dim_value for d in tensor.shape.dim))
