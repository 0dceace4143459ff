"""What each instruction touches: its on-chip row accesses and its DRAM byte range.

`ACCESSES[mnemonic](fields, dim)` lists every on-chip region an instruction reads or writes as
an `Access` (memory, rows, read or write), described arithmetically so that bounds checks cost
no array work; `Access.rows()` gives the rows themselves, for the hazard checker. The field
values may be ints (one instruction) or int64 arrays (many instructions of one mnemonic whose
`SELECTORS` fields are equal, given as ints): the same arithmetic describes them all, so
`check_columns` checks a whole program's instructions with a few numpy operations per kind.
`dram_range` gives the DMA's DRAM bytes `[lo, hi)` and `dram_window` the bytes themselves, for
the DMA semantics and the DRAM hazard shadow alike.

Invariants checked by `check_columns` (each failure has a message naming the field), in this
order for each instruction, the first failing one being its error:
- rows, cols, depth, m, k, n are at least 1;
- a region with more than one column block has rows <= bs (blocks must not overlap);
- no access touches more rows (counting repeats, e.g. `depth_stride = 0`) than its memory has,
  which bounds the work and the memory of any one instruction, and every row is inside its
  memory (both per access, in access order);
- `transpose`, `copy` and `fmm` do not write over their own sources (the ISA forbids it);
- every DRAM byte is inside the binary's DRAM.
A read-modify-write (mm with accum=1) is listed as a write: for hazards a write subsumes a read.
"""

from typing import Callable, NamedTuple

import numpy as np

from isa.costs import dma_element_size
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
    cols: int = 1  # the region's columns (for messages)

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
    return Access(mem, region.addr, region.rows, write, field, region.blocks(dim), region.bs, depth, depth_stride, region.cols)


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

# The fields whose values select the shape of an instruction's accesses (which operands it has,
# in which memory, transposed or not) and its DMA element size: `ACCESSES`, `dram_range` and
# the work counts of `timing.py` take these as ints and every other field as ints or arrays.
SELECTORS = {
    "dma.load": ("mem", "zero"), "dma.store": ("mem",), "mm": ("bt",), "copy": ("mem",), "requant": ("pc",),
    "quant": ("pr",), "valu": ("bmode",), "vfma": ("bmode", "cmode"), "fmm": ("bt",), "rowmax": ("mem",),
    "lut": ("out", "pr"), "qadd": ("bbc",), "qmul": ("bbc",),
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


Check = tuple[np.ndarray, Callable[[int], str]]  # (fails, per instruction; the message of instruction i)


def check_columns(mnemonic: str, f, count: int, dim: int, memory_rows: dict, dram_size: int) -> list[Check]:
    """The checks of `count` instructions of `mnemonic` (`f`: field name -> int64 array, the
    `SELECTORS` fields as ints), in the order an instruction's first failure is reported."""
    checks = []

    def check(fails, message: Callable[[int], str]) -> None:
        checks.append((np.broadcast_to(fails, (count,)), message))

    for name in SIZE_FIELDS:
        if name in f:
            check(f[name] < 1, lambda i, name=name: f"field {name}={_at(f[name], i)} must be at least 1")
    accesses = ACCESSES[mnemonic](f, dim)
    for a in accesses:
        check((a.blocks > 1) & (a.length > a.bs), lambda i, a=a: (
            f"{a.field}: region of {_at(a.length, i)} rows and {_at(a.cols, i)} columns has block stride "
            f"{_at(a.bs, i)} < rows, so its column blocks overlap"))
    for a in accesses:
        available, touched, last = memory_rows[a.mem], a.depth * a.blocks * a.length, a.last_row()
        check(touched > available, lambda i, a=a, touched=touched, available=available: (
            f"{a.field}: touches {_at(touched, i)} {a.mem} rows (with repeats), more than the {available} it has"))
        check(last >= available, lambda i, a=a, last=last, available=available: (
            f"{a.field}: {a.mem} row {_at(last, i)} is out of range ({a.mem} has {available} rows)"))
    for src, dst in NO_OVERLAP.get(mnemonic, ()):
        shared = _first_shared_rows(accesses[src], accesses[dst], count)
        check(shared >= 0, lambda i, s=accesses[src], d=accesses[dst], shared=shared: (
            f"source ({s.field}) and destination ({d.field}) overlap at {s.mem} row {shared[i]}"))
    span = dram_range(mnemonic, f)
    if span is not None:
        check(span[1] > dram_size, lambda i: (
            f"DRAM bytes [{_at(span[0], i):#x}, {_at(span[1], i):#x}) exceed the DRAM size {dram_size:#x}"))
    return checks


def _at(value, i: int) -> int:
    """Instruction i's value of a column, or the value all share."""
    return int(value[i]) if isinstance(value, np.ndarray) else int(value)


def _first_shared_rows(src: Access, dst: Access, count: int) -> np.ndarray:
    """Per instruction, the first row both accesses touch, -1 where they share none. The hulls
    decide for all at once; only where hulls meet and a side is not contiguous are the rows
    compared, one instruction at a time (rare: a strided copy next to its source)."""
    if src.mem != dst.mem:
        return np.full(count, -1, np.int64)
    meet = np.broadcast_to(~((src.last_row() < dst.first) | (dst.last_row() < src.first)), (count,))
    shared = np.where(meet, np.maximum(src.first, dst.first), -1).astype(np.int64)
    both_contiguous = _contiguous(src) & _contiguous(dst)  # the hulls are the rows
    for i in np.flatnonzero(meet & ~both_contiguous).tolist():
        shared[i] = _first_shared_row(_one(src, i), _one(dst, i))
    return shared


def _contiguous(a: Access) -> np.ndarray:
    return np.asarray((a.depth == 1) & ((a.blocks == 1) | (a.bs == a.length)), bool)


def _one(a: Access, i: int) -> Access:
    """Instruction i's access, its numbers as ints."""
    return a._replace(**{name: _at(getattr(a, name), i) for name in
                         ("first", "length", "blocks", "bs", "depth", "depth_stride", "cols")})


def _first_shared_row(src: Access, dst: Access) -> int:
    size = max(src.last_row(), dst.last_row()) + 1
    in_src, in_dst = np.zeros(size, bool), np.zeros(size, bool)
    in_src[src.rows()] = True
    in_dst[dst.rows()] = True
    shared = np.flatnonzero(in_src & in_dst)
    return int(shared[0]) if len(shared) else -1
