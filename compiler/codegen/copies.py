"""DRAM-to-DRAM copies through the scratchpad: concat operands that could not be placed in
their slot, and layout results that must live in their own buffer (a graph output).

The source is loaded a tile of rows at a time into alternating on-chip buffers and stored to
the destination view; both views must have contiguous columns (the DMA moves rows).
"""

import math

from compiler.codegen.dram_view import DramView
from compiler.codegen.onchip import Arena
from compiler.codegen.program import ProgramBuilder
from compiler.codegen.region import Region, ceil_div
from compiler.codegen.transfer import transfer


def emit_copy(builder: ProgramBuilder, src: DramView, dst: DramView, spad: Arena, acc: Arena) -> None:
    arena = acc if src.esize == 4 else spad
    rows = math.prod(src.shape[:-1]) if len(src.shape) > 1 else 1
    cols = src.shape[-1] if src.shape else 1
    src = src.reshape((rows, cols))
    dst = dst.reshape((rows, cols))
    blocks = ceil_div(cols, builder.dim)
    tile = max(1, min(rows, arena.free // (2 * blocks)))
    buffers = [arena.region(tile, cols, builder.dim, "copy buffer") for _ in range(2)]
    for number, r0 in enumerate(range(0, rows, tile)):
        full = buffers[number % 2]
        region = Region(full.mem, full.addr, min(tile, rows - r0), cols, full.bs)
        transfer(builder, "load", src, region, r0)
        transfer(builder, "store", dst, region, r0)
