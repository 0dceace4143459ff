"""`lut`: 256-entry table look-up of SPAD 8-bit codes.

Index of element (r, c): `(x + off - (pr ? rowvec[r] : 0)) & 0xFF`, with `x` the code read as
`u`-typed, `off` a signed immediate and `rowvec` the ACC int32 column vector at `r_addr`. The
table is a row vector of 256 entries at `tab` (entry i in row `tab + i // dim`, lane
`i % dim`): bytes in SPAD with output to SPAD (`out=0`), or 32-bit words in ACC with output to
ACC (`out=1`). The index wraps modulo 256 (byte arithmetic), so every index is in range by construction
(lanes past the region's columns included: the look-up runs on whole column blocks,
`regions.block_view`, and only the logical lanes are written).
"""

import numpy as np

from runtime_emulator.machine import Machine
from runtime_emulator.regions import Region, block_column_vector, block_view, block_writer

TABLE_SIZE = 256


def bind_lut(m: Machine, f):
    # Every term of the index is taken modulo 256, and a code's stored byte is the code modulo
    # 256 whether it is read as int8 or uint8: the index is byte arithmetic that wraps, whatever
    # `u` says.
    source = block_view(m.spad, Region(f["src"], f["rows"], f["cols"], f["src_bs"]))
    mem = m.acc if f["out"] else m.spad
    write = block_writer(mem, Region(f["dst"], f["rows"], f["cols"], f["dst_bs"]))
    # Entry i is in row tab + i // dim, lane i % dim: the table's rows in order, one flat view.
    # Looked up with `table.take(index)`: the gather `table[index]` without indexing's generic
    # machinery.
    table = mem[f["tab"]:f["tab"] + -(-TABLE_SIZE // m.dim)].reshape(-1)[:TABLE_SIZE]
    offset = f["off"] % TABLE_SIZE
    if f["pr"]:
        row_offsets = block_column_vector(m.acc, f["r_addr"], f["rows"])

        def lut() -> None:
            # Per row, what to subtract from each byte: rowvec[r] - off, its low byte (the int32 ->
            # uint8 conversion keeps it), a handful of values; then one uint8 subtraction that wraps.
            shift = (row_offsets - offset).astype(np.uint8)
            write(table.take(np.subtract(source, shift)))
        return lut
    if offset:
        byte_offset = np.uint8(offset)
        return lambda: write(table.take(np.add(source, byte_offset)))  # uint8: wraps modulo 256
    return lambda: write(table.take(source))
