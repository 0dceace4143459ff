"""`mm`: the matrix engine's `C (=|+=) (A - za) @ (B' - zb)` in exact, wrapping int32.

A is the SPAD region `(a, m, k, a_bs)` read as `au`-typed codes; B is `(b, k, n, b_bs)` read as
`bu`, or with `bt=1` it is stored transposed as `(b, n, k, b_bs)`; C is the ACC region
`(c, m, n, c_bs)`. Products are summed in float64 BLAS: every partial sum is an integer below
k * 511 * 511 < 2^53 (k is a 16-bit field), so the float64 result is the exact integer sum;
it is then wrapped to int32 like a hardware accumulator, and `accum=1` adds with int32
wrap-around.
"""

import numpy as np

from runtime_emulator.machine import Machine
from runtime_emulator.regions import Region, read_region, write_region


def _centered(m: Machine, region: Region, unsigned: int, zero_point: int) -> np.ndarray:
    return read_region(m.spad_as(unsigned), region).astype(np.float64) - zero_point


def mm(m: Machine, f) -> None:
    a = _centered(m, Region(f["a"], f["m"], f["k"], f["a_bs"]), f["au"], f["za"])
    if f["bt"]:
        b = _centered(m, Region(f["b"], f["n"], f["k"], f["b_bs"]), f["bu"], f["zb"]).T
    else:
        b = _centered(m, Region(f["b"], f["k"], f["n"], f["b_bs"]), f["bu"], f["zb"])
    product = (a @ b).astype(np.int64).astype(np.int32)  # int64 -> int32 keeps the low 32 bits
    c = Region(f["c"], f["m"], f["n"], f["c_bs"])
    if f["accum"]:
        product = read_region(m.acc, c) + product  # int32 + int32 wraps
    write_region(m.acc, c, product)
