"""Driving the vector-unit lowerings (`compiler.codegen.vector`) over DRAM tensors, one op or a
fused chain of ops at a time.

A `VectorChain` is a list of ops (stages) where each stage after the first consumes the previous
stage's result as one of its "tile" operands; intermediate results stay on chip and only the
last stage's result is stored, and the results of `stored` stages, which other ops read too
(see `fusion.py` for when ops are chained). For every stage, the
operands are placed as the lowering's `operand_kinds` asks: "tile" operands from DRAM are loaded
per row tile, "row"/"scalar"/"broadcast" operands and the lowering's constants once (a
"broadcast" row vector as a whole tile of copies, by one DMA with DRAM row stride 0). Row tiles alternate
between two sets of buffers, so the next tile's loads overlap the current compute.

A chain runs either on its own (`emit`: the first stage's tile operands come from DRAM) or as
the epilogue of a producer that hands over each tile it computed (`prepare` + `apply`, used by
`matmul.py` on its requantised output tiles). A chain of elementwise ops (no row reduction:
`column_tileable`) can also run on tiles narrower than its rows (`tile_cols`, dividing the
row): each op is lowered as the same op over `tile_cols` columns, operands are loaded at the
tile's first column, and the once-per-op operands (rows, scalars, broadcast tiles) are loaded
per column range instead, in two copies used alternately. Only the stored last stage's output
has two copies; an earlier stage's output is read by the next stage alone, on the same in-order
vector unit, so one copy serves every tile, and a stage that may (LayerNorm after its
dequantize) writes over it.

A chained stage whose lowering `returns_its_input` (a table that maps every code to itself,
such as the attention's division by 8 when the scales differ by exactly 8) is left out.

Invariant: each lowering's instructions are declared as reading every input, constant and
scratch region of its stage and writing its output and scratch (an over-approximation), so
tokens order them against DMA correctly whatever they do inside.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from compiler.codegen.dram_view import DramView
from compiler.codegen.onchip import Arena
from compiler.codegen.program import Prepared, ProgramBuilder
from compiler.codegen.region import Region, ceil_div
from compiler.codegen.transfer import transfer
from compiler.codegen.vector import vector_lowering
from compiler.codegen.vector.lowering import memory_of
from compiler.ir.graph import Op, Value
from compiler.ir.types import TensorType
from isa.costs import cycles
from isa.errors import VitcError

ESIZE = {"spad": 1, "acc": 4}
PER_TILE_KINDS = ("tile", "column", "reduced")


@dataclass
class StageInput:
    """One IR op of a chain: the op (possibly a re-shaped proxy), its operands' DRAM views, which
    operand is the previous stage's result (None for a chain's first stage on its own), and the
    values of constant operands (for lowerings that need them at compile time)."""

    op: Op
    operand_views: list[DramView]
    chained: int | None
    constant_operands: dict


# Ops that reduce along a row: a chain with one needs whole rows.
ROW_OPS = frozenset({"layernorm", "softmax", "qsoftmax", "reduce_mean"})


def column_tileable(ops: list[Op]) -> bool:
    """Whether a chain of `ops` can run on tiles narrower than its rows (no row reduction)."""
    return not any(op.kind in ROW_OPS for op in ops)


# A stage's vector cycles per tile, by (configuration, `VectorChain._shape_of_stage`, rows).
_STAGE_CYCLES: dict[tuple, int] = {}
# A chain's row tile on its own, by what `VectorChain.best_tile` depends on.
_BEST_TILES: dict[tuple, int] = {}


class _StageTile(NamedTuple):
    """One stage on one tile, up to its DRAM rows: the per-tile loads (DRAM view, region,
    whether it starts at the tile's first column), the stage's instructions and its output."""

    loads: tuple[tuple[DramView, Region, bool], ...]
    instructions: list[Prepared]
    output: Region


class VectorChain:
    def __init__(self, stages: list[StageInput], out_view: DramView, config, tile_cols: int | None = None,
                 stored: dict[int, DramView] | None = None):
        """`stored`: stage index -> the DRAM view where that stage's result is stored too (other
        ops read it), besides being handed to the next stage."""
        stored = stored or {}
        self.config = config
        self.dim = config.dim
        first = stages[0]
        if len(stages) == 1 and first.chained is None:
            op, views = _broadcast_rows(first.op, first.operand_views)
            op, views, out_view = _in_memory_order(op, views, out_view)
            stages = [StageInput(op, views, None, first.constant_operands)]
        else:
            stages = [StageInput(*_broadcast_rows(s.op, s.operand_views), s.chained, s.constant_operands) for s in stages]
        # The shape each stage's DRAM views are read as (its result's, before column tiling).
        self.view_shapes = [tuple(s.op.result.type.shape) for s in stages]
        shape = stages[-1].op.result.type.shape or (1,)
        self.total_rows = math.prod(shape[:-1])
        self.column_tiled = tile_cols is not None and tile_cols != shape[-1]
        if self.column_tiled:
            if not column_tileable([s.op for s in stages]) or shape[-1] % tile_cols:
                raise VitcError(f"{stages[0].op.describe()}: this chain cannot run on tiles of {tile_cols} of its "
                                f"{shape[-1]} columns")
            stages = [StageInput(_narrowed(s.op, shape[-1], tile_cols), s.operand_views, s.chained, s.constant_operands)
                      for s in stages]
        lowerings = [vector_lowering(s.op, config, s.constant_operands) for s in stages]
        # A chained stage that returns its input codes unchanged (an identity table) emits
        # nothing: the next stage reads the tile before it. At least one stage stays.
        kept = [i for i, (s, lowering) in enumerate(zip(stages, lowerings))
                if s.chained is None or i in stored or not lowering.returns_its_input()] or [0]
        self.stored = {position: stored[i] for position, i in enumerate(kept) if i in stored}
        self.view_shapes = [self.view_shapes[i] for i in kept]
        self.stages = [stages[i] for i in kept]
        self.lowerings = [lowerings[i] for i in kept]
        self._dram_operands = self._list_dram_operands()
        # Each lowering's constants, derived once (a softmax's exp table is computed, not read).
        self.constant_blocks = [lowering.constants() for lowering in self.lowerings]
        self.out_view = out_view
        self.cols = tile_cols if self.column_tiled else shape[-1]
        self.copies = 2 if self.column_tiled else 1  # of the operands loaded once per column range
        self._tile_rows: dict[int, dict[str, int]] = {}
        self._tile_cycles: dict[int, dict[str, int]] = {}
        self._tile_vector_cycles: dict[int, int] = {}
        self._tiles: dict[tuple, _StageTile] = {}  # (stage, buffer set, shared copy, rows, chained input) -> its tile
        self._emitted: dict[tuple, list[Prepared]] = {}  # (stage, rows, input regions, output) -> its instructions
        self._operand_views: dict[tuple, DramView] = {}

    # ---- sizes -------------------------------------------------------------------------------

    def _kinds(self, index: int) -> list[tuple[int, str, str]]:
        """(operand index, kind, memory) of the operands stage `index` reads from DRAM."""
        return self._dram_operands[index]

    def _list_dram_operands(self) -> list[list[tuple[int, str, str]]]:
        return [[(i, kind, memory_of(v.type.dtype)) for i, (kind, v) in enumerate(zip(lowering.operand_kinds, stage.op.operands))
                 if i != stage.chained] for stage, lowering in zip(self.stages, self.lowerings)]

    def _width(self, index: int, operand: int, kind: str) -> int:
        """Columns of a per-tile operand: the output's, one, or (reduced) the operand's own."""
        if kind == "reduced":
            return self.stages[index].op.operands[operand].type.shape[-1]
        return self.cols if kind == "tile" else 1

    def _output_copies(self, index: int) -> int:
        """Copies of stage `index`'s output tile: two for a stored one (the last, or one in
        `stored`: the next tile is computed while it is stored), one for the others, which only
        the next stage reads on the same in-order vector unit."""
        return 2 if index == len(self.stages) - 1 or index in self.stored else 1

    def _in_place(self, index: int) -> bool:
        """Whether stage `index` writes its output over the previous stage's (a single-copy
        intermediate of the same memory and shape, which only this stage reads, and a lowering
        whose every step is elementwise or reads row statistics computed before it)."""
        if index == 0 or self.stages[index].chained is None or self._output_copies(index) != 1:
            return False
        before, stage = self.stages[index - 1].op.result.type, self.stages[index].op.result.type
        return self.lowerings[index].may_write_over_its_input() and \
            memory_of(before.dtype) == memory_of(stage.dtype) and before.shape == stage.shape

    def tile_rows_needed(self, rows: int) -> dict[str, int]:
        """On-chip rows a row tile of `rows` needs beyond the producer's own buffers: two copies
        of every per-tile operand, the stage outputs (`_output_copies`), plus the largest stage
        scratch."""
        if rows not in self._tile_rows:
            self._tile_rows[rows] = self._count_tile_rows(rows)
        return self._tile_rows[rows]

    def _count_tile_rows(self, rows: int) -> dict[str, int]:
        need = {"spad": 0, "acc": 0}
        scratch = {"spad": 0, "acc": 0}
        for index, (stage, lowering) in enumerate(zip(self.stages, self.lowerings)):
            for i, kind, mem in self._kinds(index):
                if kind in PER_TILE_KINDS:
                    need[mem] += 2 * rows * ceil_div(self._width(index, i, kind), self.dim)
                elif kind == "broadcast":
                    need[mem] += self.copies * rows * ceil_div(self.cols, self.dim)
            if not self._in_place(index):
                need[memory_of(stage.op.result.type.dtype)] += self._output_copies(index) * rows * ceil_div(self.cols, self.dim)
            spad_scratch, acc_scratch = lowering.scratch_rows(rows)
            scratch["spad"] = max(scratch["spad"], spad_scratch)
            scratch["acc"] = max(scratch["acc"], acc_scratch)
        return {mem: need[mem] + scratch[mem] for mem in need}

    def shared_rows_per_copy(self, rows: int) -> dict[str, int]:
        """On-chip rows of one copy of the operands loaded once per column range (broadcast
        tiles of `rows` rows, row vectors, scalars): a producer that comes back to a column
        range (`prepare`'s `column_ranges`) keeps one copy per range."""
        need = {"spad": 0, "acc": 0}
        for index in range(len(self.stages)):
            for _, kind, mem in self._kinds(index):
                if kind == "broadcast":
                    need[mem] += rows * ceil_div(self.cols, self.dim)
                elif kind in ("row", "scalar"):
                    need[mem] += ceil_div(self.cols if kind == "row" else 1, self.dim)
        return need

    @functools.cached_property
    def _once_rows(self) -> dict[str, int]:
        return self._count_once_rows()

    def once_rows_needed(self) -> dict[str, int]:
        """On-chip rows loaded once: row/scalar operands and the lowerings' constants."""
        return dict(self._once_rows)

    def _count_once_rows(self) -> dict[str, int]:
        need = {"spad": 0, "acc": 0}
        for index, blocks in enumerate(self.constant_blocks):
            for _, kind, mem in self._kinds(index):
                if kind in ("row", "scalar"):
                    need[mem] += self.copies * ceil_div(self.cols if kind == "row" else 1, self.dim)
            for block in blocks:
                need[block.mem] += block.rows * ceil_div(block.cols, self.dim)
        return need

    def tile_cycles(self, rows: int) -> dict[str, int]:
        """Estimated cycles of one tile of `rows` rows per unit ({"load", "store", "vector"}),
        for the tiling cost model: a DMA per per-tile operand and for the result, and the
        vector instructions every stage really emits for such a tile, at their costs."""
        config = self.config

        def dma(nbytes: int) -> int:
            return config.dma_latency + ceil_div(nbytes, config.dma_bytes_per_cycle)

        if rows not in self._tile_cycles:
            load = sum(dma(rows * self._width(index, i, kind) * ESIZE[mem])
                       for index in range(len(self.stages)) for i, kind, mem in self._kinds(index) if kind in PER_TILE_KINDS)
            stored = [len(self.stages) - 1, *self.stored]
            store = sum(dma(rows * self.cols * ESIZE[memory_of(self.stages[i].op.result.type.dtype)]) for i in stored)
            self._tile_cycles[rows] = {"load": load, "store": store, "vector": self._vector_cycles(rows)}
        return dict(self._tile_cycles[rows])

    def _vector_cycles(self, rows: int) -> int:
        """Cycles of the vector instructions of one tile of `rows` rows: each stage emitted on
        stand-in regions of the right shapes (costs depend on shapes only, never on addresses),
        once per stage shape (`_shape_of_stage`) and row count in the process (every layer of
        a model has the same LayerNorm and softmax chains, each trying ten tile sizes)."""
        if rows not in self._tile_vector_cycles:
            total = 0
            for index, shape in enumerate(self._stage_shapes):
                key = (self.config, shape, rows)
                if key not in _STAGE_CYCLES:
                    _STAGE_CYCLES[key] = self._stage_cycles(index, rows)
                total += _STAGE_CYCLES[key]
            self._tile_vector_cycles[rows] = total
        return self._tile_vector_cycles[rows]

    def _stage_cycles(self, index: int, rows: int) -> int:
        stage, lowering = self.stages[index], self.lowerings[index]
        shapes = {"tile": (rows, self.cols), "broadcast": (rows, self.cols), "row": (1, self.cols),
                  "column": (rows, 1), "scalar": (1, 1)}
        inputs = []
        for i, (kind, value) in enumerate(zip(lowering.operand_kinds, stage.op.operands)):
            height, width = (rows, value.type.shape[-1]) if kind == "reduced" else shapes[kind]
            inputs.append(Region(memory_of(value.type.dtype), 0, height, width, 1 if kind == "row" else height))
        output = Region(memory_of(stage.op.result.type.dtype), 0, rows, self.cols, rows)
        scratch = tuple(Region.packed(mem, 0, max(count, 1), 1) for mem, count in zip(("spad", "acc"),
                                                                                      lowering.scratch_rows(rows)))
        constants = {block.name: Region(block.mem, 0, block.rows, block.cols, block.rows)
                     for block in self.constant_blocks[index]}
        instructions = lowering.emit(rows, inputs, output, scratch, constants, 0)
        return sum(cycles(i.mnemonic, i.fields, self.config) for i in instructions)

    @functools.cached_property
    def _stage_shapes(self) -> list[tuple]:
        return [self._shape_of_stage(index) for index in range(len(self.stages))]

    def _shape_of_stage(self, index: int) -> tuple:
        """What the instructions of stage `index` depend on besides addresses and immediates
        (scales, zero points, table contents): the lowering, the op's kind and mode, its
        operands' kinds, dtypes and shapes, its result's, the values of one-element constant
        operands (a power's exponent; larger ones, such as LayerNorm's gamma and beta, are data
        that never change the instructions), the constants' shapes and the tile's columns."""
        stage, lowering = self.stages[index], self.lowerings[index]
        op = stage.op
        return (type(lowering).__qualname__, op.kind, op.attrs.get("mode"), stage.chained, tuple(lowering.operand_kinds),
                tuple((v.type.dtype, tuple(v.type.shape)) for v in op.operands), op.result.type.dtype,
                tuple(op.result.type.shape), self.cols,
                tuple((i, np.asarray(value).tobytes()) for i, value in sorted(stage.constant_operands.items())
                      if np.size(value) == 1),
                tuple((block.name, block.mem, block.rows, block.cols) for block in self.constant_blocks[index]))

    def best_tile(self, spad_free: int, acc_free: int) -> int:
        """The row tile of the chain on its own (0 if not even one row fits): among the sizes
        that fit, the one whose tiles cost the fewest cycles, each tile costing its busiest
        unit (`tile_cycles`), plus one tile's worth to fill and drain the pipeline (its
        consumer starts after the first tile, its producer has to finish the first tile's
        rows first). A row reduction costs a whole block of `dim` rows for any part
        of one, so e.g. 38-row tiles cost about as much as 64-row ones. Chains of the same
        stage shapes (`_shape_of_stage`; every layer's LayerNorm) share the choice."""
        key = (self.config, tuple(self._stage_shapes), tuple(sorted(self.stored)), self.copies, self.total_rows,
               spad_free, acc_free)
        if key not in _BEST_TILES:
            _BEST_TILES[key] = self._choose_tile(spad_free, acc_free)
        return _BEST_TILES[key]

    def _choose_tile(self, spad_free: int, acc_free: int) -> int:
        largest = self.largest_tile(spad_free, acc_free)
        if largest == 0:
            return 0
        total, dim = self.total_rows, self.dim
        sizes = {largest} | {size for size in range(dim, largest + 1, dim)}
        sizes |= {ceil_div(total, parts) for parts in range(ceil_div(total, largest), ceil_div(total, largest) + 4)}

        def busiest(rows: int) -> int:
            return max(self.tile_cycles(rows).values())

        def cost(rows: int) -> int:  # the tiles one after another, plus one more to fill and drain the pipeline
            return (total // rows + 1) * busiest(rows) + (busiest(total % rows) if total % rows else 0)

        return min(sorted(size for size in sizes if 0 < size <= largest), key=cost)

    def largest_tile(self, spad_free: int, acc_free: int) -> int:
        """The largest row tile whose buffers fit in the given free rows (0 if none)."""
        once = self.once_rows_needed()
        spad_free, acc_free = spad_free - once["spad"], acc_free - once["acc"]
        upper = min([self.total_rows] + [lowering.row_tile(max(spad_free, 1), max(acc_free, 1)) for lowering in self.lowerings])

        def fits(rows: int) -> bool:
            need = self.tile_rows_needed(rows)
            return need["spad"] <= spad_free and need["acc"] <= acc_free

        low, high = 0, upper
        while low < high:
            middle = (low + high + 1) // 2
            low, high = (middle, high) if fits(middle) else (low, middle - 1)
        return low

    # ---- emission ----------------------------------------------------------------------------

    def prepare(self, builder: ProgramBuilder, spad: Arena, acc: Arena, pool, tile: int, column_ranges: int = 2) -> None:
        """Allocate every buffer for row tiles of `tile` rows and load the once-only data. A
        column-tiled chain keeps the once-per-column-range operands of `column_ranges` ranges
        (two: the next range's load while the current one runs; all of them, when the producer
        visits every range for each row tile)."""
        if self.column_tiled:
            self.copies = max(2, column_ranges)
        arenas = {"spad": spad, "acc": acc}
        dim = self.dim
        self.tile = tile
        self._tiles.clear()  # their instructions name this preparation's buffers
        self._emitted.clear()
        self.constants, self.shared, self.slots = [], [], []
        for index, (stage, lowering) in enumerate(zip(self.stages, self.lowerings)):
            constants = {}
            for block in self.constant_blocks[index]:
                region = arenas[block.mem].region(block.rows, block.cols, dim, f"constant {block.name}")
                view = DramView.contiguous(pool.add(block.data), (block.rows, block.cols), ESIZE[block.mem])
                transfer(builder, "load", view, region)
                constants[block.name] = region
            shared = {}
            for i, kind, mem in self._kinds(index):
                if kind == "broadcast":
                    shared[i] = [arenas[mem].region(tile, self.cols, dim, f"operand {i}") for _ in range(self.copies)]
                elif kind not in PER_TILE_KINDS:
                    shared[i] = [arenas[mem].row_vector(self.cols if kind == "row" else 1, dim, f"operand {i}")
                                 for _ in range(self.copies)]
            slots = []
            outputs = [self.slots[index - 1][0][1]] if self._in_place(index) else \
                [arenas[memory_of(stage.op.result.type.dtype)].region(tile, self.cols, dim, "output tile")
                 for _ in range(self._output_copies(index))]
            for copy in range(2):
                inputs = {i: arenas[mem].region(tile, self._width(index, i, kind), dim, f"operand {i}")
                          for i, kind, mem in self._kinds(index) if kind in PER_TILE_KINDS}
                slots.append((inputs, outputs[copy % len(outputs)]))
            self.constants.append(constants)
            self.shared.append(shared)
            self.slots.append(slots)
        spad_scratch = max(lowering.scratch_rows(tile)[0] for lowering in self.lowerings)
        acc_scratch = max(lowering.scratch_rows(tile)[1] for lowering in self.lowerings)
        self.scratch = (_scratch(spad, spad_scratch, "spad"), _scratch(acc, acc_scratch, "acc"))
        self.scratch_used = [r for r, count in zip(self.scratch, (spad_scratch, acc_scratch)) if count]
        self.column_range = -1  # running number of the column ranges whose shared operands were loaded
        self.loaded: dict[int, int] = {}  # first column of a range -> the copy holding its operands
        if not self.column_tiled:
            self._load_shared(builder, 0)

    def _load_shared(self, builder: ProgramBuilder, col0: int) -> int:
        """Load the once-per-column-range operands of columns [col0, col0 + cols) into the next
        copy (replacing the range it held); returns the copy."""
        self.column_range += 1
        copy = self.column_range % self.copies
        self.loaded = {start: held for start, held in self.loaded.items() if held != copy}
        self.loaded[col0] = copy
        for index, stage in enumerate(self.stages):
            for i, regions in self.shared[index].items():
                kind = self.lowerings[index].operand_kinds[i]
                full_cols = self.view_shapes[index][-1] if self.view_shapes[index] else 1
                shape = (self.tile, full_cols) if kind == "broadcast" else self.view_shapes[index]
                view = self._operand_view(index, i, kind, shape)
                transfer(builder, "load", view, regions[copy], 0, col0 if kind in ("row", "broadcast") else 0)
        return copy

    def apply(self, builder: ProgramBuilder, number: int, produced: Region | None, row0: int, rows: int,
              col0: int = 0) -> None:
        """Run every stage on rows [row0, row0 + rows) and columns [col0, col0 + cols) (the first
        stage's chained operand is `produced`) and store the last stage's result."""
        copy = self.loaded.get(col0)
        if copy is None:
            copy = self._load_shared(builder, col0)
        previous = produced
        for index in range(len(self.stages)):
            # Tiles alternate between two sets of buffers: most tiles repeat an earlier one's
            # on-chip work exactly (the layer is the chain's own); only their DRAM rows differ.
            key = (index, number % 2, copy, rows, previous)
            tile = self._tiles.get(key)
            if tile is None:
                tile = self._tiles[key] = self._stage_tile(builder, index, number % 2, copy, rows, previous)
            for view, region, tiled in tile.loads:
                transfer(builder, "load", view, region, row0, col0 if tiled else 0)
            builder.replay(tile.instructions)
            if index in self.stored:
                transfer(builder, "store", self.stored[index], tile.output, row0, col0)
            previous = tile.output
        transfer(builder, "store", self.out_view, previous, row0, col0)

    def _stage_tile(self, builder: ProgramBuilder, index: int, parity: int, copy: int, rows: int,
                    previous: Region | None) -> _StageTile:
        """Stage `index` on a tile of `rows` rows in buffer set `parity`, its once-per-column-range
        operands in `copy`, its chained operand in `previous`."""
        stage, lowering = self.stages[index], self.lowerings[index]
        tile_inputs, tile_output = self.slots[index][parity]
        regions, loads = [], []
        for i, kind in enumerate(lowering.operand_kinds):
            if i == stage.chained:
                regions.append(previous)
            elif kind == "broadcast":
                regions.append(self.shared[index][i][copy].row_slice(0, rows))
            elif i in self.shared[index]:
                regions.append(self.shared[index][i][copy])
            else:
                full = tile_inputs[i]
                regions.append(Region(full.mem, full.addr, rows, full.cols, full.bs))
                loads.append((self._operand_view(index, i, kind, self.view_shapes[index]), regions[-1], kind == "tile"))
        output = Region(tile_output.mem, tile_output.addr, rows, tile_output.cols, tile_output.bs)
        key = (index, rows, tuple(regions), output)  # (another copy of what the stage does not read: the same)
        instructions = self._emitted.get(key)
        if instructions is None:
            constants = self.constants[index]
            instructions = self._emitted[key] = builder.prepare_all(
                lowering.emit(rows, regions, output, self.scratch, constants, builder.layer),
                reads=regions + list(constants.values()) + self.scratch_used, writes=[output] + self.scratch_used)
        return _StageTile(tuple(loads), instructions, output)

    def _operand_view(self, index: int, operand: int, kind: str, shape) -> DramView:
        """Stage `index`'s operand as the matrix its kind asks for (`_as_operand`), rows those
        of `shape`."""
        key = (index, operand, kind, shape)
        if key not in self._operand_views:
            self._operand_views[key] = _as_operand(self.stages[index].operand_views[operand], kind, shape)
        return self._operand_views[key]

    def emit(self, builder: ProgramBuilder, spad: Arena, acc: Arena, pool) -> None:
        """The whole chain on its own, tile by tile."""
        tile = self.best_tile(spad.free, acc.free)
        if tile == 0:
            raise VitcError(f"not even one row fits on chip ({spad.free} spad, {acc.free} acc rows free)")
        self.prepare(builder, spad, acc, pool, tile)
        for number, row0 in enumerate(range(0, self.total_rows, tile)):
            self.apply(builder, number, None, row0, min(tile, self.total_rows - row0))


def _scratch(arena: Arena, rows: int, mem: str) -> Region:
    if rows == 0:
        return Region(mem, 0, 1, 1, 1)  # unused: no lowering needs scratch of this memory
    return Region.packed(mem, arena.alloc_rows(rows, f"{mem} scratch"), rows, 1)


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


def _narrowed(op: Op, cols: int, tile_cols: int) -> Op:
    """The op over `tile_cols` of its `cols` columns: operands spanning the row are narrowed."""
    narrow = [tuple(shape[:-1]) + (tile_cols,) if shape and shape[-1] == cols else tuple(shape)
              for shape in (v.type.shape for v in op.operands)]
    return _proxy(op, narrow, tuple(op.result.type.shape[:-1]) + (tile_cols,))


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


def _as_operand(view: DramView, kind: str, out_shape) -> DramView:
    """The operand as the matrix its kind asks for, rows matching the output's rows."""
    out_shape = tuple(out_shape) or (1,)
    size = math.prod(view.shape)
    if kind == "tile":
        shaped = view.reshape(out_shape) if size == math.prod(out_shape) else view.broadcast_to(out_shape)
    elif kind == "column":
        shaped = view.reshape(out_shape[:-1] + (1,))
    elif kind == "reduced":
        shaped = view.reshape(out_shape[:-1] + (view.shape[-1],))
    elif kind == "row":
        shaped = view.reshape((1, out_shape[-1]))
    elif kind == "broadcast":
        row = view.reshape((1, out_shape[-1]))
        shaped = None if row is None else row.broadcast_to(out_shape)
    else:
        shaped = view.reshape((1, 1))
    if shaped is None:
        raise VitcError(f"operand of shape {view.shape} cannot be viewed as a {kind} of {out_shape}")
    return shaped
