"""QLinearSoftmax (com.microsoft), as onnxruntime 1.32 computes it on the CPU.

Established by tests against onnxruntime 1.32 (tests/compiler/reference/test_qsoftmax.py; the
search covered 4.8 million rows, row lengths 3..197, uint8 and int8, several y scales and
zero points, with 0 mismatches for the formula below and mismatches for every variant):
- table: `T[i] = (float) exp((i - 255 + bs) * sx)` in double (libm `exp`), with
  `bs = max(0, logf(FLT_MAX / D) - 5) / sx`: the quotient `FLT_MAX / D` is a float32 division
  and its logarithm is the float32 `logf` (a double `log` there is wrong on some rows);
- each row's maximum maps to entry 255: element x reads `T[255 - max + x]` (int8 as well);
- the row sum is a sequential float32 sum from 0 (a lane-parallel sum is wrong on some rows);
- `Ys = floor(1.0f / y_scale)` (float32; 254 for a scale of 1/255);
- `y = min(qmax, RNE(t * Ys / sum) + zy)` where the quotient is computed in double precision
  (t, Ys and the sum are float32 values): rounding `t*Ys/sum` to float32 first (NUMERICS.md) is
  wrong where the quotient lies within a float32 step of a half integer, and so is
  `t * f32(f32(1/sum) * Ys)` (MLAS's vectorized qsoftmax kernels, which 1.32 does not run here);
- int8 outputs saturate at 127 (the C source read wraps 128 to -128; the shipped build does not).
"""

from __future__ import annotations

import math

import numpy as np

from compiler.reference.kernels.fp32 import sequential_sum

F32 = np.float32
FLT_MAX = F32(np.finfo(np.float32).max)


def exp_table(x_scale: float, row_length: int) -> np.ndarray:
    """The kernel's 256 float32 entries, entry 255 for the row maximum."""
    log_ratio = float(F32(math.log(float(FLT_MAX / F32(row_length)))))  # logf: log rounded to float32
    shift = max(0.0, log_ratio - 5.0) / float(F32(x_scale))
    scale = float(F32(x_scale))
    return np.array([math.exp((i - 255 + shift) * scale) for i in range(256)]).astype(F32)


def output_multiplier(y_scale: float) -> F32:
    """`Ys = floor(1.0f / y_scale)` in float32."""
    return F32(np.floor(F32(1.0) / F32(y_scale)))


def qsoftmax(x: np.ndarray, axis: int, x_scale: float, y_scale: float, y_zero_point: int, dtype) -> np.ndarray:
    rows = np.moveaxis(np.asarray(x), axis, -1)
    codes = rows.astype(np.int32)
    table = exp_table(x_scale, rows.shape[-1])
    entries = table[255 - codes.max(axis=-1, keepdims=True) + codes]
    row_sum = sequential_sum(entries)[..., None]
    quotient = entries.astype(np.float64) * np.float64(output_multiplier(y_scale)) / row_sum.astype(np.float64)
    y = np.minimum(np.rint(quotient) + y_zero_point, np.iinfo(dtype).max).astype(dtype)
    return np.moveaxis(y, -1, axis)
