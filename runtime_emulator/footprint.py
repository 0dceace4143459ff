"""What each instruction touches: its on-chip row accesses and its DRAM byte range.

`ACCESSES[mnemonic](fields, dim)` lists every on-chip region an instruction reads or writes as
an `Access` (memory, rows, read or write), described arithmetically so that bounds checks cost
no array work; `Access.rows()` gives the rows themselves, for the hazard checker.
The same list serves the bounds check done before an instruction touches memory and the hazard
checker. `dram_range` gives the DMA's DRAM bytes `[lo, hi)` and `dram_window` the bytes
themselves, for the DMA semantics and the DRAM hazard shadow alike.

Invariants checked by `check_bounds` (each failure is a VitcError naming the field):
- rows, cols, depth, m, k, n are at least 1;
- a region with more than one column block has rows <= bs (blocks must not overlap);
- every row is inside its memory and every DRAM byte inside the binary's DRAM;
- no access touches more rows (counting repeats, e.g. `depth_stride = 0`) than its memory has,
  which bounds the work and the memory of any one instruction;
- `transpose`, `copy` and `fmm` do not write over their own sources (the ISA forbids it).
A read-modify-write (mm with accum=1) is listed as a write: for hazards a write subsumes a read.
"""

from typing import NamedTuple

import numpy as np

from isa.costs import dma_element_size
from isa.errors import VitcError
from runtime_emulator.regions import Region
from runtime_emulator.semantics.elementwise import BMODE_COL, BMODE_FULL, BMODE_ROW
from runtime_emulator.semantics.lut import TABLE_SIZE

SPAD, ACC = "spad", "acc"
DRAM_ADDRESS_LIMIT = 1 << 32  # DRAM address fields are 32 bits wide


def memory_rows(config) -> dict[str, int]:
    """Rows of each on-chip memory of a `HardwareConfig`."""
    return {SPAD: config.spad_rows, ACC: config.acc_rows}


class Access(NamedTuple):
    """Rows `first + d*depth_stride + j*bs + r` (d < depth, j < blocks, r < length) of `mem`."""

    mem: str
    first: int
    length: int  # rows per block
    write: bool
    field: str  # the address field, for error messages
    blocks: int = 1
    bs: int = 0
    depth: int = 1
    depth_stride: int = 0

    def rows(self) -> slice | np.ndarray:
        """The rows as a slice when they are contiguous (the common case), else an index array."""
        if self.depth == 1 and (self.blocks == 1 or self.bs == self.length):
            return slice(self.first, self.first + self.blocks * self.length)
        copies = np.arange(self.depth, dtype=np.int64)[:, None, None] * self.depth_stride
        blocks = np.arange(self.blocks, dtype=np.int64)[None, :, None] * self.bs
        return (self.first + copies + blocks + np.arange(self.length)[None, None, :]).ravel()

    def last_row(self) -> int:
        return self.first + (self.depth - 1) * self.depth_stride + (self.blocks - 1) * self.bs + self.length - 1


def _region(mem, field, region: Region, dim, write, depth=1, depth_stride=0) -> Access:
    blocks = region.blocks(dim)
    if blocks > 1 and region.rows > region.bs:
        raise VitcError(
            f"{field}: region of {region.rows} rows and {region.cols} columns has block stride "
            f"{region.bs} < rows, so its column blocks overlap"
        )
    return Access(mem, region.addr, region.rows, write, field, blocks, region.bs, depth, depth_stride)


def _column(mem, field, addr, rows, write) -> Access:
    return Access(mem, addr, rows, write, field)


def _row_vector(mem, field, addr, cols, dim) -> Access:
    return Access(mem, addr, -(-cols // dim), False, field)


def _mem(f) -> str:
    return ACC if f["mem"] else SPAD


def _dma(f, dim, write):
    region = Region(f["addr"], f["rows"], f["cols"], f["bs"])
    return [_region(_mem(f), "addr", region, dim, write, f["depth"], f["depth_stride"])]


def _mm(f, dim):
    b_shape = (f["n"], f["k"]) if f["bt"] else (f["k"], f["n"])
    return [
        _region(SPAD, "a", Region(f["a"], f["m"], f["k"], f["a_bs"]), dim, False),
        _region(SPAD, "b", Region(f["b"], *b_shape, f["b_bs"]), dim, False),
        _region(ACC, "c", Region(f["c"], f["m"], f["n"], f["c_bs"]), dim, True),
    ]


def _unary(src_mem, dst_mem, f, dim, transposed=False):
    rows, cols = f["rows"], f["cols"]
    dst_shape = (cols, rows) if transposed else (rows, cols)
    return [
        _region(src_mem, "src", Region(f["src"], rows, cols, f["src_bs"]), dim, False),
        _region(dst_mem, "dst", Region(f["dst"], *dst_shape, f["dst_bs"]), dim, True),
    ]


def _requant(f, dim):
    extra = [_row_vector(ACC, "mult_addr", f["mult_addr"], f["cols"], dim)] if f["pc"] else []
    return _unary(ACC, SPAD, f, dim) + extra


def _quant(f, dim):
    extra = [_column(ACC, "s_addr", f["s_addr"], f["rows"], False)] if f["pr"] else []
    return _unary(ACC, SPAD, f, dim) + extra


def _broadcast(field, mode, addr, bs, rows, cols, dim) -> list[Access]:
    """The ACC rows an operand placed by a broadcast mode (`valu`/`vfma`) reads."""
    if mode == BMODE_FULL:
        return [_region(ACC, field, Region(addr, rows, cols, bs), dim, False)]
    if mode == BMODE_ROW:
        return [_column(ACC, field, addr, rows, False)]
    if mode == BMODE_COL:
        return [_row_vector(ACC, field, addr, cols, dim)]
    return []  # scalar immediate


def _elementwise(f, dim, operands):
    """`a` and `dst` regions plus each broadcast operand named in `operands` (with its mode field)."""
    rows, cols = f["rows"], f["cols"]
    accesses = [
        _region(ACC, "a", Region(f["a"], rows, cols, f["a_bs"]), dim, False),
        _region(ACC, "dst", Region(f["dst"], rows, cols, f["dst_bs"]), dim, True),
    ]
    for name, mode in operands:
        accesses += _broadcast(name, f[mode], f[name], f[f"{name}_bs"], rows, cols, dim)
    return accesses


def _fmm(f, dim):
    b_shape = (f["n"], f["k"]) if f["bt"] else (f["k"], f["n"])
    return [
        _region(ACC, "a", Region(f["a"], f["m"], f["k"], f["a_bs"]), dim, False),
        _region(ACC, "b", Region(f["b"], *b_shape, f["b_bs"]), dim, False),
        _region(ACC, "c", Region(f["c"], f["m"], f["n"], f["c_bs"]), dim, True),
    ]


def _reduction(src_mem, f, dim):
    return [
        _region(src_mem, "src", Region(f["src"], f["rows"], f["cols"], f["src_bs"]), dim, False),
        _column(ACC, "dst", f["dst"], f["rows"], True),
    ]


def _lut(f, dim):
    out_mem = ACC if f["out"] else SPAD
    extra = [_column(ACC, "r_addr", f["r_addr"], f["rows"], False)] if f["pr"] else []
    return _unary(SPAD, out_mem, f, dim) + [_row_vector(out_mem, "tab", f["tab"], TABLE_SIZE, dim)] + extra


def _qbinary(f, dim):
    rows, cols = f["rows"], f["cols"]
    b_region = Region(f["b"], 1, cols, 1) if f["bbc"] else Region(f["b"], rows, cols, f["b_bs"])
    return [
        _region(SPAD, "a", Region(f["a"], rows, cols, f["a_bs"]), dim, False),
        _region(SPAD, "b", b_region, dim, False),
        _region(SPAD, "c", Region(f["c"], rows, cols, f["c_bs"]), dim, True),
    ]


ACCESSES = {
    "dma.load": lambda f, dim: _dma(f, dim, True),
    "dma.store": lambda f, dim: _dma(f, dim, False),
    "mm": _mm,
    "transpose": lambda f, dim: _unary(SPAD, SPAD, f, dim, transposed=True),
    "copy": lambda f, dim: _unary(_mem(f), _mem(f), f, dim),
    "requant": _requant,
    "dequant": lambda f, dim: _unary(SPAD, ACC, f, dim),
    "quant": _quant,
    "valu": lambda f, dim: _elementwise(f, dim, [("b", "bmode")]),
    "vfma": lambda f, dim: _elementwise(f, dim, [("b", "bmode"), ("c", "cmode")]),
    "fmm": _fmm,
    "vunary": lambda f, dim: _unary(ACC, ACC, f, dim),
    "rowsum": lambda f, dim: _reduction(ACC, f, dim),
    "rowmax": lambda f, dim: _reduction(_mem(f), f, dim),
    "lut": _lut,
    "qadd": _qbinary,
    "qmul": _qbinary,
    "halt": lambda f, dim: [],
}

SIZE_FIELDS = ("rows", "cols", "depth", "m", "k", "n")
# The ISA forbids these to write over their own sources: (source, destination) access indices.
NO_OVERLAP = {"transpose": ((0, 1),), "copy": ((0, 1),), "fmm": ((0, 2), (1, 2))}


def dram_window(array: np.ndarray, f, origin: int = 0) -> np.ndarray:
    """A DMA's DRAM bytes as a `(depth, rows, cols * esize)` view of `array`, a 1-D array whose
    element i stands for DRAM byte `origin + i` (DRAM itself, or a shadow of part of it). A plain
    slice when the rows are back to back (the common case), a strided view otherwise; the
    caller has checked the bytes lie inside `array`."""
    depth, rows, row_bytes = f["depth"], f["rows"], f["cols"] * dma_element_size(f)
    base = f["dram"] - origin
    if f["dram_stride"] == row_bytes and (depth == 1 or f["dram_depth_stride"] == rows * row_bytes):
        return array[base:base + depth * rows * row_bytes].reshape(depth, rows, row_bytes)
    item = array.itemsize
    strides = (f["dram_depth_stride"] * item, f["dram_stride"] * item, item)
    # The ndarray constructor on the (contiguous) array's buffer: as_strided's view, made
    # without its helper objects, and bounds-checked against the buffer by numpy too.
    return np.ndarray((depth, rows, row_bytes), array.dtype, array, base * item, strides)


def dram_address(f, index: tuple[int, int, int]) -> int:
    """The DRAM byte of element (d, r, b) of `dram_window`."""
    d, r, b = index
    return f["dram"] + d * f["dram_depth_stride"] + r * f["dram_stride"] + b


def dram_range(mnemonic: str, f) -> tuple[int, int] | None:
    """DRAM bytes `[lo, hi)` a DMA reads or writes; None when it touches no DRAM."""
    if not mnemonic.startswith("dma.") or f.get("zero"):
        return None
    last = (f["depth"] - 1) * f["dram_depth_stride"] + (f["rows"] - 1) * f["dram_stride"]
    return f["dram"], f["dram"] + last + f["cols"] * dma_element_size(f)


def check_bounds(mnemonic: str, f, dim: int, memory_rows: dict, dram_size: int) -> tuple[list[Access], tuple[int, int] | None]:
    """Check the instruction's sizes and addresses; return its accesses and its DRAM bytes
    (`dram_range`)."""
    for name in SIZE_FIELDS:
        if name in f and f[name] < 1:
            raise VitcError(f"field {name}={f[name]} must be at least 1")
    accesses = ACCESSES[mnemonic](f, dim)
    for access in accesses:
        last, available = access.last_row(), memory_rows[access.mem]
        touched = access.depth * access.blocks * access.length
        if touched > available:
            raise VitcError(
                f"{access.field}: touches {touched} {access.mem} rows (with repeats), more than the "
                f"{available} it has"
            )
        if last >= available:
            raise VitcError(f"{access.field}: {access.mem} row {last} is out of range ({access.mem} has {available} rows)")
    for src, dst in NO_OVERLAP.get(mnemonic, ()):
        _check_disjoint(accesses[src], accesses[dst])
    span = dram_range(mnemonic, f)
    if span is not None and span[1] > dram_size:
        raise VitcError(f"DRAM bytes [{span[0]:#x}, {span[1]:#x}) exceed the DRAM size {dram_size:#x}")
    return accesses, span


def _check_disjoint(src: Access, dst: Access) -> None:
    if src.mem != dst.mem or src.last_row() < dst.first or dst.last_row() < src.first:
        return
    src_rows, dst_rows = src.rows(), dst.rows()
    if isinstance(src_rows, slice) and isinstance(dst_rows, slice):  # contiguous: the hulls are the rows
        raise _overlap_error(src, dst, max(src.first, dst.first))
    size = max(src.last_row(), dst.last_row()) + 1
    in_src, in_dst = np.zeros(size, bool), np.zeros(size, bool)
    in_src[src_rows] = True
    in_dst[dst_rows] = True
    shared = np.flatnonzero(in_src & in_dst)
    if len(shared):
        raise _overlap_error(src, dst, int(shared[0]))


def _overlap_error(src: Access, dst: Access, row: int) -> VitcError:
    return VitcError(f"source ({src.field}) and destination ({dst.field}) overlap at {src.mem} row {row}")
