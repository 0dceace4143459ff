"""The lowering interface of the vector unit: `VectorLowering`, `ConstantBlock`, `ScratchPlan`.

A `VectorLowering` turns one IR op into vector-unit instructions for one tile of rows (the op's
last axis is the row; leading axes are flattened into rows by the caller). The caller (the
backend driver) asks, in this order:
- `operand_kinds` (attribute): how each IR operand is placed on chip, see `OPERAND_KINDS`;
- `constants()`: on-chip data the lowering derives itself (tables), to load once per op;
- `row_tile(max_spad_rows, max_acc_rows)`: the largest tile whose scratch fits;
- `scratch_rows(rows)`: the (spad, acc) scratch rows a tile of `rows` rows needs;
- `emit(rows, inputs, output, scratch, constants, layer)`: the instructions of one tile.

Invariants kept by every lowering:
- instructions all run on the vector unit, in program order, with no tokens (wait = signal = 0);
  the caller orders them against DMA and the matrix unit;
- 8-bit tensors live in SPAD, float32 tensors in ACC (one float32 word per element);
- a lowering writes only its output region and its scratch; it never writes an input, so the
  caller may keep an input (e.g. a broadcast row vector) for the next tile;
- scratch is laid out by `ScratchPlan` from the first row of each scratch region, the same way
  in `scratch_rows` and in `emit`, so the two can never disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from compiler.codegen.region import Region, ceil_div
from compiler.ir.graph import Op
from isa.config import HardwareConfig
from isa.encoding import Instruction
from isa.errors import VitcError

# How an IR operand is placed on chip for one tile of `rows` output rows and `cols` columns.
OPERAND_KINDS = {
    "tile": "rows x cols, the same rows as the output tile",
    "row": "1 x cols row vector (bs = 1), the same region for every tile",
    "column": "rows x 1 column vector, the same rows as the output tile",
    "scalar": "1 x 1, the same region for every tile",
    "broadcast": "rows x cols, every row the same row vector (1 x cols in DRAM), loaded once for the largest tile "
                 "by a broadcasting DMA; the same region for every tile",
    "reduced": "rows x N, the same rows as the output tile, N the operand's own last axis (reductions)",
}

# Row and column counts are 16-bit instruction fields.
MAX_ROWS = 0xFFFF


def memory_of(dtype: str) -> str:
    """On-chip memory of a tensor of an IR dtype: 8-bit codes in SPAD, float32 in ACC."""
    return "acc" if dtype == "f32" else "spad"


@dataclass(frozen=True)
class ConstantBlock:
    """On-chip constant data: `rows x cols` elements for `mem`, laid out for one `dma.load`
    (`rows`, `cols`, `dram_stride = cols * esize`, esize 1 for spad, 4 for acc) into a region
    of block stride `rows`; `data` is the row-major little-endian bytes."""

    name: str
    mem: str
    rows: int
    cols: int
    data: bytes

    @classmethod
    def row_vector(cls, name: str, values: np.ndarray) -> ConstantBlock:
        """A 1 x n block: 8-bit values go to SPAD, 32-bit values (float32 or int32) to ACC."""
        values = np.ascontiguousarray(values).reshape(-1)
        mem = "spad" if values.dtype.itemsize == 1 else "acc"
        little_endian = values.astype(values.dtype.newbyteorder("<"))
        return cls(name, mem, 1, values.size, little_endian.tobytes())


class ScratchPlan:
    """Hands out scratch sub-regions from consecutive rows of one memory, starting at `base`.

    A lowering describes its scratch once, as calls on a plan; `scratch_rows` runs that
    description with base 0 to count rows, `emit` runs it with the caller's base addresses.
    """

    def __init__(self, mem: str, base: int, dim: int):
        self.mem, self.base, self.dim = mem, base, dim
        self.used = 0

    def _take(self, rows: int) -> int:
        addr = self.base + self.used
        self.used += rows
        return addr

    def tile(self, rows: int, cols: int) -> Region:
        """A packed `rows x cols` region (block stride = rows)."""
        return Region.packed(self.mem, self._take(rows * ceil_div(cols, self.dim)), rows, cols)

    def column(self, rows: int) -> Region:
        """A `rows x 1` column vector."""
        return Region.packed(self.mem, self._take(rows), rows, 1)

    def row_vector(self, cols: int) -> Region:
        """A `1 x cols` row vector (block stride 1)."""
        return Region(self.mem, self._take(ceil_div(cols, self.dim)), 1, cols, 1)


class VectorLowering:
    """Base class: one IR op over rows of its last axis. Subclasses set `operand_kinds` and
    implement `plan_scratch` and `emit_tile`; `constants` is empty unless overridden."""

    operand_kinds: tuple[str, ...] = ()

    def __init__(self, op: Op, config: HardwareConfig):
        self.op = op
        self.config = config
        self.dim = config.dim
        shape = op.result.type.shape
        self.cols = shape[-1] if shape else 1
        self.total_rows = math.prod(shape[:-1]) if shape else 1
        self._scratch_rows: dict[int, tuple[int, int]] = {}  # asked for every tile and tile size tried
        # The memory of each operand, then of the result.
        self._memories = [memory_of(v.type.dtype) for v in op.operands] + [memory_of(op.result.type.dtype)]

    def error(self, message: str) -> VitcError:
        return VitcError(f"vector lowering of {self.op.describe()}: {message}")

    # ---- the interface ---------------------------------------------------------------------

    def constants(self) -> list[ConstantBlock]:
        return []

    def may_write_over_its_input(self) -> bool:
        """Whether the output region may be the (first, tile) input region: every step is
        elementwise or reads only row statistics computed before it (default: no)."""
        return False

    def returns_its_input(self) -> bool:
        """Whether the op's result is its (only tile) operand, code for code, so a chain may
        skip it (default: no)."""
        return False

    def scratch_rows(self, rows: int) -> tuple[int, int]:
        counted = self._scratch_rows.get(rows)
        if counted is None:
            spad, acc = ScratchPlan("spad", 0, self.dim), ScratchPlan("acc", 0, self.dim)
            self.plan_scratch(rows, spad, acc)
            counted = self._scratch_rows[rows] = (spad.used, acc.used)
        return counted

    def row_tile(self, max_spad_rows: int, max_acc_rows: int) -> int:
        """The largest row count (at most the op's rows) whose scratch fits; scratch grows
        with the row count, so a binary search finds it."""

        def fits(rows: int) -> bool:
            spad, acc = self.scratch_rows(rows)
            return spad <= max_spad_rows and acc <= max_acc_rows

        if not fits(1):
            spad, acc = self.scratch_rows(1)
            raise self.error(f"one row needs {spad} spad and {acc} acc scratch rows, "
                             f"only {max_spad_rows} and {max_acc_rows} are free")
        low, high = 1, min(self.total_rows, MAX_ROWS)
        while low < high:
            middle = (low + high + 1) // 2
            low, high = (middle, high) if fits(middle) else (low, middle - 1)
        return low

    def emit(self, rows: int, inputs: list[Region], output: Region, scratch: tuple[Region, Region],
             constants: dict[str, Region], layer: int) -> list[Instruction]:
        self._check_regions(rows, inputs, output, scratch)
        spad, acc = (ScratchPlan(mem, region.addr if region is not None else 0, self.dim)
                     for mem, region in zip(("spad", "acc"), scratch))
        regions = self.plan_scratch(rows, spad, acc)
        return self.emit_tile(rows, inputs, output, regions, constants, layer)

    # ---- subclass hooks --------------------------------------------------------------------

    def plan_scratch(self, rows: int, spad: ScratchPlan, acc: ScratchPlan) -> dict[str, Region]:
        """Scratch sub-regions of a tile of `rows` rows, by name (default: none)."""
        return {}

    def emit_tile(self, rows: int, inputs: list[Region], output: Region, scratch: dict[str, Region],
                  constants: dict[str, Region], layer: int) -> list[Instruction]:
        raise NotImplementedError

    # ---- checks ----------------------------------------------------------------------------

    def _expected_shape(self, kind: str, rows: int, operand: int) -> tuple[int, int]:
        if kind == "tile" or kind == "broadcast":
            return rows, self.cols
        if kind == "reduced":
            return rows, self.op.operands[operand].type.shape[-1]
        return {"row": (1, self.cols), "column": (rows, 1), "scalar": (1, 1)}[kind]

    def _check_regions(self, rows, inputs, output, scratch) -> None:
        """Every region has the shape and memory its operand (or the output) asks for; the
        message is made only for a region that has not (this runs for every tile emitted)."""
        if len(inputs) != len(self.operand_kinds):
            raise self.error(f"expects {len(self.operand_kinds)} input region(s), got {len(inputs)}")
        memories = self._memories
        for i, (kind, region) in enumerate(zip(self.operand_kinds, inputs)):
            shape = self._expected_shape(kind, rows, i)
            if (region.rows, region.cols) != shape or region.mem != memories[i]:
                raise self.error(f"input {i} ({kind}) region {region} should be {shape[0]} x {shape[1]} in {memories[i]}")
        if (output.rows, output.cols) != (rows, self.cols) or output.mem != memories[-1]:
            raise self.error(f"output region {output} should be {rows} x {self.cols} in {memories[-1]}")
        needed = self.scratch_rows(rows)
        for region, mem, count in zip(scratch, ("spad", "acc"), needed):
            if count and (region is None or region.mem != mem or region.footprint_rows(self.dim) < count):
                raise self.error(f"scratch {region} should be {count} rows of {mem}")
