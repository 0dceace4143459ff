"""The exact float32 primitives against exact rational arithmetic and a C-style loop."""

from fractions import Fraction

import numpy as np

from compiler.reference.kernels.fp32 import fma, sequential_sum


def _correctly_rounded(exact: Fraction) -> np.float32:
    """Nearest float32 to a rational, ties to even (by checking the neighbours of a guess)."""
    guess = np.float32(float(exact))
    candidates = [np.nextafter(guess, np.float32(-np.inf)), guess, np.nextafter(guess, np.float32(np.inf))]
    def key(c):
        return abs(Fraction(float(c)) - exact), int(np.float32(c).view(np.uint32)) & 1
    return min(candidates, key=key)


def test_fma_is_correctly_rounded_on_random_values():
    rng = np.random.default_rng(0)
    a, b, c = ((rng.standard_normal(2000) * 10.0 ** rng.integers(-3, 4, 2000)).astype(np.float32) for _ in range(3))
    got = fma(a, b, c)
    for i in range(a.size):
        exact = Fraction(float(a[i])) * Fraction(float(b[i])) + Fraction(float(c[i]))
        assert got[i] == _correctly_rounded(exact), f"fma({a[i]!r}, {b[i]!r}, {c[i]!r}) at {i}: got {got[i]!r}"


def test_fma_near_halfway_rounds_once():
    """(1) an exact tie rounds to even; (2) a value 2^-70 below a tie, whose float64 rounding
    is the tie itself: rounding to float64 and then to float32 gives the wrong neighbour."""
    f = np.float32
    a = np.array([2.0 ** -24, 2.0 ** -24 * (1 + 2.0 ** -23)], np.float32)
    b = np.array([1.0, 1 - 2.0 ** -23], np.float32)
    c = np.array([1.0, 1 + 2.0 ** -23], np.float32)
    got = fma(a, b, c)
    assert got[0] == f(1.0), "1 + 2^-24 is a tie: to even"
    assert got[1] == f(1 + 2.0 ** -23), "just below the tie: down"
    naive = (a.astype(np.float64) * b + c).astype(np.float32)
    assert naive[1] != got[1], "the double-rounding route must fail here (the test has power)"
    for i in range(a.size):
        exact = Fraction(float(a[i])) * Fraction(float(b[i])) + Fraction(float(c[i]))
        assert got[i] == _correctly_rounded(exact)


def test_sequential_sum_is_a_left_to_right_loop():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((7, 333)) * 10.0 ** rng.integers(-4, 5, (7, 333))).astype(np.float32)
    loop = []
    for row in x:
        s = np.float32(0)
        for v in row:
            s = np.float32(s + v)
        loop.append(s)
    assert np.array_equal(sequential_sum(x), np.array(loop, np.float32))
    assert not np.array_equal(x.sum(axis=-1), np.array(loop, np.float32)), "numpy's pairwise sum should differ"
