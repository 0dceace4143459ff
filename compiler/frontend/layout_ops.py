"""Lowering of layout ops (Reshape, Transpose, Gather, Slice, Concat, Squeeze, Unsqueeze, Flatten).

They move elements without computing, so they work on float and on 8-bit codes alike and keep
the quantization. Their shape-like inputs (Reshape's shape, Gather's indices, Slice's bounds,
axes) must be constants after onnxruntime's constant folding; they are normalized here to the
IR's conventions (non-negative axes and indices, one slice range per axis).
"""

from __future__ import annotations

import math

import numpy as np
import onnx

from compiler.frontend.errors import node_error
from compiler.frontend.lowering import Lowering, normalized_axis
from compiler.frontend.onnx_view import attribute


def _axes(lw: Lowering, node: onnx.NodeProto, rank: int) -> tuple[int, ...] | None:
    """The `axes` input (opset >= 13) or attribute, normalized; None when absent."""
    name = lw.view.optional_input(node, 1)
    axes = lw.view.constant(node, name).tolist() if name else attribute(node, "axes", None)
    if axes is None:
        return None
    return tuple(sorted(normalized_axis(node, int(a), rank) for a in axes))


def lower_reshape(lw: Lowering, node: onnx.NodeProto) -> None:
    x = lw.value(node.input[0], node)
    requested = [int(d) for d in lw.view.constant(node, node.input[1]).tolist()]
    allow_zero = attribute(node, "allowzero", 0)
    shape = [x.type.shape[i] if d == 0 and not allow_zero else d for i, d in enumerate(requested)]
    if shape.count(-1) > 1:
        raise node_error(node, f"shape {requested} has more than one -1")
    if -1 in shape:
        known = math.prod(d for d in shape if d != -1)
        if known == 0 or x.type.num_elements % known:
            raise node_error(node, f"cannot reshape {list(x.type.shape)} to {requested}")
        shape[shape.index(-1)] = x.type.num_elements // known
    if math.prod(shape) != x.type.num_elements:
        raise node_error(node, f"cannot reshape {list(x.type.shape)} ({x.type.num_elements} elements) to "
                               f"{requested} ({math.prod(shape)} elements)")
    lw.emit("reshape", [x], node, node.output[0], x.type.with_shape(tuple(shape)))


def lower_transpose(lw: Lowering, node: onnx.NodeProto) -> None:
    x = lw.value(node.input[0], node)
    perm = attribute(node, "perm", None) or list(reversed(range(x.type.rank)))
    lw.emit("transpose", [x], node, node.output[0], attrs={"perm": tuple(int(p) for p in perm)})


def lower_gather(lw: Lowering, node: onnx.NodeProto) -> None:
    x = lw.value(node.input[0], node)
    axis = normalized_axis(node, attribute(node, "axis", 0), x.type.rank)
    indices = lw.view.constant(node, node.input[1]).astype(np.int64)
    size = x.type.shape[axis]
    if np.any((indices < -size) | (indices >= size)):
        raise node_error(node, f"indices {indices.ravel().tolist()} out of range for axis {axis} of size {size}")
    index_value = lw.constant(node.input[1], np.where(indices < 0, indices + size, indices), loc=[node.name])
    lw.emit("gather", [x, index_value], node, node.output[0], attrs={"axis": axis})


def lower_slice(lw: Lowering, node: onnx.NodeProto) -> None:
    x = lw.value(node.input[0], node)
    rank, shape = x.type.rank, x.type.shape
    view = lw.view
    starts_in = view.constant(node, node.input[1]).tolist()
    ends_in = view.constant(node, node.input[2]).tolist()
    axes_name, steps_name = view.optional_input(node, 3), view.optional_input(node, 4)
    axes = [normalized_axis(node, int(a), rank) for a in view.constant(node, axes_name).tolist()] if axes_name \
        else list(range(len(starts_in)))
    steps_in = view.constant(node, steps_name).tolist() if steps_name else [1] * len(axes)
    starts, ends, steps = [0] * rank, list(shape), [1] * rank
    for axis, start, end, step in zip(axes, starts_in, ends_in, steps_in):
        if step == 0:
            raise node_error(node, "slice step 0")
        # The IR wants range() bounds whose indices all lie in [0, dim): start at the first index
        # taken, end one step past the last (so -1 after index 0 for a negative step), and
        # (0, 0, 1) for an empty range.
        taken = _onnx_slice_range(int(start), int(end), int(step), shape[axis])
        if len(taken) == 0:
            starts[axis], ends[axis], steps[axis] = 0, 0, 1
        else:
            starts[axis], ends[axis], steps[axis] = taken[0], taken[-1] + taken.step, taken.step
    lw.emit("slice", [x], node, node.output[0],
            attrs={"starts": tuple(starts), "ends": tuple(ends), "steps": tuple(steps)})


def _onnx_slice_range(start: int, end: int, step: int, dim: int) -> range:
    """The indices ONNX Slice takes along one axis. Not Python's slice(): ONNX clamps a start
    below -dim to index 0 even for a negative step, where Python takes nothing."""
    start, end = start + dim if start < 0 else start, end + dim if end < 0 else end
    if step > 0:
        return range(min(max(start, 0), dim), min(max(end, 0), dim), step)
    return range(min(max(start, 0), dim - 1), min(max(end, -1), dim - 1), step)


def lower_concat(lw: Lowering, node: onnx.NodeProto) -> None:
    operands = [lw.value(name, node) for name in node.input]
    axis = normalized_axis(node, attribute(node, "axis", 0), operands[0].type.rank)
    lw.emit("concat", operands, node, node.output[0], attrs={"axis": axis})


def lower_squeeze(lw: Lowering, node: onnx.NodeProto) -> None:
    x = lw.value(node.input[0], node)
    axes = _axes(lw, node, x.type.rank)
    if axes is None:
        axes = tuple(i for i, d in enumerate(x.type.shape) if d == 1)
    lw.emit("squeeze", [x], node, node.output[0], attrs={"axes": axes})


def lower_unsqueeze(lw: Lowering, node: onnx.NodeProto) -> None:
    x = lw.value(node.input[0], node)
    name = lw.view.optional_input(node, 1)
    raw = lw.view.constant(node, name).tolist() if name else attribute(node, "axes", [])
    rank = x.type.rank + len(raw)
    axes = tuple(sorted(normalized_axis(node, int(a), rank) for a in raw))
    lw.emit("unsqueeze", [x], node, node.output[0], attrs={"axes": axes})


def lower_flatten(lw: Lowering, node: onnx.NodeProto) -> None:
    x = lw.value(node.input[0], node)
    axis = attribute(node, "axis", 1)
    if not -x.type.rank <= axis <= x.type.rank:
        raise node_error(node, f"axis {axis} is out of range for rank {x.type.rank}")
    lw.emit("flatten", [x], node, node.output[0], attrs={"axis": axis + x.type.rank if axis < 0 else axis})


def lower_split(lw: Lowering, node: onnx.NodeProto) -> None:
    """Split -> one `slice` per output (IR ops have one result each)."""
    x = lw.value(node.input[0], node)
    axis = normalized_axis(node, attribute(node, "axis", 0), x.type.rank)
    size = x.type.shape[axis]
    sizes_name = lw.view.optional_input(node, 1)
    if sizes_name:
        sizes = [int(s) for s in lw.view.constant(node, sizes_name).tolist()]
    elif attribute(node, "split", None) is not None:
        sizes = [int(s) for s in attribute(node, "split")]
    else:
        parts = len(node.output)
        chunk = -(-size // parts)  # ONNX: equal chunks, the last one smaller when it does not divide
        sizes = [min(chunk, size - i * chunk) for i in range(parts)]
    if sum(sizes) != size or len(sizes) != len(node.output) or min(sizes) <= 0:
        raise node_error(node, f"split sizes {sizes} do not cover axis {axis} of size {size} in "
                               f"{len(node.output)} outputs")
    start = 0
    for out, length in zip(node.output, sizes):
        starts, ends = [0] * x.type.rank, list(x.type.shape)
        starts[axis], ends[axis] = start, start + length
        start += length
        if out:
            lw.emit("slice", [x], node, out,
                    attrs={"starts": tuple(starts), "ends": tuple(ends), "steps": (1,) * x.type.rank})
