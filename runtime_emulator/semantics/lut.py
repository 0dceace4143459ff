"""`lut`: 256-entry table look-up of SPAD 8-bit codes.

Index of element (r, c): `(x + off - (pr ? rowvec[r] : 0)) & 0xFF`, with `x` the code read as
`u`-typed, `off` a signed immediate and `rowvec` the ACC int32 column vector at `r_addr`. The
table is a row vector of 256 entries at `tab` (entry i in row `tab + i // dim`, lane
`i % dim`): bytes in SPAD with output to SPAD (`out=0`), or 32-bit words in ACC with output to
ACC (`out=1`). The index wraps modulo 256 in int64, so every index is in range by construction.
"""

import numpy as np

from runtime_emulator.machine import Machine
from runtime_emulator.regions import Region, read_column_vector, read_region, read_row_vector, write_region

TABLE_SIZE = 256


def lut(m: Machine, f) -> None:
    x = read_region(m.spad_as(f["u"]), Region(f["src"], f["rows"], f["cols"], f["src_bs"]))
    index = x.astype(np.int64) + f["off"]
    if f["pr"]:
        index = index - read_column_vector(m.acc, f["r_addr"], f["rows"]).astype(np.int64)[:, None]
    index &= TABLE_SIZE - 1
    mem = m.acc if f["out"] else m.spad
    table = read_row_vector(mem, f["tab"], TABLE_SIZE)
    write_region(mem, Region(f["dst"], f["rows"], f["cols"], f["dst_bs"]), table[index])
