"""Row reductions of the vector unit: `rowsum` and `rowmax`, each into an ACC column vector.

- `rowsum`: float32 rows of `(src, rows, cols, src_bs)` summed sequentially left to right from
  +0.0 (`sq=1`: sum of `f32(x * x)`). `np.add.accumulate` is sequential by definition (each
  partial sum depends on the previous one); adding +0.0 to its last column gives the sum that
  starts from +0.0 (it differs only in the sign of an all-negative-zero row).
- `rowmax`: int32 maximum of each row, from SPAD codes (`mem=0`, read as `u`) or ACC int32
  (`mem=1`).
The result goes to lane 0 of rows `dst .. dst + rows - 1`.
"""

import numpy as np

from runtime_emulator.machine import Machine
from runtime_emulator.numerics import F32
from runtime_emulator.regions import Region, read_region


def _src(f) -> Region:
    return Region(f["src"], f["rows"], f["cols"], f["src_bs"])


def rowsum(m: Machine, f) -> None:
    x = read_region(m.acc_f32, _src(f))
    if f["sq"]:
        x = np.multiply(x, x, dtype=F32)
    partial = np.add.accumulate(x, axis=1, dtype=F32)
    m.acc_f32[f["dst"]:f["dst"] + f["rows"], 0] = partial[:, -1] + F32(0)


def rowmax(m: Machine, f) -> None:
    mem = m.acc if f["mem"] else m.spad_as(f["u"])
    m.acc[f["dst"]:f["dst"] + f["rows"], 0] = read_region(mem, _src(f)).max(axis=1)
