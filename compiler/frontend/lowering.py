"""The lowering state: ONNX tensors of onnxruntime's optimised graph -> IR values.

`Lowering` walks the optimised graph in topological order and hands each node (or each group
of nodes found by `compiler.frontend.patterns`) to its handler. Handlers ask for operands
through three doors, which keep the invariants below:
- `value(name)`: the IR value of a tensor. A DequantizeLinear is lowered lazily here, where its
  output is first needed: of a constant it becomes an exact float32 constant (the weight's
  dequantized values, computed as onnxruntime's DequantizeLinear does), of an activation a
  `dequantize` op. So a DQ that feeds only fused kernels leaves no trace in the IR.
- `quantized(node, data, scale, zero_point)`: an 8-bit (or int32) operand with its quantization.
  A constant becomes a quantized `const`; an activation must already carry exactly those
  parameters (otherwise the model dequantizes with other parameters than it quantized with,
  which vitc refuses).
- `emit(...)`: append an op whose result stands for ONNX tensor `out`, named after the user's
  tensor (see `compiler.frontend.names`), with the ONNX node names as `loc`.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import onnx

from compiler.frontend.errors import FrontendError, node_error
from compiler.frontend.onnx_view import OnnxView, attribute
from compiler.ir.errors import IRError
from compiler.ir.graph import Graph, Value
from compiler.ir.types import Quant, TensorType, dtype_of_numpy

DEQUANTIZE = "DequantizeLinear"


class Lowering:
    def __init__(self, model: onnx.ModelProto, tensor_names: dict[str, str]):
        self.model = model
        self.view = OnnxView(model.graph)
        self.graph = Graph(_graph_name(model))
        self.tensor_names = tensor_names
        self.values: dict[str, Value] = {}
        self._quantized_constants: dict[tuple[str, Quant], Value] = {}
        # (ONNX tensor, result type) -> its requantized value, so a tensor read twice by one
        # QLinearConcat is requantized once
        self.requantized: dict[tuple[str, TensorType], Value] = {}

    # ---- naming ------------------------------------------------------------------------------

    def name_of(self, tensor: str) -> str:
        """The IR name for ONNX tensor `tensor`: the user's tensor name where it is known."""
        return self.tensor_names.get(tensor, tensor)

    # ---- operands ------------------------------------------------------------------------------

    def value(self, tensor: str, node: onnx.NodeProto | None = None) -> Value:
        """The IR value of ONNX tensor `tensor` (lowering a pending DequantizeLinear now)."""
        if tensor in self.values:
            return self.values[tensor]
        producer = self.view.producer.get(tensor)
        if producer is not None and producer.op_type == DEQUANTIZE:
            return self._lower_dequantize(producer)
        if self.view.is_constant(tensor):
            return self._float_or_index_constant(tensor, node)
        reason = f"input '{tensor}' is not computed by any lowered node (unsupported graph or frontend bug)"
        raise node_error(node, reason) if node is not None else FrontendError(f"graph output: {reason}")

    def quantized(self, node: onnx.NodeProto, data: str, scale: str, zero_point: str | None,
                  axis: int | None = None) -> Value:
        """Operand `data` quantized with (scale, zero_point[, axis]) as `node` reads it."""
        if self.view.is_constant(data):
            array = self.view.constant(node, data)
            quant = self.quant(node, scale, zero_point, array.ndim, axis)
            _check_code_dtype(node, data, array.dtype, self.code_dtype(node, zero_point, array.dtype))
            key = (data, quant)
            if key not in self._quantized_constants:
                self._quantized_constants[key] = self.constant(data, array, quant, [node.name])
            return self._quantized_constants[key]
        value = self.value(data, node)
        quant = self.quant(node, scale, zero_point, value.type.rank, axis)
        if value.type.quant != quant or value.type.dtype != self.code_dtype(node, zero_point, value.type.np_dtype):
            raise node_error(node, f"input '{data}' is {value.type.dtype} {value.type.quant} but the node "
                                   f"reads it with scale/zero point {quant}")
        return value

    def quant(self, node: onnx.NodeProto, scale: str, zero_point: str | None, rank: int,
              axis: int | None = None) -> Quant:
        """The `Quant` of (scale, zero_point) inputs of `node` for a tensor of rank `rank`."""
        scales = np.asarray(self.view.constant(node, scale), dtype=np.float32).ravel()
        zeros = (np.zeros(scales.shape, np.int64) if zero_point is None
                 else self.view.constant(node, zero_point).astype(np.int64).ravel())
        if scales.size == 1 and zeros.size == 1:
            return Quant((float(scales[0]),), (int(zeros[0]),))
        if zeros.size == 1:
            zeros = np.broadcast_to(zeros, scales.shape)
        axis = normalized_axis(node, 1 if axis is None else axis, rank)
        try:
            return Quant(tuple(float(s) for s in scales), tuple(int(z) for z in zeros), axis)
        except IRError as err:
            raise node_error(node, str(err)) from None

    def code_dtype(self, node: onnx.NodeProto, zero_point: str | None, default: np.dtype) -> str:
        """IR dtype of the codes: the zero point's dtype (ONNX's rule), else the data's."""
        if zero_point is None:
            return _ir_dtype(node, default)
        return _ir_dtype(node, self.view.constant(node, zero_point).dtype)

    def constant(self, tensor: str, array: np.ndarray, quant: Quant | None = None,
                 loc: Sequence[str] = ()) -> Value:
        """A `const` op for a (possibly transformed) constant, named after `tensor`."""
        return self.graph.add_const(array, quant, loc, self.name_of(tensor))

    def _float_or_index_constant(self, tensor: str, node: onnx.NodeProto | None) -> Value:
        array = self.view.constants[tensor]
        if array.dtype not in (np.float32, np.int64, np.int32):
            reason = f"constant '{tensor}' has dtype {array.dtype} without quantization parameters"
            raise node_error(node, reason) if node is not None else FrontendError(f"graph output: {reason}")
        value = self.constant(tensor, array, loc=[node.name] if node is not None else ())
        self.values[tensor] = value
        return value

    def _lower_dequantize(self, node: onnx.NodeProto) -> Value:
        data, scale = node.input[0], node.input[1]
        zero_point = self.view.optional_input(node, 2)
        axis = attribute(node, "axis", 1)
        if self.view.is_constant(data):
            array = self.view.constant(node, data)
            quant = self.quant(node, scale, zero_point, array.ndim, axis)
            value = self.constant(node.output[0], dequantized(array, quant), loc=[node.name])
        else:
            operand = self.quantized(node, data, scale, zero_point, axis)
            value = self.emit("dequantize", [operand], node, node.output[0])
        self.values[node.output[0]] = value
        return value

    # ---- results -------------------------------------------------------------------------------

    def emit(self, kind: str, operands: Sequence[Value], node: onnx.NodeProto | Sequence[onnx.NodeProto],
             out: str | None, result_type: TensorType | None = None, attrs: dict[str, Any] | None = None,
             hint: str | None = None) -> Value:
        """Append an IR op; `out` (an ONNX tensor, or None for an internal value) gets its result."""
        nodes = [node] if isinstance(node, onnx.NodeProto) else list(node)
        name = self.name_of(out) if out is not None else hint
        try:
            value = self.graph.add_op(kind, operands, result_type, attrs, [n.name for n in nodes], name)
        except IRError as err:
            raise node_error(nodes[-1], f"cannot be lowered to '{kind}': {err}") from None
        if out is not None:
            self.values[out] = value
        return value

    def alias(self, out: str, value: Value) -> None:
        """ONNX tensor `out` holds exactly `value` (an Identity, a dropped Q/DQ pair)."""
        self.values[out] = value


def dequantized(codes: np.ndarray, quant: Quant) -> np.ndarray:
    """onnxruntime's DequantizeLinear of a constant: f32(float(q - zp) * scale)."""
    scale = np.asarray(quant.scale, dtype=np.float32)
    zero = np.asarray(quant.zero_point, dtype=np.int64)
    if quant.axis is not None:
        shape = [1] * codes.ndim
        shape[quant.axis] = -1
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return (codes.astype(np.int64) - zero).astype(np.float32) * scale


def normalized_axis(node: onnx.NodeProto, axis: int, rank: int) -> int:
    """ONNX axis (negative counts from the end) -> 0..rank-1, or a node error."""
    if not -rank <= axis < rank:
        raise node_error(node, f"axis {axis} is out of range for rank {rank}")
    return axis % rank


def _ir_dtype(node: onnx.NodeProto, dtype: np.dtype) -> str:
    try:
        return dtype_of_numpy(dtype)
    except IRError:
        raise node_error(node, f"element type {np.dtype(dtype)} is not supported") from None


def _check_code_dtype(node: onnx.NodeProto, tensor: str, dtype: np.dtype, expected: str) -> None:
    if _ir_dtype(node, dtype) != expected:
        raise node_error(node, f"input '{tensor}' is {np.dtype(dtype)} but its zero point is {expected}")


def _graph_name(model: onnx.ModelProto) -> str:
    name = "".join(c if c.isalnum() or c == "_" else "_" for c in (model.graph.name or "model"))
    return name if name[:1].isalpha() or name[:1] == "_" else f"m_{name}"
