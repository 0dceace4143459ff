"""An exact float32 oracle for tests: fused multiply-add and rounding computed with Python's
`fractions.Fraction`, so it shares nothing with the emulator's float64 tricks
(`runtime_emulator.numerics.fma_f32`) or the reference kernels' (`compiler.reference.kernels.fp32`).

Scalar and slow on purpose: tests call it on small inputs only. Finite operands only (the
callers check infinities and NaN with hand-written expectations).
"""

from fractions import Fraction

import numpy as np

F32 = np.float32
# Exact values at or beyond this magnitude round to infinity (half an ulp above FLT_MAX).
OVERFLOW = Fraction(2**128 - 2**103)


def round_to_f32(value: Fraction) -> F32:
    """The float32 nearest to the non-zero rational `value`, ties to the even significand."""
    if abs(value) >= OVERFLOW:
        return F32(np.inf) if value > 0 else F32(-np.inf)
    guess = F32(float(value))  # within one float32 step of the answer (two roundings)
    candidates = [c for c in (np.nextafter(guess, F32(-np.inf)), guess, np.nextafter(guess, F32(np.inf)))
                  if np.isfinite(c)]
    return min(candidates, key=lambda c: (abs(Fraction(float(c)) - value), int(np.array(c).view(np.uint32)) & 1))


def exact_fma(a, b, c) -> F32:
    """float32 `a * b + c` rounded once, for finite float32 scalars."""
    product = Fraction(float(a)) * Fraction(float(b))
    total = product + Fraction(float(c))
    if total != 0:
        return round_to_f32(total)
    # An exact zero is -0.0 only when both addends are zeros of negative sign (IEEE 754 6.3).
    product_negative = np.signbit(F32(a)) != np.signbit(F32(b))
    both_negative_zeros = product == 0 and product_negative and np.signbit(F32(c))
    return F32(-0.0) if both_negative_zeros else F32(0.0)


def exact_add(a, b) -> F32:
    """float32 `a + b` rounded once (what numpy's float32 addition must give)."""
    return exact_fma(a, F32(1.0), b)
