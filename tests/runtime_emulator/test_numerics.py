"""The correctly rounded float32 fma against exact rational arithmetic, on random operands and on
the hard case: exact float32 ties broken by an addend far smaller than the product."""

from fractions import Fraction

import numpy as np
import pytest

from runtime_emulator.numerics import fma_f32, fma_square_chain
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


def test_exact_ties_broken_by_tiny_addends():
    """3 * (1 + k 2^-23) with k odd is exactly halfway between two float32 values; an addend of
    +-2^-70 breaks the tie, but vanishes in a float64 sum, so a float64 fma rounded to float32
    would round to even. The correctly rounded result goes the addend's way."""
    rng = np.random.default_rng(1)
    k = rng.integers(0, 2**20, 2000) * 2 + 1
    scale = F32(2.0) ** rng.integers(-10, 10, 2000).astype(F32)
    x = (F32(3) * scale).astype(F32)
    y = (F32(1) + k.astype(F32) * F32(2.0**-23)).astype(F32)
    z = (rng.choice([-1, 1], 2000) * F32(2.0**-70) * scale).astype(F32)
    check(x, y, z)
    check(x, y, -(x * y).astype(F32))  # cancellation: the exact rounding error of the product


def test_subnormal_results():
    """Sums below float32's smallest normal round at a coarser bit than a normal float32's, so the
    halfway test of the fast path does not apply there: those take the exact path."""
    rng = np.random.default_rng(2)
    x = (rng.random(3000) + 1).astype(F32) * F32(2.0**-100)
    y = (rng.random(3000) + 1).astype(F32) * F32(2.0**-33)
    z = (rng.standard_normal(3000) * 2.0**-127).astype(F32)
    assert (np.abs(x.astype(np.float64) * y + z) < np.finfo(F32).tiny).mean() > 0.5
    check(x, y, z)
    odd = np.arange(1, 3000, 2, dtype=F32) * F32(2.0**-126)
    quarter = np.full(odd.shape, F32(2.0**-24))  # odd * 2^-150: halfway between two subnormals
    check(odd, quarter, np.zeros_like(odd))
    check(odd, quarter, np.full(odd.shape, F32(2.0**-149)))


@pytest.mark.parametrize("magnitude", [1.0, 2.0**-70], ids=["normal", "subnormal-sums"])
def test_square_chain_rounds_every_step_once(magnitude):
    """The chain's fast float64 path and its exact fallback (taken where a sum is a float32
    subnormal) both equal one correctly rounded fma per step."""
    rng = np.random.default_rng(3)
    steps = (rng.standard_normal((5, 24, 8)) * magnitude).astype(F32)
    got = fma_square_chain(steps, F32(-0.0))
    expected = np.full((5, 8), F32(-0.0))
    for j in range(steps.shape[1]):
        x = steps[:, j].ravel()
        expected = np.array([exact_fma(a, a, c) for a, c in zip(x, expected.ravel())], F32).reshape(5, 8)
    differs = got.view(np.uint32) != expected.view(np.uint32)
    assert not differs.any(), f"lane {np.argwhere(differs)[0]}: got {got[differs][0]}, exact {expected[differs][0]}"


def _chain_by_exact_fma(steps, start):
    expected = np.full((steps.shape[0], steps.shape[2]), start)
    for j in range(steps.shape[1]):
        x = steps[:, j].ravel()
        expected = np.array([exact_fma(a, a, c) for a, c in zip(x, expected.ravel())], F32).reshape(expected.shape)
    return expected


def test_square_chain_double_rounding_in_some_chains():
    """Two chains meet a genuine double rounding (at steps 4 and 11): their accumulator is 2^-80,
    then (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24 is exactly halfway between two float32 values, and only
    the 2^-80 lost in float64 breaks the tie upwards. The first adds only zeros afterwards (its
    one-ulp difference cannot be absorbed), the second random squares. A third meets the same
    trap at step 7 and then adds 2^-24, an exact tie that only the corrected accumulator breaks
    the right way (a fix that went on from the uncorrected one would round to 1 + 2^-11). The
    other chains, and these after their traps, go on from the right values."""
    rng = np.random.default_rng(4)
    steps = (rng.standard_normal((5, 24, 8)) * 0.5).astype(F32)
    for row, lane, step in ((2, 5, 4), (0, 1, 11), (4, 7, 7)):
        steps[row, :step, lane] = 0
        steps[row, step - 1, lane] = F32(2.0**-40)
        steps[row, step, lane] = F32(1 + 2.0**-12)
    steps[2, 5:, 5] = 0
    steps[4, 8:, 7] = 0
    steps[4, 8, 7] = F32(2.0**-12)
    float64_then_float32 = F32(np.float64(2.0**-80) + np.float64(F32(1 + 2.0**-12)) ** 2)
    assert float64_then_float32 != exact_fma(F32(1 + 2.0**-12), F32(1 + 2.0**-12), F32(2.0**-80))  # the trap is real
    got = fma_square_chain(steps, F32(-0.0))
    expected = _chain_by_exact_fma(steps, F32(-0.0))
    differs = got.view(np.uint32) != expected.view(np.uint32)
    assert not differs.any(), (
        f"row, lane {np.argwhere(differs)[0]}: got {got[differs][0]}, exact {expected[differs][0]}")
