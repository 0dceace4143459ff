"""`lut`: 256-entry table look-up of SPAD 8-bit codes.

Index of element (r, c): `(x + off - (pr ? rowvec[r] : 0)) & 0xFF`, with `x` the code read as
`u`-typed, `off` a signed immediate and `rowvec` the ACC int32 column vector at `r_addr`. The
table is a row vector of 256 entries at `tab` (entry i in row `tab + i // dim`, lane
`i % dim`): bytes in SPAD with output to SPAD (`out=0`), or 32-bit words in ACC with output to
ACC (`out=1`). The index wraps modulo 256 in int64, so every index is in range by construction.
"""

import numpy as np

from runtime_emulator.machine import Machine
from runtime_emulator.regions import Region, region_reader, region_writer

TABLE_SIZE = 256


def bind_lut(m: Machine, f):
    read = region_reader(m.spad_as(f["u"]), Region(f["src"], f["rows"], f["cols"], f["src_bs"]))
    mem = m.acc if f["out"] else m.spad
    write = region_writer(mem, Region(f["dst"], f["rows"], f["cols"], f["dst_bs"]))
    read_table = region_reader(mem, Region(f["tab"], 1, TABLE_SIZE, 1))
    offset = f["off"]
    if f["pr"]:
        read_offsets = region_reader(m.acc, Region(f["r_addr"], f["rows"], 1, 1))
        row_offset = lambda: read_offsets()[0].astype(np.int64)  # (rows, 1)
    else:
        row_offset = lambda: 0

    def lut() -> None:
        index = read()[0].astype(np.int64) + offset
        index -= row_offset()
        index &= TABLE_SIZE - 1
        write(read_table()[0, 0][index])
    return lut
