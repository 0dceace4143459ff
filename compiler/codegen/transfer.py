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
from compiler.codegen.program import ProgramBuilder
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
    addr, rows_axes, cols_axes = _matrix(view)
    mem = region.mem
    esize = view.esize
    if (mem == "acc") != (esize == 4):
        raise VitcError(f"codegen: {esize}-byte elements cannot move to/from {mem}")
    dim = builder.dim
    mnemonic = "dma.load" if direction == "load" else "dma.store"
    for col, col_offset, cols in col_pieces(cols_axes, col0, col0 + region.cols):
        placed = col - col0
        if placed % dim:
            raise VitcError(f"codegen: a contiguous column run starts at column {placed} of a tile, not at a block boundary")
        if placed + cols > region.cols:
            raise VitcError(f"region {region}: column range {placed}+{cols} out of bounds")
        block_addr = region.addr + placed // dim * region.bs
        last_block = (cols - 1) // dim * region.bs  # rows from a row of the first block to the same row of the last
        for row, offset, depth, depth_stride, rows, stride in row_pieces(rows_axes, row0, row0 + region.rows):
            if depth * rows > region.bs:
                raise VitcError(f"codegen: a transfer of {depth} x {rows} rows exceeds the block stride {region.bs}")
            first = block_addr + row - row0
            dram = addr + (offset + col_offset) * esize
            fields = {
                "mem": mem, "addr": first, "rows": rows, "cols": cols, "bs": region.bs,
                "depth": depth, "depth_stride": rows if depth > 1 else 0,
                "dram": dram, "dram_stride": stride * esize, "dram_depth_stride": depth_stride * esize,
            }
            # The declared accesses, as `program.region_access` and `view_access` would give them
            # for the on-chip footprint (depth * rows rows of every block) and the DRAM window.
            on_chip = (mem, first, first + last_block + depth * rows)
            window = ("dram", dram, dram + ((depth - 1) * depth_stride + (rows - 1) * stride + cols) * esize)
            if direction == "load":
                builder.emit(mnemonic, fields, reads=[window], writes=[on_chip])
            else:
                builder.emit(mnemonic, fields, reads=[on_chip], writes=[window])


@functools.lru_cache(maxsize=4096)
def _matrix(view: DramView) -> tuple[int, tuple[SubAxis, ...], tuple[SubAxis, ...]]:
    """The view as a matrix (address, row sub-axes, column sub-axes); the same views are moved
    tile after tile."""
    matrix = view.as_matrix()
    return matrix.addr, *matrix.axes
