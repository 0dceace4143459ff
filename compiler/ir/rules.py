"""Result-type rules of the ops: shape inference and operand/attribute/result consistency.

Each `infer_*` function takes the operand types and the attributes and returns the result type;
each `check_*` function takes operand types, attributes and the declared result type and raises
`IRError` (whose message the verifier prefixes with the op's name and location).
They are the type half of the op table (`compiler.ir.ops`); they never look at values.

Conventions shared by every rule: axes are non-negative (the frontend normalizes ONNX's
negative axes); layout ops keep dtype and quantization, and move a per-axis quantization axis
with the data or refuse when the axis itself is rearranged.
"""

from __future__ import annotations

import math
from typing import Any

from compiler.ir.errors import IRError
from compiler.ir.type_syntax import format_type
from compiler.ir.types import Quant, TensorType

Attrs = dict[str, Any]


# ---- helpers ----------------------------------------------------------------------------------

def expect_same(declared: TensorType, expected: TensorType) -> None:
    if declared != expected:
        raise IRError(f"result type {format_type(declared)} does not match the expected {format_type(expected)}")


def _check_axis(axis: int, rank: int, what: str = "axis") -> None:
    if not 0 <= axis < rank:
        raise IRError(f"{what} {axis} is out of range for rank {rank}")


def _check_axes(axes: tuple[int, ...], rank: int) -> None:
    for axis in axes:
        _check_axis(axis, rank)
    if len(set(axes)) != len(axes):
        raise IRError(f"axes {list(axes)} repeat an axis")


def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """numpy broadcasting of static shapes; raises `IRError` when they do not broadcast.
    (Plain tuples: numpy's own `broadcast_shapes` builds arrays and costs ~30x more, on every op
    the verifier checks.)"""
    rank = max(map(len, shapes), default=0)
    result = []
    for sizes in zip(*((1,) * (rank - len(shape)) + tuple(shape) for shape in shapes)):
        stretched = {size for size in sizes if size != 1}
        if len(stretched) > 1:
            raise IRError(f"shapes {' and '.join(str(list(s)) for s in shapes)} do not broadcast")
        result.append(int(stretched.pop()) if stretched else 1)
    return tuple(result)


def matmul_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """numpy matmul of two operands of rank >= 2 (batch dimensions broadcast)."""
    if len(a) < 2 or len(b) < 2:
        raise IRError(f"matmul operands need rank >= 2, got shapes {list(a)} and {list(b)}")
    if a[-1] != b[-2]:
        raise IRError(f"matmul inner dimensions differ: {list(a)} @ {list(b)}")
    return broadcast_shapes(a[:-2], b[:-2]) + (a[-2], b[-1])


def _moved_quant(quant: Quant | None, axis_map: dict[int, int], op: str) -> Quant | None:
    """The quantization after a layout change mapping operand axes to result axes.

    Per-tensor quantization is unchanged; a per-axis one follows its axis, and an axis the
    layout change does not keep intact (missing from `axis_map`) is an error.
    """
    if quant is None or quant.per_tensor:
        return quant
    if quant.axis not in axis_map:
        raise IRError(f"{op} rearranges the per-axis quantization axis {quant.axis}")
    return quant.with_axis(axis_map[quant.axis])


def _same_quant_values(a: Quant | None, b: Quant | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.scale == b.scale and a.zero_point == b.zero_point


def _require_per_tensor(t: TensorType, what: str) -> None:
    if t.quant is not None and not t.quant.per_tensor:
        raise IRError(f"{what} must be quantized per tensor, got per-axis along axis {t.quant.axis}")


# ---- constants and quantization ----------------------------------------------------------------

def check_const(operands: list[TensorType], attrs: Attrs, result: TensorType) -> None:
    value = attrs["value"]
    if value.dtype != result.np_dtype or tuple(value.shape) != result.shape:
        raise IRError(f"value is {value.dtype} {list(value.shape)} but the result type is "
                      f"{format_type(result)}")


def check_quantize(operands: list[TensorType], attrs: Attrs, result: TensorType) -> None:
    if result.shape != operands[0].shape:
        raise IRError(f"result shape {list(result.shape)} differs from operand shape "
                      f"{list(operands[0].shape)}")


def infer_dequantize(operands: list[TensorType], attrs: Attrs) -> TensorType:
    return TensorType("f32", operands[0].shape)


# ---- integer linear ops ------------------------------------------------------------------------

def check_qmatmul(operands: list[TensorType], attrs: Attrs, result: TensorType) -> None:
    a, b = operands[0], operands[1]
    shape = matmul_shape(a.shape, b.shape)
    if result.shape != shape:
        raise IRError(f"result shape {list(result.shape)} should be {list(shape)} for "
                      f"{list(a.shape)} @ {list(b.shape)}")
    n = shape[-1]
    _require_per_tensor(a, "operand a")
    _require_per_tensor(result, "the result")
    if b.quant is not None and not b.quant.per_tensor and b.quant.axis != b.rank - 1:
        raise IRError(f"operand b may be quantized per axis only along its last axis "
                      f"({b.rank - 1}), got axis {b.quant.axis}")
    multiplier = attrs["multiplier"]
    per_channel = not b.quant.per_tensor
    if len(multiplier) != (n if per_channel else 1):
        raise IRError(f"multiplier has {len(multiplier)} entries, expected "
                      f"{n if per_channel else 1} ({'per output channel' if per_channel else 'per tensor'})")
    if len(operands) == 3 and operands[2].shape != (n,):
        raise IRError(f"bias shape {list(operands[2].shape)} should be [{n}]")


def infer_matmul(operands: list[TensorType], attrs: Attrs) -> TensorType:
    return TensorType("f32", matmul_shape(operands[0].shape, operands[1].shape))


def infer_matmul_int(operands: list[TensorType], attrs: Attrs) -> TensorType:
    return TensorType("i32", matmul_shape(operands[0].shape, operands[1].shape))


def check_matmul_int(operands: list[TensorType], attrs: Attrs, result: TensorType) -> None:
    for name, t in zip("ab", operands):
        _require_per_tensor(t, f"operand {name}")
    expect_same(result, infer_matmul_int(operands, attrs))


# ---- quantized elementwise ---------------------------------------------------------------------

def _check_qbinary(operands: list[TensorType], attrs: Attrs, result: TensorType,
                   kernel_attrs: tuple[str, ...]) -> None:
    shape = broadcast_shapes(operands[0].shape, operands[1].shape)
    if result.shape != shape:
        raise IRError(f"result shape {list(result.shape)} should be the broadcast shape {list(shape)}")
    for name, t in (("operand a", operands[0]), ("operand b", operands[1]), ("the result", result)):
        _require_per_tensor(t, name)
    given = [name for name in kernel_attrs if name in attrs]
    if attrs["mode"] == "qlinear" and len(given) != len(kernel_attrs):
        missing = [name for name in kernel_attrs if name not in attrs]
        raise IRError(f"mode 'qlinear' needs attribute(s) {', '.join(missing)}")
    if attrs["mode"] == "float" and given:
        raise IRError(f"mode 'float' takes no kernel constants, got {', '.join(given)}")


def check_qadd(operands: list[TensorType], attrs: Attrs, result: TensorType) -> None:
    _check_qbinary(operands, attrs, result, ("ra", "rb", "fixed"))


def check_qmul(operands: list[TensorType], attrs: Attrs, result: TensorType) -> None:
    _check_qbinary(operands, attrs, result, ("multiplier",))


def check_qsoftmax(operands: list[TensorType], attrs: Attrs, result: TensorType) -> None:
    x = operands[0]
    _check_axis(attrs["axis"], x.rank)
    _require_per_tensor(x, "the operand")
    _require_per_tensor(result, "the result")
    if result.shape != x.shape:
        raise IRError(f"result shape {list(result.shape)} differs from operand shape {list(x.shape)}")


def check_table(operands: list[TensorType], attrs: Attrs, result: TensorType) -> None:
    table = attrs["table"]
    if table.shape != (256,) or table.dtype != result.np_dtype:
        raise IRError(f"table must be 256 {result.dtype} codes, got {table.dtype} {list(table.shape)}")
    _require_per_tensor(operands[0], "the operand")
    _require_per_tensor(result, "the result")
    if result.shape != operands[0].shape:
        raise IRError(f"result shape {list(result.shape)} differs from operand shape "
                      f"{list(operands[0].shape)}")


# ---- float ops ---------------------------------------------------------------------------------

def infer_float_elementwise(operands: list[TensorType], attrs: Attrs) -> TensorType:
    return TensorType("f32", broadcast_shapes(*(t.shape for t in operands)))


def infer_softmax(operands: list[TensorType], attrs: Attrs) -> TensorType:
    _check_axis(attrs["axis"], operands[0].rank)
    return operands[0]


def infer_layernorm(operands: list[TensorType], attrs: Attrs) -> TensorType:
    x = operands[0]
    axis = attrs["axis"]
    _check_axis(axis, x.rank)
    for name, t in zip(("gamma", "beta"), operands[1:]):
        if t.shape != x.shape[axis:]:
            raise IRError(f"{name} shape {list(t.shape)} should be {list(x.shape[axis:])} "
                          f"(the normalized axes {axis}..{x.rank - 1})")
    return x


def infer_reduce_mean(operands: list[TensorType], attrs: Attrs) -> TensorType:
    x = operands[0]
    axes = attrs["axes"]
    _check_axes(axes, x.rank)
    if attrs["keepdims"]:
        return TensorType("f32", tuple(1 if i in axes else d for i, d in enumerate(x.shape)))
    return TensorType("f32", tuple(d for i, d in enumerate(x.shape) if i not in axes))


# ---- layout ops (keep dtype and quantization) --------------------------------------------------

def check_reshape(operands: list[TensorType], attrs: Attrs, result: TensorType) -> None:
    x = operands[0]
    if result.dtype != x.dtype:
        raise IRError(f"result dtype {result.dtype} differs from operand dtype {x.dtype}")
    if result.num_elements != x.num_elements:
        raise IRError(f"cannot reshape {list(x.shape)} ({x.num_elements} elements) to "
                      f"{list(result.shape)} ({result.num_elements} elements)")
    if x.quant is None or x.quant.per_tensor:
        if result.quant != x.quant:
            raise IRError("reshape must keep the operand's quantization")
        return
    if result.quant is None or not _same_quant_values(result.quant, x.quant):
        raise IRError("reshape must keep the operand's quantization")
    axis_map = _reshape_axis_map(x.shape, result.shape)
    if axis_map.get(x.quant.axis) != result.quant.axis:
        raise IRError(f"reshape {list(x.shape)} -> {list(result.shape)} cannot carry the per-axis "
                      f"quantization from axis {x.quant.axis} to axis {result.quant.axis}")


def _reshape_axis_map(src: tuple[int, ...], dst: tuple[int, ...]) -> dict[int, int]:
    """Operand axes that a row-major reshape keeps intact -> their result axis.

    Axis k survives as axis k' when it has the same size and the same number of elements
    before it (then every element keeps its index along that axis).
    """
    dst_axes = {(math.prod(dst[:j]), dst[j]): j for j in range(len(dst))}
    return {k: dst_axes[(math.prod(src[:k]), src[k])] for k in range(len(src))
            if (math.prod(src[:k]), src[k]) in dst_axes}


def infer_transpose(operands: list[TensorType], attrs: Attrs) -> TensorType:
    x = operands[0]
    perm = attrs["perm"]
    if sorted(perm) != list(range(x.rank)):
        raise IRError(f"perm {list(perm)} is not a permutation of 0..{x.rank - 1}")
    quant = _moved_quant(x.quant, {src: dst for dst, src in enumerate(perm)}, "transpose")
    return TensorType(x.dtype, tuple(x.shape[p] for p in perm), quant)


def infer_gather(operands: list[TensorType], attrs: Attrs) -> TensorType:
    data, indices = operands
    axis = attrs["axis"]
    _check_axis(axis, data.rank)
    shift = indices.rank - 1
    axis_map = {i: i for i in range(axis)} | {i: i + shift for i in range(axis + 1, data.rank)}
    quant = _moved_quant(data.quant, axis_map, "gather")
    shape = data.shape[:axis] + indices.shape + data.shape[axis + 1:]
    return TensorType(data.dtype, shape, quant)


def slice_length(dim: int, start: int, end: int, step: int) -> int:
    """Elements of `range(start, end, step)`, after checking every index lies in [0, dim)."""
    if step == 0:
        raise IRError("slice step 0")
    indices = range(start, end, step)
    if len(indices) and not (0 <= indices[0] < dim and 0 <= indices[-1] < dim):
        raise IRError(f"slice range({start}, {end}, {step}) leaves [0, {dim})")
    return len(indices)


def infer_slice(operands: list[TensorType], attrs: Attrs) -> TensorType:
    x = operands[0]
    starts, ends, steps = attrs["starts"], attrs["ends"], attrs["steps"]
    if not len(starts) == len(ends) == len(steps) == x.rank:
        raise IRError(f"starts, ends and steps need one entry per axis ({x.rank}), got "
                      f"{len(starts)}, {len(ends)}, {len(steps)}")
    shape = tuple(slice_length(*args) for args in zip(x.shape, starts, ends, steps))
    changed = {i for i in range(x.rank) if shape[i] != x.shape[i] or steps[i] != 1}
    quant = _moved_quant(x.quant, {i: i for i in range(x.rank) if i not in changed}, "slice")
    return TensorType(x.dtype, shape, quant)


def infer_concat(operands: list[TensorType], attrs: Attrs) -> TensorType:
    first = operands[0]
    axis = attrs["axis"]
    _check_axis(axis, first.rank)
    for i, t in enumerate(operands[1:], start=1):
        if t.dtype != first.dtype or t.quant != first.quant:
            raise IRError(f"operand {i} has type {format_type(t)}, operand 0 {format_type(first)}: concat needs "
                          f"one dtype and one quantization")
        if t.rank != first.rank or any(d != e for j, (d, e) in enumerate(zip(t.shape, first.shape)) if j != axis):
            raise IRError(f"operand {i} shape {list(t.shape)} differs from operand 0 shape "
                          f"{list(first.shape)} outside axis {axis}")
    if first.quant is not None and first.quant.axis == axis:
        raise IRError(f"concat along axis {axis} would mix the per-axis quantization along it")
    shape = first.shape[:axis] + (sum(t.shape[axis] for t in operands),) + first.shape[axis + 1:]
    return TensorType(first.dtype, shape, first.quant)


def infer_squeeze(operands: list[TensorType], attrs: Attrs) -> TensorType:
    x = operands[0]
    axes = attrs["axes"]
    _check_axes(axes, x.rank)
    not_one = [a for a in axes if x.shape[a] != 1]
    if not_one:
        raise IRError(f"cannot squeeze axis {not_one[0]} of size {x.shape[not_one[0]]}")
    kept = [i for i in range(x.rank) if i not in axes]
    quant = _moved_quant(x.quant, {src: dst for dst, src in enumerate(kept)}, "squeeze")
    return TensorType(x.dtype, tuple(x.shape[i] for i in kept), quant)


def infer_unsqueeze(operands: list[TensorType], attrs: Attrs) -> TensorType:
    x = operands[0]
    axes = attrs["axes"]
    rank = x.rank + len(axes)
    _check_axes(axes, rank)
    kept = [i for i in range(rank) if i not in axes]
    quant = _moved_quant(x.quant, dict(enumerate(kept)), "unsqueeze")
    dims = iter(x.shape)
    return TensorType(x.dtype, tuple(1 if i in axes else next(dims) for i in range(rank)), quant)


def infer_flatten(operands: list[TensorType], attrs: Attrs) -> TensorType:
    x = operands[0]
    axis = attrs["axis"]
    if not 0 <= axis <= x.rank:
        raise IRError(f"axis {axis} is out of range for flatten of rank {x.rank}")
    _require_per_tensor(x, "the operand of flatten")
    shape = (math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))
    return TensorType(x.dtype, shape, x.quant)
