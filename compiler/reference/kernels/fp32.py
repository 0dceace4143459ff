"""Exact float32 arithmetic that numpy does not offer directly.

onnxruntime's kernels use single float32 operations whose rounding numpy reproduces only when
each step is written out in float32. Two steps need help:
- `fma`: a fused multiply-add (one rounding), as AVX2/AVX-512 `vfmadd` computes it. numpy has
  no fma; it is built from float64 arithmetic plus an exact error term, so that the double
  rounding (to float64, then to float32) can never give a different answer than one rounding.
- `sequential_sum`: a left-to-right float32 sum along the last axis (a C loop `s += x[i]`).
  `np.sum` is pairwise and gives different bits; `np.add.accumulate` in float32 is sequential.

Invariants: every function takes and returns float32 arrays and rounds exactly like the scalar
C code it names (round to nearest even, no flush of subnormals).
"""

import numpy as np


def fma(a, b, c) -> np.ndarray:
    """float32 `a * b + c` with one rounding, elementwise with numpy broadcasting.

    The product of two float32 values is exact in float64. The float64 sum `s` may round; the
    error `e` of that sum is computed exactly (Knuth's TwoSum). When `e != 0`, `s` is moved one
    float64 step towards the exact value so it can no longer sit exactly on a float32 halfway
    point, which makes the final float64 -> float32 rounding the correctly rounded result.
    """
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    c64 = np.asarray(c, dtype=np.float32).astype(np.float64)
    p = a.astype(np.float64) * b.astype(np.float64)
    s = p + c64
    bb = s - p
    e = (p - (s - bb)) + (c64 - bb)
    s = np.where(e != 0, np.nextafter(s, np.where(e > 0, np.inf, -np.inf)), s)
    return s.astype(np.float32)


def sequential_sum(x: np.ndarray, start=0.0) -> np.ndarray:
    """Left-to-right float32 sum over the last axis, beginning with `start` (float32).

    Returns an array of the leading shape (the last axis reduced).
    """
    x = np.asarray(x, dtype=np.float32)
    with_start = np.concatenate([np.full(x.shape[:-1] + (1,), start, dtype=np.float32), x], axis=-1)
    return np.add.accumulate(with_start, axis=-1, dtype=np.float32)[..., -1]
