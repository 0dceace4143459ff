"""Lowering of onnxruntime's quantized kernels (QuantizeLinear and the QLinear* family).

Each handler reads the kernel's inputs exactly as onnxruntime does and stores the constants
the kernel derives from them (`compiler.frontend.kernel_constants`) as op attributes:
- QuantizeLinear -> `quantize`;
- QLinearMatMul / QGemm -> the kernel's three steps, unfused: `matmul_int` (the exact int32
  accumulator), `bias_add` (QGemm's int32 C), `requantize` (the multiplier and output zero point);
  the `fuse-requant` pass folds them into one `qmatmul`. A QGemm's transposed constant B is stored
  transposed back, so b is always [K, N]; alpha goes into the multiplier;
- QLinearConv -> the same three steps between layout ops, for the patch embedding only (kernel ==
  stride, no padding, group 1): integer accumulation is order-free, so this is exact;
- QLinearAdd / QLinearMul -> `qadd` / `qmul` mode `qlinear`; QLinearSoftmax -> `qsoftmax`;
- QLinearConcat -> `concat`, after requantising each input whose parameters differ from the
  output's with QLinearConcat itself: an `onnx_chain` of that one node for an activation, the
  codes it gives (evaluated by onnxruntime) for a constant;
- MatMulInteger -> `matmul_int`.
"""

from __future__ import annotations

import numpy as np
import onnx

from compiler.frontend import kernel_constants as kc
from compiler.frontend.errors import node_error
from compiler.frontend.lowering import Lowering, normalized_axis
from compiler.frontend.onnx_view import attribute
from compiler.frontend.tables import chain_text
from compiler.ir.graph import Value
from compiler.ir.rules import broadcast_shapes, matmul_shape
from compiler.ir.types import Quant, TensorType
from compiler.reference.kernels.onnx_chain import run_chain
from isa.errors import VitcError


def _result_type(lw: Lowering, node: onnx.NodeProto, shape, scale: str, zero_point: str | None) -> TensorType:
    quant = lw.quant(node, scale, zero_point, len(shape))
    return TensorType(lw.code_dtype(node, zero_point, np.dtype(np.uint8)), tuple(shape), quant)


def _scalar(lw: Lowering, node: onnx.NodeProto, name: str) -> np.float32:
    return np.float32(lw.view.constant(node, name).ravel()[0])


def _zero(lw: Lowering, node: onnx.NodeProto, name: str | None) -> int:
    return 0 if name is None else int(lw.view.constant(node, name).ravel()[0])


def lower_quantize(lw: Lowering, node: onnx.NodeProto) -> None:
    x = lw.value(node.input[0], node)
    if x.type.dtype != "f32":
        raise node_error(node, f"quantizes a {x.type.dtype} tensor; only float32 is supported")
    zero_point = lw.view.optional_input(node, 2)
    quant = lw.quant(node, node.input[1], zero_point, x.type.rank, attribute(node, "axis", 1))
    result = TensorType(lw.code_dtype(node, zero_point, np.dtype(np.uint8)), x.type.shape, quant)
    lw.emit("quantize", [x], node, node.output[0], result)


def lower_qlinear_matmul(lw: Lowering, node: onnx.NodeProto) -> None:
    a_data, a_scale, a_zero, b_data, b_scale, b_zero, y_scale, y_zero = node.input[:8]
    a = lw.quantized(node, a_data, a_scale, a_zero)
    b = lw.quantized(node, b_data, b_scale, b_zero, axis=-1)
    shape = matmul_shape(a.type.shape, b.type.shape)
    multiplier = kc.qmatmul_multiplier(lw.view.constant(node, a_scale), lw.view.constant(node, b_scale),
                                       lw.view.constant(node, y_scale))
    _emit_requantized_matmul(lw, node, [a, b], _result_type(lw, node, shape, y_scale, y_zero), multiplier,
                             node.output[0])


def _emit_requantized_matmul(lw: Lowering, node: onnx.NodeProto, operands: list[Value], result: TensorType,
                             multiplier: tuple[float, ...], out: str | None, hint: str | None = None) -> Value:
    """What onnxruntime's quantized matmul kernels compute, step by step: the exact int32
    accumulator of `operands` [a, b], plus the int32 bias when there is a third operand, then
    requantised into `result` with `multiplier`."""
    base = lw.name_of(out) if out is not None else hint
    acc = lw.emit("matmul_int", operands[:2], node, None, hint=f"{base}_acc")
    if len(operands) == 3:
        acc = lw.emit("bias_add", [acc, operands[2]], node, None, hint=f"{base}_acc_biased")
    return lw.emit("requantize", [acc], node, out, result, {"multiplier": multiplier}, hint=hint)


def lower_qgemm(lw: Lowering, node: onnx.NodeProto) -> None:
    view = lw.view
    y_scale, y_zero = view.optional_input(node, 7), view.optional_input(node, 8)
    if y_scale is None:
        raise node_error(node, "QGemm with a float output (no y_scale) is not supported")
    if attribute(node, "transA", 0):
        raise node_error(node, "QGemm with transA=1 is not supported")
    a = lw.quantized(node, node.input[0], node.input[1], node.input[2])
    if a.type.rank != 2:
        raise node_error(node, f"input A has rank {a.type.rank}; Gemm needs a matrix")
    b = _gemm_weight(lw, node)
    n = b.type.shape[1]
    operands = [a, b]
    bias_name = view.optional_input(node, 6)
    if bias_name is not None:
        bias = view.constant(node, bias_name)
        if bias.dtype != np.int32 or bias.size not in (1, n) or bias.ndim > 2:
            raise node_error(node, f"bias C must be int32 of shape [{n}] (or broadcast to it), got "
                                   f"{bias.dtype} {list(bias.shape)}")
        operands.append(lw.constant(bias_name, np.broadcast_to(bias.ravel(), (n,)).copy(), loc=[node.name]))
    multiplier = kc.qgemm_multiplier(attribute(node, "alpha", 1.0), view.constant(node, node.input[1]),
                                     view.constant(node, node.input[4]), view.constant(node, y_scale))
    shape = (a.type.shape[0], n)
    _emit_requantized_matmul(lw, node, operands, _result_type(lw, node, shape, y_scale, y_zero), multiplier,
                             node.output[0])


def _gemm_weight(lw: Lowering, node: onnx.NodeProto):
    """QGemm's B as a [K, N] operand (a transposed constant is stored transposed back)."""
    b_name, b_scale, b_zero = node.input[3], node.input[4], node.input[5]
    transposed = bool(attribute(node, "transB", 0))
    if not lw.view.is_constant(b_name):
        if transposed:
            raise node_error(node, "QGemm with transB=1 and a computed B is not supported")
        return lw.quantized(node, b_name, b_scale, b_zero, axis=-1)
    codes = lw.view.constant(node, b_name)
    if codes.ndim != 2:
        raise node_error(node, f"input B has rank {codes.ndim}; Gemm needs a matrix")
    if transposed:
        codes = codes.T
    quant = lw.quant(node, b_scale, b_zero, 2, axis=1)
    return lw.constant(b_name, np.ascontiguousarray(codes), quant, [node.name])


def lower_qlinear_conv(lw: Lowering, node: onnx.NodeProto) -> None:
    """The ViT patch embedding: non-overlapping patches, so a reshape/transpose and a matmul."""
    view = lw.view
    x = lw.quantized(node, node.input[0], node.input[1], node.input[2])
    weight = view.constant(node, node.input[3])
    if x.type.rank != 4 or weight.ndim != 4:
        raise node_error(node, "only 2-D convolutions (NCHW input, OIHW weight) are supported")
    out_channels, channels, kh, kw = weight.shape
    _check_patch_conv(node, x.type.shape, weight.shape)
    batch, _, height, width = x.type.shape
    rows, cols, k = height // kh, width // kw, channels * kh * kw
    out = node.output[0]
    base = lw.name_of(out)
    patches = lw.emit("reshape", [x], node, None, x.type.with_shape((batch, channels, rows, kh, cols, kw)),
                      hint=f"{base}_patches")
    patches = lw.emit("transpose", [patches], node, None, attrs={"perm": (0, 2, 4, 1, 3, 5)}, hint=f"{base}_patches_t")
    patches = lw.emit("reshape", [patches], node, None, x.type.with_shape((batch * rows * cols, k)),
                      hint=f"{base}_patch_rows")
    w_quant = lw.quant(node, node.input[4], node.input[5], 2, axis=1)
    w = lw.constant(node.input[3], np.ascontiguousarray(weight.reshape(out_channels, k).T), w_quant, [node.name])
    operands = [patches, w]
    bias_name = view.optional_input(node, 8)
    if bias_name is not None:
        operands.append(lw.constant(bias_name, view.constant(node, bias_name).astype(np.int32), loc=[node.name]))
    y_scale, y_zero = node.input[6], node.input[7]
    multiplier = kc.qmatmul_multiplier(view.constant(node, node.input[1]), view.constant(node, node.input[4]),
                                       view.constant(node, y_scale))
    y = _emit_requantized_matmul(lw, node, operands,
                                 _result_type(lw, node, (batch * rows * cols, out_channels), y_scale, y_zero),
                                 multiplier, None, hint=f"{base}_rows")
    y = lw.emit("reshape", [y], node, None, y.type.with_shape((batch, rows, cols, out_channels)), hint=f"{base}_nhwc")
    lw.emit("transpose", [y], node, out, attrs={"perm": (0, 3, 1, 2)})


def _check_patch_conv(node: onnx.NodeProto, x_shape, w_shape) -> None:
    kernel = tuple(w_shape[2:])
    strides = tuple(attribute(node, "strides", [1, 1]))
    pads = tuple(attribute(node, "pads", [0, 0, 0, 0]))
    dilations = tuple(attribute(node, "dilations", [1, 1]))
    auto_pad = attribute(node, "auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    problems = []
    if attribute(node, "group", 1) != 1:
        problems.append(f"group {attribute(node, 'group', 1)}")
    if strides != kernel:
        problems.append(f"strides {list(strides)} differ from the kernel {list(kernel)}")
    if any(pads) or auto_pad not in ("NOTSET", "VALID"):
        problems.append(f"padding {list(pads)} / auto_pad {auto_pad}")
    if any(d != 1 for d in dilations):
        problems.append(f"dilations {list(dilations)}")
    if x_shape[1] != w_shape[1]:
        problems.append(f"input has {x_shape[1]} channels, the weight {w_shape[1]}")
    if x_shape[2] % kernel[0] or x_shape[3] % kernel[1]:
        problems.append(f"image {list(x_shape[2:])} is not a whole number of {list(kernel)} patches")
    if problems:
        raise node_error(node, "only the patch-embedding convolution (kernel == stride, no padding, "
                               "group 1) is supported; this one has " + "; ".join(problems))


def _qbinary_operands(lw: Lowering, node: onnx.NodeProto):
    a = lw.quantized(node, node.input[0], node.input[1], node.input[2])
    b = lw.quantized(node, node.input[3], node.input[4], node.input[5])
    c_scale, c_zero = node.input[6], lw.view.optional_input(node, 7)
    shape = broadcast_shapes(a.type.shape, b.type.shape)
    return a, b, _result_type(lw, node, shape, c_scale, c_zero)


def lower_qlinear_add(lw: Lowering, node: onnx.NodeProto) -> None:
    a, b, result = _qbinary_operands(lw, node)
    constants = kc.qadd_constants(_scalar(lw, node, node.input[1]), a.type.quant.zero_point[0],
                                  _scalar(lw, node, node.input[4]), b.type.quant.zero_point[0],
                                  result.quant.scale[0], result.quant.zero_point[0])
    lw.emit("qadd", [a, b], node, node.output[0], result, {"mode": "qlinear", **constants})


def lower_qlinear_mul(lw: Lowering, node: onnx.NodeProto) -> None:
    a, b, result = _qbinary_operands(lw, node)
    multiplier = kc.qmul_multiplier(_scalar(lw, node, node.input[1]), _scalar(lw, node, node.input[4]),
                                    result.quant.scale[0])
    lw.emit("qmul", [a, b], node, node.output[0], result, {"mode": "qlinear", "multiplier": multiplier})


def lower_qlinear_softmax(lw: Lowering, node: onnx.NodeProto) -> None:
    x = lw.quantized(node, node.input[0], node.input[1], node.input[2])
    axis = normalized_axis(node, attribute(node, "axis", -1), x.type.rank)
    if attribute(node, "opset", 13) < 13 and axis != x.type.rank - 1:
        raise node_error(node, "QLinearSoftmax with opset < 13 semantics over a non-last axis is not supported")
    result = _result_type(lw, node, x.type.shape, node.input[3], lw.view.optional_input(node, 4))
    lw.emit("qsoftmax", [x], node, node.output[0], result, {"axis": axis})


def lower_qlinear_concat(lw: Lowering, node: onnx.NodeProto) -> None:
    y_scale, y_zero = node.input[0], node.input[1]
    operands = []
    for index in range(2, len(node.input), 3):
        data, scale, zero = node.input[index:index + 3]
        x = lw.quantized(node, data, scale, zero)
        out_type = _result_type(lw, node, x.type.shape, y_scale, y_zero)
        if x.type.quant != out_type.quant or x.type.dtype != out_type.dtype:
            key = (data, out_type)
            if key not in lw.requantized:
                lw.requantized[key] = _requantized(lw, node, x, data, scale, zero, out_type)
            x = lw.requantized[key]
        operands.append(x)
    axis = normalized_axis(node, attribute(node, "axis", 0), operands[0].type.rank)
    lw.emit("concat", operands, node, node.output[0], attrs={"axis": axis})


def _requantized(lw: Lowering, node: onnx.NodeProto, x, data: str, scale: str, zero: str, out_type: TensorType):
    """`x` in the output's parameters, as onnxruntime's QLinearConcat requantises it: that one
    node on `data` alone, as an `onnx_chain` (for a constant `data`, the codes onnxruntime gives)."""
    single = onnx.helper.make_node("QLinearConcat", [node.input[0], node.input[1], data, scale, zero],
                                   [f"{data}_requantized"], name=f"{node.name}_requantize_{data}",
                                   domain=node.domain, axis=0)
    text = chain_text(lw.model, lw.view, [single], data, x.type, single.output[0], out_type.np_dtype)
    if lw.view.is_constant(data):
        try:
            codes = run_chain(text, lw.view.constant(node, data))
        except VitcError as err:
            raise node_error(node, f"requantising constant input '{data}': {err}") from None
        return lw.constant(single.output[0], codes, out_type.quant, [node.name])
    return lw.emit("onnx_chain", [x], node, None, out_type.with_shape(x.type.shape), {"model": text},
                   hint=f"{lw.name_of(data)}_requantized")


def lower_matmul_integer(lw: Lowering, node: onnx.NodeProto) -> None:
    view = lw.view
    operands = []
    for data_index, zero_index in ((0, 2), (1, 3)):
        zero_name = view.optional_input(node, zero_index)
        zero = view.constant(node, zero_name) if zero_name else np.zeros((), np.uint8)
        if zero.size != 1:
            raise node_error(node, "MatMulInteger with per-row/per-column zero points is not supported")
        data = node.input[data_index]
        quant = Quant((1.0,), (int(zero.ravel()[0]),))
        if view.is_constant(data):
            operands.append(lw.constant(data, view.constant(node, data), quant, [node.name]))
            continue
        value = lw.value(data, node)
        if value.type.quant != quant:
            raise node_error(node, f"input '{data}' is {value.type.quant}; MatMulInteger reads it with zero point "
                                   f"{quant.zero_point[0]}")
        operands.append(value)
    lw.emit("matmul_int", operands, node, node.output[0])
