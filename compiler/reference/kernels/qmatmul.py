"""QLinearMatMul / QGemm / QLinearConv-as-matmul and MatMulInteger, whole and in their three steps
(`int_matmul`, `bias_add`, `requantize_accumulator`; `qmatmul` is exactly their composition).

Established by tests against onnxruntime 1.32 (tests/compiler/reference/test_qmatmul.py), on a
CPU with AVX512-VNNI (so MLAS's u8s8 GEMM cannot saturate int16 pair sums, see `cpu_features`):
- the accumulator is the exact integer `sum (a - za)(b - zb)` (+ int32 bias), wrapping in int32;
- requantization (MlasRequantizeOutput): `y = sat(RNE(clamp(f32(f32(acc) * M), qmin - zy,
  qmax - zy)) + zy)`, where `f32(acc)` is the int32 -> float32 conversion, which rounds once
  |acc| > 2^24 (a test with |acc| > 2^25 shows float64 arithmetic would differ);
- M is per tensor or per output channel (the last axis of b); the frontend computes it
  (`f32(f32(sa * sb) / sy)`, QGemm `f32(f32(f32(alpha * sa) * sb) / sy)`), the tests re-derive it.
The integer product is computed as a float64 BLAS matmul, which is exact while every partial
sum stays below 2^53 (checked); numpy has no fast integer matmul.
"""

from __future__ import annotations

import numpy as np

from compiler.reference.kernels.quantize import requantize
from isa.errors import VitcError

F32 = np.float32
EXACT_FLOAT64_LIMIT = 2.0 ** 53


def int_matmul(a: np.ndarray, a_zero_point, b: np.ndarray, b_zero_point) -> np.ndarray:
    """Exact `(a - za) @ (b - zb)` as int32 (wrapping), numpy matmul broadcasting.

    `b_zero_point` is one value or one per column of b (its last axis)."""
    a_centered = a.astype(np.float64) - np.float64(np.asarray(a_zero_point).reshape(()))
    b_centered = b.astype(np.float64) - np.asarray(b_zero_point, dtype=np.float64)
    bound = np.abs(a_centered).max(initial=0) * np.abs(b_centered).max(initial=0) * a.shape[-1]
    if bound >= EXACT_FLOAT64_LIMIT:
        raise VitcError(f"matmul with K={a.shape[-1]}: |sum| may reach {bound:.3g}, beyond exact float64")
    exact = np.matmul(a_centered, b_centered).astype(np.int64)
    return exact.astype(np.int32)


def bias_add(acc: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """The kernel's int32 `acc + bias` (bias per last-axis channel), wrapping like int32 addition."""
    return acc.astype(np.int32) + np.asarray(bias, dtype=np.int32)


def requantize_accumulator(acc: np.ndarray, multiplier, zero_point, dtype) -> np.ndarray:
    """MlasRequantizeOutput: `sat(RNE(clamp(f32(f32(acc) * M))) + zy)`, M per tensor or per
    last-axis channel."""
    m = np.asarray(multiplier, dtype=F32)
    scaled = (acc.astype(np.int32).astype(F32) * m).astype(F32)
    return requantize(scaled, zero_point, dtype)


def qmatmul(a, a_zero_point, b, b_zero_point, bias, multiplier, y_zero_point, dtype) -> np.ndarray:
    """QLinearMatMul / QGemm / QLinearConv as a matmul: exact accumulator (+ bias), requantized."""
    acc = int_matmul(a, a_zero_point, b, b_zero_point)
    if bias is not None:
        acc = bias_add(acc, bias)
    return requantize_accumulator(acc, multiplier, y_zero_point, dtype)
