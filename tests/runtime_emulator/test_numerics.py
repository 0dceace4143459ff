"""The correctly rounded float32 fma against exact rational arithmetic, on random operands and on
the hard cases: sums that are near a float32 tie, and addends far smaller than the product."""

from fractions import Fraction

import numpy as np

from runtime_emulator.numerics import fma_f32
from tests.runtime_emulator.test_qlinear import round_f32

F32 = np.float32


def exact_fma(x, y, z) -> F32:
    return round_f32(Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z)))


def check(x, y, z):
    got = fma_f32(x, y, z)
    expected = np.array([exact_fma(a, b, c) for a, b, c in zip(x, y, z)], F32)
    differs = got.view(np.uint32) != expected.view(np.uint32)
    assert not differs.any(), f"fma({x[differs][0]}, {y[differs][0]}, {z[differs][0]}) = {got[differs][0]}, exact {expected[differs][0]}"


def test_random_operands():
    rng = np.random.default_rng(0)
    x, y = (rng.standard_normal((2, 3000)) * 10.0 ** rng.integers(-5, 5, (2, 3000))).astype(F32)
    z = (rng.standard_normal(3000) * 10.0 ** rng.integers(-12, 12, 3000)).astype(F32)
    check(x, y, z)


def test_near_ties_and_tiny_addends():
    rng = np.random.default_rng(1)
    # Products just above 1 (exact in float64) plus addends at an odd multiple of 2^-24, the
    # float32 half-ulp, nudged by 2^-60: the float64 sum loses the nudge, so rounding it to
    # float32 would see a false tie; round-to-odd keeps the nudge's direction.
    x = (F32(1) + F32(2.0**-23) * rng.integers(0, 64, 2000)).astype(F32)
    y = (F32(1) + F32(2.0**-23) * rng.integers(0, 64, 2000)).astype(F32)
    z = (F32(2.0**-24) * rng.choice([-3, -1, 0, 1, 3], 2000) + F32(2.0**-60) * rng.choice([-1, 0, 1], 2000)).astype(F32)
    check(x, y, z)
    check(x, y, -(x * y).astype(F32))  # cancellation: the exact rounding error of the product
