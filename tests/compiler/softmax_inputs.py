"""Adversarial Softmax inputs shared by the reference kernel's tests (tests/compiler/reference)
and the softmax lowering's tests (tests/compiler/codegen/vector): rows where MLAS's recipe
(max, x - max, its exp polynomial with the -103.97 clamp, lane-parallel sum, reciprocal
multiply) is easiest to get wrong. Each entry makes its input from a numpy Generator, so a test
seeds it (the tests use `len(name)`) and both suites see the same rows."""

import numpy as np

F32 = np.float32

ADVERSARIAL_SOFTMAX_INPUTS = {
    "ties": lambda rng: rng.integers(-3, 3, (20, 197)).astype(F32),
    "equal rows": lambda rng: np.full((4, 197), 7.5, F32),
    "huge range": lambda rng: (rng.standard_normal((20, 197)) * 1e30).astype(F32),
    "float32 extremes (x - max overflows)": lambda rng: np.array([[3.4e38, -3.4e38, 0, 1]], F32),
    "around the -103.97 clamp": lambda rng: np.linspace(-110, -80, 17 * 64, dtype=F32).reshape(17, 64),
    "subnormal exponentials": lambda rng: np.concatenate(
        [np.full((20, 1), 100, F32), (rng.uniform(-8, 3, (20, 196)) - 100).astype(F32)], axis=1),
    "exponentials in the subnormal range": lambda rng: np.concatenate(
        [np.zeros((20, 1), F32), rng.uniform(-103.9, -87.4, (20, 196)).astype(F32)], axis=1),
    "signed zeros": lambda rng: np.array([[-0.0, -0.0, -1], [0.0, -0.0, -1]], F32),
    "attention scores": lambda rng: (rng.standard_normal((1, 2, 9, 197)) * 5).astype(F32),
}
