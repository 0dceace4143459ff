"""Bit-exact float32 and 8-bit integer arithmetic shared by the vector-unit instructions.

Every float operation here is one IEEE float32 operation rounded to nearest even, done by numpy
on float32 arrays step by step (never fused or reordered), so a result equals what a float32 C
kernel computes. The one fused operation, `fma_f32`, is computed exactly: the product of two
float32 values is exact in float64, and the sum is rounded to odd in float64 before the final
rounding to float32, which gives the correctly rounded fma (53 >= 2 * 24 + 2 bits); rounding to
odd changes the result only at float32 halfway points and subnormals, so only those elements
pay for it.

Conventions kept by all callers:
- 8-bit codes read from memory travel as int32 arrays, codes computed from floats as float
  arrays of exact integers in range (`round_to_code`); `code_range(u)` gives the type's range
  (`u=1` uint8, `u=0` int8);
- NaN never reaches an integer cast: it becomes the type's smallest code, as onnxruntime's
  QuantizeLinear does (checked in tests/runtime_emulator/test_quantization.py).
"""

import numpy as np

F32 = np.float32


def code_range(unsigned: int) -> tuple[int, int]:
    """Smallest and largest code of the 8-bit type selected by a `u` flag."""
    return (0, 255) if unsigned else (-128, 127)


def code_dtype(unsigned: int) -> type:
    return np.uint8 if unsigned else np.int8


def round_to_code(values: np.ndarray, unsigned: int, zero_point: int = 0) -> np.ndarray:
    """`sat(RNE(v) + zero_point)` for a float array `v` (NaN -> smallest code), computed in place
    in `values` (every caller passes an array of its own) and returned: exact integers in the
    8-bit range, which writing into an 8-bit memory converts exactly (no integer array is made)."""
    lo, hi = code_range(unsigned)
    codes = np.rint(values, out=values)
    if zero_point:
        # Exact below 2^24 (float32); beyond, the sum stays beyond the range, which the clamp
        # maps to the same bound.
        codes += zero_point
    # fmax/fmin return the bound where a code is NaN.
    np.fmax(codes, lo, out=codes)
    np.fmin(codes, hi, out=codes)
    return codes


def quantize_linear(x: np.ndarray, scale, zero_point: int, unsigned: int) -> np.ndarray:
    """onnxruntime QuantizeLinear: `f32(x / s)`, clamp to [qmin - zp, qmax - zp], RNE, `+ zp`."""
    return round_to_code(np.divide(x, scale, dtype=F32), unsigned, zero_point)  # clamps too


def quantize_wide_quotient(x: np.ndarray, multiplier, scale, zero_point: int, unsigned: int) -> np.ndarray:
    """`quant wide=1`: `v = (x * multiplier) / scale` in float64 (the float32 product is exact
    there, the division rounds once), then QuantizeLinear's clamp, RNE and `+ zp` on that float64
    value. With x = t, multiplier = Ys, scale = the row sum S this is onnxruntime's QLinearSoftmax
    output `min(qmax, RNE(t * Ys / S) + zy)` (q >= 0 there, so the lower clamp never acts)."""
    quotient = x.astype(np.float64)
    np.multiply(quotient, np.float64(multiplier), out=quotient)  # exact: 24 + 24 bits
    np.divide(quotient, np.asarray(scale, np.float64), out=quotient)
    return round_to_code(quotient, unsigned, zero_point)  # clamps too


def dequantize_linear(q: np.ndarray, scale, zero_point: int) -> np.ndarray:
    """`f32(float(q - zp) * s)`; q - zp is at most 9 bits, so its float32 value (and the
    float32 subtraction giving it) is exact."""
    values = q.astype(F32)
    if zero_point:
        values -= F32(zero_point)
    values *= scale
    return values


F64_BELOW_F32_ULP = 29  # float64 mantissa bits below a normal float32's last bit
F32_HALFWAY_PATTERN = 1 << (F64_BELOW_F32_ULP - 1)
F32_SMALLEST_NORMAL = float(np.finfo(F32).tiny)


def fma_f32(x, y, z) -> np.ndarray:
    """Correctly rounded float32 `x * y + z` (one rounding), elementwise.

    The float64 sum `product + z` is rounded once; rounding it again to float32 is already the
    correctly rounded fma except where that float64 sum sits exactly halfway between two normal
    float32 values (a double-rounding tie), or is a float32 subnormal (fewer bits). Only those
    elements, rare, get the exact treatment (round to odd)."""
    product = np.asarray(x, np.float64) * np.asarray(y, np.float64)  # exact: 24 + 24 bits
    addend = np.asarray(z, np.float64)
    total = np.asarray(product + addend)  # a new array
    suspect = _double_rounding_suspects(total)
    if suspect.any():
        total[suspect] = _round_sum_to_odd(_at(product, suspect), _at(addend, suspect))
    return total.astype(F32)


def _at(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`values`, broadcast to the mask's shape, where the mask is true."""
    return (values if values.shape == mask.shape else np.broadcast_to(values, mask.shape))[mask]


def fma_square_chain(steps: np.ndarray, start) -> np.ndarray:
    """`acc = fma(s, s, acc)` for s = steps[:, 0], steps[:, 1], ... in turn, from `start`
    (float32): each step rounds once to float32. Shape `(rows, n, lanes)` -> `(rows, lanes)`.

    Each element (row, lane) is a chain of its own. A step is one float64 addition over all
    chains of the exact square and the accumulator, rounded to float32 (stored through a
    float32 array into the next float64 accumulator, `accs[i]` holding those entering step i:
    plain float64 additions and assignments, the cheapest numpy calls for so few elements).
    That is the fma unless the float64 sum is a double-rounding suspect (see `fma_f32`). At the
    first step with suspects, those chains' step is redone with `fma_f32` and every chain runs
    again from the step after it (a chain never looks at another, so the others recompute the
    same values). Each pass moves that first step on, so the passes end."""
    squares = np.square(steps.astype(np.float64)).transpose(1, 0, 2).copy()  # exact: 24 + 24 bits
    sums = np.empty_like(squares)
    accs = np.empty((len(squares) + 1, *squares.shape[1:]))  # float32 values, exact in float64
    accs[0] = start
    rounded = np.empty(squares.shape[1:], F32)
    first = 0
    while True:
        for step in range(first, len(squares)):  # step-major: contiguous blocks
            np.add(squares[step], accs[step], out=sums[step])
            rounded[...] = sums[step]
            accs[step + 1] = rounded
        suspects = _double_rounding_suspects(sums[first:])
        if not suspects.any():
            return accs[-1].astype(F32)
        step = first + int(np.flatnonzero(suspects.any(axis=(1, 2)))[0])
        redo = suspects[step - first]
        values = steps[:, step][redo]
        accs[step + 1][redo] = fma_f32(values, values, accs[step][redo])
        first = step + 1


def f32_halfway(total: np.ndarray) -> np.ndarray:
    """Float64 values exactly halfway between two float32 values of their binade: where rounding
    a rounded float64 sum to float32 may differ from rounding the exact sum (double rounding)."""
    return (total.view(np.int64) & ((1 << F64_BELOW_F32_ULP) - 1)) == F32_HALFWAY_PATTERN


def _double_rounding_suspects(total: np.ndarray) -> np.ndarray:
    """Float64 sums whose rounding to float32 may differ from the exact sum's: exactly halfway
    between two normal float32 values, or nonzero below the smallest normal float32."""
    suspects = f32_halfway(total) | (np.abs(total) < F32_SMALLEST_NORMAL)
    if suspects.any():  # rare: only then are zeros (exact, and never halfway) taken out
        suspects &= total != 0
    return suspects


def _round_sum_to_odd(product: np.ndarray, addend: np.ndarray) -> np.ndarray:
    """`product + addend` rounded to odd in float64, which then rounds to float32 correctly
    (53 >= 2 * 24 + 2 bits)."""
    total = product + addend
    # TwoSum: the exact error of the float64 addition.
    addend_part = total - product
    error = (product - (total - addend_part)) + (addend - addend_part)
    # Round to odd: an inexact sum with an even last bit moves one ulp towards the error.
    even = (total.view(np.int64) & 1) == 0
    inexact = np.isfinite(total) & (error != 0) & even
    return np.where(inexact, np.nextafter(total, np.where(error > 0, np.inf, -np.inf)), total)
