"""Driving the vector-unit lowerings (`compiler.codegen.vector`) over DRAM tensors.

For an op of a vector kind, this file decides the row tile, places every operand on chip as the
lowering's `operand_kinds` asks ("tile": the tile's rows, "row"/"scalar": loaded once,
"column": one value per tile row), loads the lowering's constants once, and per tile emits:
loads of the tile operands, the lowering's instructions, the store of the output tile. Tiles
alternate between two sets of buffers so the next tile's loads overlap the current compute.

Invariant: the lowering's instructions are declared as reading every input, constant and
scratch region and writing the output and scratch (an over-approximation), so tokens order
them against DMA correctly whatever they do inside.
"""

from __future__ import annotations

import math

from compiler.codegen.dram_view import DramView
from compiler.codegen.onchip import Arena
from compiler.codegen.program import ProgramBuilder
from compiler.codegen.region import Region, ceil_div
from compiler.codegen.transfer import transfer
from compiler.codegen.vector import vector_lowering
from compiler.codegen.vector.lowering import memory_of
from compiler.ir.graph import Op, Value
from compiler.ir.types import TensorType
from isa.errors import VitcError

ESIZE = {"spad": 1, "acc": 4}


def lower_vector_op(op: Op, operand_views: list[DramView], out_view: DramView, builder: ProgramBuilder,
                    spad: Arena, acc: Arena, pool, config, constant_operands: dict) -> None:
    """`constant_operands`: operand index -> array, for operands that are constants."""
    op, operand_views = _broadcast_rows(op, operand_views)
    op, operand_views, out_view = _in_memory_order(op, operand_views, out_view)
    lowering = vector_lowering(op, config, constant_operands)
    dim = config.dim
    out_shape = op.result.type.shape or (1,)
    cols = out_shape[-1]
    total_rows = math.prod(out_shape[:-1])
    arenas = {"spad": spad, "acc": acc}
    constants = {}
    for block in lowering.constants():
        region = arenas[block.mem].region(block.rows, block.cols, dim, f"constant {block.name}")
        view = DramView.contiguous(pool.add(block.data), (block.rows, block.cols), ESIZE[block.mem])
        transfer(builder, "load", view, region)
        constants[block.name] = region
    kinds = lowering.operand_kinds
    mems = [memory_of(v.type.dtype) for v in op.operands]
    out_mem = memory_of(op.result.type.dtype)
    shared = {}
    for i, kind in enumerate(kinds):
        if kind in ("row", "scalar"):
            width = cols if kind == "row" else 1
            region = arenas[mems[i]].row_vector(width, dim, f"operand {i}")
            transfer(builder, "load", _as_operand(operand_views[i], kind, out_shape), region)
            shared[i] = region

    def per_tile_rows(rows: int) -> dict[str, int]:
        need = {"spad": 0, "acc": 0}
        for i, kind in enumerate(kinds):
            if kind in ("tile", "column"):
                need[mems[i]] += 2 * rows * ceil_div(cols if kind == "tile" else 1, dim)
        need[out_mem] += 2 * rows * ceil_div(cols, dim)
        scratch = lowering.scratch_rows(rows)
        need["spad"] += scratch[0]
        need["acc"] += scratch[1]
        return need

    def fits(rows: int) -> bool:
        need = per_tile_rows(rows)
        return need["spad"] <= spad.free and need["acc"] <= acc.free

    tile = _largest(fits, min(total_rows, lowering.row_tile(spad.free, acc.free)))
    if tile == 0:
        raise VitcError(f"{op.describe()}: not even one row fits on chip ({spad.free} spad, {acc.free} acc rows free)")
    slots = []
    for side in range(2):
        inputs = {i: arenas[mems[i]].region(tile, cols if kind == "tile" else 1, dim, f"operand {i}")
                  for i, kind in enumerate(kinds) if kind in ("tile", "column")}
        output = arenas[out_mem].region(tile, cols, dim, "output tile")
        slots.append((inputs, output))
    spad_scratch, acc_scratch = lowering.scratch_rows(tile)
    scratch = (_scratch(spad, spad_scratch, "spad", dim), _scratch(acc, acc_scratch, "acc", dim))
    scratch_regions = [r for r, count in zip(scratch, (spad_scratch, acc_scratch)) if count]
    tile_views = {i: _as_operand(operand_views[i], kind, out_shape) for i, kind in enumerate(kinds) if kind in ("tile", "column")}
    for number, r0 in enumerate(range(0, total_rows, tile)):
        rows = min(tile, total_rows - r0)
        tile_inputs, tile_output = slots[number % 2]
        regions = []
        for i in range(len(kinds)):
            if i in shared:
                regions.append(shared[i])
                continue
            full = tile_inputs[i]
            region = Region(full.mem, full.addr, rows, full.cols, full.bs)
            transfer(builder, "load", tile_views[i], region, r0)
            regions.append(region)
        output = Region(tile_output.mem, tile_output.addr, rows, tile_output.cols, tile_output.bs)
        instructions = lowering.emit(rows, regions, output, scratch, constants, builder.layer)
        builder.emit_all(instructions, reads=regions + list(constants.values()) + scratch_regions,
                         writes=[output] + scratch_regions)
        transfer(builder, "store", out_view, output, r0)


def _in_memory_order(op: Op, operand_views: list[DramView], out_view: DramView):
    """An elementwise op whose result is stored permuted (see layout_plan) runs on the permuted
    tensors: the same op on operands and result with their axes in memory order, so rows are
    contiguous. The values do not change: every operand has the result's shape."""
    order = out_view.physical_order()
    if order is None or order == tuple(range(len(order))) or out_view.matrix_cols()[0][1] == 1:
        return op, operand_views, out_view
    proxy = _proxy(op, [tuple(v.type.shape[i] for i in order) for v in op.operands],
                   tuple(op.result.type.shape[i] for i in order))
    return proxy, [v.transpose(order) for v in operand_views], out_view.transpose(order)


def _broadcast_rows(op: Op, operand_views: list[DramView]):
    """An operand broadcast over leading axes only (e.g. an attention mask [1, 1, T, T] added to
    [1, H, T, T]) is loaded tile by tile with stride-0 DMA, so the lowering sees a full tile."""
    out_shape = op.result.type.shape
    shapes, views = [], []
    for value, view in zip(op.operands, operand_views):
        shape = value.type.shape
        size = math.prod(shape)
        leading_only = shape and out_shape and shape[-1] == out_shape[-1] and size not in (1, out_shape[-1])
        if leading_only and tuple(shape) != tuple(out_shape) and size != math.prod(out_shape):
            shapes.append(tuple(out_shape))
            views.append(view.broadcast_to(out_shape))
        else:
            shapes.append(tuple(shape))
            views.append(view)
    if shapes == [tuple(v.type.shape) for v in op.operands]:
        return op, operand_views
    return _proxy(op, shapes, tuple(out_shape)), views


def _proxy(op: Op, operand_shapes, result_shape) -> Op:
    """The same op on tensors of other shapes (same dtypes, per-tensor quantisation)."""

    def reshaped(value: Value, shape) -> Value:
        t = value.type
        if tuple(shape) == tuple(t.shape):
            return value
        if t.quant is not None and not t.quant.per_tensor:
            raise VitcError(f"{op.describe()}: operand %{value.name} is quantized per axis and cannot be re-laid out")
        return Value(value.name, TensorType(t.dtype, tuple(shape), t.quant))

    operands = [reshaped(v, shape) for v, shape in zip(op.operands, operand_shapes)]
    return Op(op.kind, operands, op.attrs, reshaped(op.result, result_shape), op.loc)


def _largest(fits, upper: int) -> int:
    low, high = 0, upper
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(middle) else (low, middle - 1)
    return low


def _scratch(arena: Arena, rows: int, mem: str, dim: int) -> Region:
    if rows == 0:
        return Region(mem, 0, 1, 1, 1)  # unused: the lowering needs no scratch of this memory
    return Region.packed(mem, arena.alloc_rows(rows, f"{mem} scratch"), rows, 1)


def _as_operand(view: DramView, kind: str, out_shape) -> DramView:
    """The operand as the matrix its kind asks for, rows matching the output's rows."""
    size = math.prod(view.shape)
    if kind == "tile":
        shaped = view.reshape(out_shape) if size == math.prod(out_shape) else view.broadcast_to(out_shape)
    elif kind == "column":
        shaped = view.reshape(tuple(out_shape[:-1]) + (1,))
    elif kind == "row":
        shaped = view.reshape((1, out_shape[-1]))
    else:
        shaped = view.reshape((1, 1))
    if shaped is None:
        raise VitcError(f"operand of shape {view.shape} cannot be viewed as a {kind} of {out_shape}")
    return shaped
