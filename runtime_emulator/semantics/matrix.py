"""`mm`: the matrix engine's `C (=|+=) (A - za) @ (B' - zb)` in exact, wrapping int32.

A is the SPAD region `(a, m, k, a_bs)` read as `au`-typed codes; B is `(b, k, n, b_bs)` read as
`bu`, or with `bt=1` it is stored transposed as `(b, n, k, b_bs)`; C is the ACC region
`(c, m, n, c_bs)`. Products are summed by BLAS in floating point, which is exact when every
partial sum is an integer the format represents, whatever order BLAS adds in:
- float32 when `max_i sum_k |A[i,k]| * max |B|` is at most 2^24 (every partial sum of a row of
  A with a column of B is bounded by it; the products themselves are below 511 * 511 < 2^24).
  The bound is first taken from the code ranges and zero points alone (`k * max|A| * max|B|`),
  then, if that is too large, from A's actual row sums;
- float64 otherwise: every partial sum is an integer below k * 511 * 511 < 2^53 (k is a 16-bit
  field), so the float64 result is the exact integer sum; it is wrapped to int32 like a
  hardware accumulator.
`accum=1` adds to C with int32 wrap-around.
"""

import numpy as np

from runtime_emulator.machine import Machine
from runtime_emulator.numerics import code_range
from runtime_emulator.regions import Region, read_region, read_region_as, write_region

F32_EXACT_INTEGERS = 1 << 24  # every integer up to this magnitude is a float32


def _largest_magnitude(unsigned: int, zero_point: int) -> int:
    """Largest |code - zero_point| over the 8-bit type's codes."""
    lo, hi = code_range(unsigned)
    return max(abs(lo - zero_point), abs(hi - zero_point))


def _centered(m: Machine, region: Region, unsigned: int, zero_point: int, dtype) -> np.ndarray:
    values = read_region_as(m.spad_as(unsigned), region, dtype)
    if zero_point:
        values -= zero_point  # exact: at most 9 bits
    return values


def _product(m: Machine, f) -> np.ndarray:
    """`(A - za) @ (B' - zb)` as int32 (wrapped)."""
    a = _centered(m, Region(f["a"], f["m"], f["k"], f["a_bs"]), f["au"], f["za"], np.float32)
    b_max = _largest_magnitude(f["bu"], f["zb"])
    fits_f32 = f["k"] * _largest_magnitude(f["au"], f["za"]) * b_max <= F32_EXACT_INTEGERS
    if not fits_f32:
        fits_f32 = float(np.abs(a).sum(axis=1, dtype=np.float64).max()) * b_max <= F32_EXACT_INTEGERS
    dtype = np.float32 if fits_f32 else np.float64
    if not fits_f32:
        a = a.astype(np.float64)
    if f["bt"]:
        b = _centered(m, Region(f["b"], f["n"], f["k"], f["b_bs"]), f["bu"], f["zb"], dtype).T
    else:
        b = _centered(m, Region(f["b"], f["k"], f["n"], f["b_bs"]), f["bu"], f["zb"], dtype)
    product = a @ b
    if fits_f32:
        return product.astype(np.int32)  # exact integers below 2^24
    return product.astype(np.int64).astype(np.int32)  # int64 -> int32 keeps the low 32 bits


def mm(m: Machine, f) -> None:
    product = _product(m, f)
    c = Region(f["c"], f["m"], f["n"], f["c_bs"])
    if f["accum"]:
        product += read_region(m.acc, c)  # int32 + int32 wraps
    write_region(m.acc, c, product)
