"""LayerNormalization (float32), as onnxruntime 1.32 computes it on this x86 CPU.

onnxruntime 1.32 hands a row of N >= 8 elements to MLAS's AVX2 LayerNorm kernel. Established by
tests against onnxruntime (tests/compiler/reference/test_layernorm.py: N = 8..39, 50, 60..64,
100..103, 192, 197, 768, 1000, eps 1e-5 and 1e-12, outputs Y, Mean and InvStdDev, 0 mismatches;
NUMERICS.md's sequential float32 sum and sum of squares is wrong on most rows):
- mean: a double-precision sum in 4 lanes (lane j takes elements j, j+4, ...; the lanes are
  reduced as `(l0 + l2) + (l1 + l3)`), then the remaining N % 4 elements in order;
  `mean = f32(sum / N)` (a double division);
- variance: centred, in float32: `d = f32(x - mean)`, 8 lanes accumulate `fma(d, d, acc)`,
  reduced as `((l0+l4) + (l2+l6)) + ((l1+l5) + (l3+l7))`; then the N % 8 remaining elements in
  order: when there are 4 or more, the first 4 add `f32(d*d)` (the compiler vectorized their
  products) and the rest `fma(d, d, acc)`;
- `inv = f32(1 / f32(sqrt(f32(f32(var / N) + eps))))`;
- `y = fma(f32((x - mean) * inv), gamma, beta)` (`f32(f32(...) * gamma)` without beta).
Rows of fewer than 8 elements go to a scalar fallback whose results none of the tested formulas
reproduce; this kernel refuses them.
"""

from __future__ import annotations

import numpy as np

from compiler.reference.kernels.fp32 import fma
from isa.errors import VitcError

F32 = np.float32
MIN_ROW = 8


def _mean(rows: np.ndarray) -> np.ndarray:
    n = rows.shape[-1]
    full = n // 4 * 4
    lanes = rows[..., :full].astype(np.float64).reshape(rows.shape[:-1] + (full // 4, 4))
    lane_sums = np.add.accumulate(lanes, axis=-2)[..., -1, :]  # n >= 8, so every lane has elements
    total = (lane_sums[..., 0] + lane_sums[..., 2]) + (lane_sums[..., 1] + lane_sums[..., 3])
    for k in range(full, n):
        total = total + rows[..., k].astype(np.float64)
    return (total / n).astype(F32)[..., None]


def _centred_sum_of_squares(d: np.ndarray) -> np.ndarray:
    n = d.shape[-1]
    full = n // 8 * 8
    acc = np.zeros(d.shape[:-1] + (8,), F32)
    for k in range(0, full, 8):  # a loop over 8-element chunks, each one numpy operation over all rows
        chunk = d[..., k:k + 8]
        acc = fma(chunk, chunk, acc)
    quads = (acc[..., :4] + acc[..., 4:]).astype(F32)
    pairs = (quads[..., :2] + quads[..., 2:]).astype(F32)
    total = (pairs[..., 0] + pairs[..., 1]).astype(F32)
    vectorized_tail = 4 if n - full >= 4 else 0
    for j, k in enumerate(range(full, n)):
        dk = d[..., k]
        total = (total + (dk * dk).astype(F32)).astype(F32) if j < vectorized_tail else fma(dk, dk, total)
    return total[..., None]


def layernorm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray | None, axis: int, epsilon: float) -> np.ndarray:
    x = np.asarray(x, dtype=F32)
    axis = axis % x.ndim
    n = int(np.prod(x.shape[axis:], dtype=np.int64))
    if n < MIN_ROW:
        raise VitcError(f"layernorm over {n} elements: onnxruntime's scalar path for rows shorter than "
                        f"{MIN_ROW} is not reproduced")
    rows = x.reshape(x.shape[:axis] + (n,))
    mean = _mean(rows)
    d = (rows - mean).astype(F32)
    var = _centred_sum_of_squares(d)
    std = np.sqrt(((var / F32(n)).astype(F32) + F32(epsilon)).astype(F32))
    inv = (F32(1.0) / std).astype(F32)
    t = (d * inv).astype(F32)
    g = np.asarray(gamma, dtype=F32).reshape(-1)
    y = fma(t, g, np.asarray(beta, dtype=F32).reshape(-1)) if beta is not None else (t * g).astype(F32)
    return y.reshape(x.shape)
