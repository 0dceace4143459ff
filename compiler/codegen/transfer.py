"""DMA between a DRAM view (seen as a matrix) and an on-chip block-layout region.

A view's rows may be made of several sub-axes (e.g. patch rows (4 x 4) with strides 256 and 8):
`row_pieces` splits a row range into 3-D DMA transfers (depth x rows x contiguous columns),
looping only over what one transfer cannot express. Columns must be contiguous in DRAM within a
piece (innermost stride 1); a column range crossing sub-axes is split into pieces that each land
at a block boundary of the region (a DMA writes lanes from 0). Stride-0 rows broadcast.

Invariant: every emitted transfer declares exactly the on-chip region it touches and the byte
span of its DRAM window, so `tokens.py` orders it.
"""

import functools
import math

from compiler.codegen.dram_view import DramView, SubAxis
from compiler.codegen.program import Prepared, ProgramBuilder
from compiler.codegen.region import Region
from isa.errors import VitcError


def row_pieces(axes: tuple[SubAxis, ...], r0: int, r1: int):
    """Transfers covering rows [r0, r1): tuples (row, dram_offset, depth, depth_stride, rows,
    row_stride), `row` the first logical row, offsets and strides in elements."""
    if len(axes) == 1:
        (_, stride), = axes
        yield r0, r0 * stride, 1, 0, r1 - r0, stride
        return
    if len(axes) == 2:
        (_, outer_stride), (inner, inner_stride) = axes
        r = r0
        if r % inner:
            end = min(r1, (r // inner + 1) * inner)
            yield r, (r // inner) * outer_stride + (r % inner) * inner_stride, 1, 0, end - r, inner_stride
            r = end
        full = (r1 - r) // inner
        if full:
            yield r, (r // inner) * outer_stride, full, outer_stride, inner, inner_stride
            r += full * inner
        if r < r1:
            yield r, (r // inner) * outer_stride, 1, 0, r1 - r, inner_stride
        return
    inner = math.prod(e for e, _ in axes[1:])
    for outer in range(r0 // inner, -(-r1 // inner)):
        lo, hi = max(r0, outer * inner), min(r1, (outer + 1) * inner)
        for row, offset, depth, depth_stride, rows, stride in row_pieces(axes[1:], lo - outer * inner, hi - outer * inner):
            yield row + outer * inner, offset + outer * axes[0][1], depth, depth_stride, rows, stride


def col_pieces(axes: tuple[SubAxis, ...], c0: int, c1: int):
    """Contiguous column runs covering [c0, c1): tuples (col, dram_offset, cols)."""
    inner_extent, inner_stride = axes[-1]
    if inner_stride != 1 and inner_extent > 1:
        raise VitcError(f"codegen: columns with DRAM stride {inner_stride} are not contiguous (needs a transpose)")
    outer = axes[:-1]
    c = c0
    while c < c1:
        run, within = divmod(c, inner_extent)
        offset, index = 0, run
        for extent, stride in reversed(outer):
            offset += (index % extent) * stride
            index //= extent
        cols = min(c1, (run + 1) * inner_extent) - c
        yield c, offset + within, cols
        c += cols


def transfer(builder: ProgramBuilder, direction: str, view: DramView, region: Region, row0: int = 0, col0: int = 0) -> None:
    """Move view elements [row0 : row0+region.rows, col0 : col0+region.cols] (of the view as a
    matrix) into (`direction` "load") or out of ("store") `region`."""
    builder.replay(_transfer_instructions(direction, view, region, row0, col0, builder.dim))


@functools.lru_cache(maxsize=8192)
def _transfer_instructions(direction: str, view: DramView, region: Region, row0: int, col0: int,
                           dim: int) -> tuple[Prepared, ...]:
    """The DMA instructions of a transfer. Three transfers in four repeat one made shortly
    before (a streamed B tile for every row tile, A's rows for every column tile)."""
    addr, rows_axes, cols_axes = _matrix(view)
    mem, bs = region.mem, region.bs
    esize = view.esize
    if (mem == "acc") != (esize == 4):
        raise VitcError(f"codegen: {esize}-byte elements cannot move to/from {mem}")
    load = direction == "load"
    mnemonic = "dma.load" if load else "dma.store"
    pieces = tuple(row_pieces(rows_axes, row0, row0 + region.rows)) if len(rows_axes) > 1 else \
        ((row0, row0 * rows_axes[0][1], 1, 0, region.rows, rows_axes[0][1]),)  # (one piece: `row_pieces` inlined)
    prepared = []
    for block, col_offset, cols in _column_runs(cols_axes, col0, region.cols, dim):
        block_addr = region.addr + block * bs
        last_block = (cols - 1) // dim * bs  # rows from a row of the first block to the same row of the last
        for row, offset, depth, depth_stride, rows, stride in pieces:
            if depth * rows > bs:
                raise VitcError(f"codegen: a transfer of {depth} x {rows} rows exceeds the block stride {bs}")
            first = block_addr + row - row0
            dram = addr + (offset + col_offset) * esize
            fields = {
                "mem": mem, "addr": first, "rows": rows, "cols": cols, "bs": bs,
                "depth": depth, "depth_stride": rows if depth > 1 else 0,
                "dram": dram, "dram_stride": stride * esize, "dram_depth_stride": depth_stride * esize,
            }
            # The declared accesses, as `program.region_access` and `view_access` would give them
            # for the on-chip footprint (depth * rows rows of every block) and the DRAM window.
            on_chip = ((mem, first, first + last_block + depth * rows),)
            window = (("dram", dram, dram + ((depth - 1) * depth_stride + (rows - 1) * stride + cols) * esize),)
            prepared.append(Prepared(mnemonic, fields, window, on_chip) if load else Prepared(mnemonic, fields, on_chip, window))
    return tuple(prepared)


@functools.lru_cache(maxsize=4096)
def _column_runs(axes: tuple[SubAxis, ...], col0: int, cols: int, dim: int) -> tuple[tuple[int, int, int], ...]:
    """The contiguous column runs of a transfer of columns [col0, col0 + cols): (first column
    block of the region, DRAM offset, columns) each; every run lands at a block boundary (a DMA
    writes lanes from 0). Tiles of one layer move the same columns again and again."""
    runs = []
    for col, col_offset, run in col_pieces(axes, col0, col0 + cols):
        placed = col - col0
        if placed % dim:
            raise VitcError(f"codegen: a contiguous column run starts at column {placed} of a tile, not at a block boundary")
        runs.append((placed // dim, col_offset, run))
    return tuple(runs)


@functools.lru_cache(maxsize=4096)
def _matrix(view: DramView) -> tuple[int, tuple[SubAxis, ...], tuple[SubAxis, ...]]:
    """The view as a matrix (address, row sub-axes, column sub-axes); the same views are moved
    tile after tile."""
    matrix = view.as_matrix()
    return matrix.addr, *matrix.axes
