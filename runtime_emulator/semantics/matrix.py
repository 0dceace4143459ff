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
from runtime_emulator.regions import Region, region_reader, region_writer, stacked_blocks

F32_EXACT_INTEGERS = 1 << 24  # every integer up to this magnitude is a float32


def _largest_magnitude(unsigned: int, zero_point: int) -> int:
    """Largest |code - zero_point| over the 8-bit type's codes."""
    lo, hi = code_range(unsigned)
    return max(abs(lo - zero_point), abs(hi - zero_point))


def _centered_reader(m: Machine, region: Region, unsigned: int, zero_point: int):
    """A function giving the region's codes minus the zero point as a float array of the dtype
    it is given, `(rows, cols)`, converted in one strided pass over the memory."""
    by_row = stacked_blocks(m.spad_as(unsigned), region)[0].transpose(1, 0, 2)  # (rows, blocks, dim)
    rows, cols = region.rows, region.cols

    def read(dtype) -> np.ndarray:
        values = by_row.astype(dtype, order="C")
        if zero_point:
            values -= zero_point  # exact: at most 9 bits
        return values.reshape(rows, -1)[:, :cols]
    return read


def _times_transposed_b(m: Machine, f):
    """`bt=1`: (a, dtype) -> a @ B as `(m, n)`, and the store of such a product into C."""
    read_b_stored = _centered_reader(m, Region(f["b"], f["n"], f["k"], f["b_bs"]), f["bu"], f["zb"])
    c = Region(f["c"], f["m"], f["n"], f["c_bs"])
    read_c, write_c = region_reader(m.acc, c), region_writer(m.acc, c)
    accumulate = f["accum"]

    def store(product: np.ndarray) -> None:
        if accumulate:
            product += read_c()[0]  # int32 + int32 wraps
        write_c(product)
    return (lambda a, dtype: a @ read_b_stored(dtype).T), store


def _times_block_b(m: Machine, f):
    """`bt=0`: (a, dtype) -> a @ B column block by column block, `(blocks, m, dim)`, which is
    C's own block layout, and the store of such a product into C. B's blocks are converted
    without reordering, and lanes past n in the last block only reach product lanes never
    stored (their codes are in range, so the float32 bound still holds)."""
    dim = m.spad.shape[1]
    b_blocks = stacked_blocks(m.spad_as(f["bu"]), Region(f["b"], f["k"], f["n"], f["b_bs"]))[0]  # (blocks, k, dim)
    c_blocks = stacked_blocks(m.acc, Region(f["c"], f["m"], f["n"], f["c_bs"]))[0]  # (blocks, m, dim)
    full, tail = divmod(f["n"], dim)
    zero_point, accumulate = f["zb"], f["accum"]

    def times_b(a: np.ndarray, dtype) -> np.ndarray:
        b = b_blocks.astype(dtype)
        if zero_point:
            b -= zero_point  # exact: at most 9 bits
        return np.matmul(a, b)

    def store(product: np.ndarray) -> None:
        if accumulate:
            product += c_blocks  # int32 + int32 wraps
        c_blocks[:full] = product[:full]
        if tail:
            c_blocks[full, :, :tail] = product[full, :, :tail]
    return times_b, store


def bind_mm(m: Machine, f):
    read_a = _centered_reader(m, Region(f["a"], f["m"], f["k"], f["a_bs"]), f["au"], f["za"])
    times_b, store = (_times_transposed_b if f["bt"] else _times_block_b)(m, f)
    b_max = _largest_magnitude(f["bu"], f["zb"])
    always_f32 = f["k"] * _largest_magnitude(f["au"], f["za"]) * b_max <= F32_EXACT_INTEGERS

    def mm() -> None:
        a = read_a(np.float32)
        if always_f32 or float(np.abs(a).sum(axis=1, dtype=np.float64).max()) * b_max <= F32_EXACT_INTEGERS:
            store(times_b(a, np.float32).astype(np.int32))  # exact integers below 2^24
        else:  # int64 -> int32 keeps the low 32 bits
            store(times_b(a.astype(np.float64), np.float64).astype(np.int64).astype(np.int32))
    return mm
