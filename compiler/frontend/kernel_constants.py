"""The float32 constants onnxruntime's quantized kernels derive from their scales and zero points.

Each function computes one constant exactly as the kernel does (every step one float32
operation, in the kernel's order), so the IR carries the very numbers onnxruntime uses and
nobody downstream recomputes them differently. Inputs are float32 scalars or arrays and ints.
- QLinearMatMul / QLinearConv (onnxruntime computes `a_scale * b_scale / y_scale` left to right):
  M = f32(f32(sa * sb) / sy), one per output channel when the weight is per channel.
- QGemm: M = f32(f32(f32(alpha * sa) * sb) / sy).
- QLinearAdd (MLAS qladd.cpp, the x86 kernel): rA = f32(sa / sc), rB = f32(sb / sc),
  fixed = f32(zc - fma(rA, za, f32(rB * zb))): the kernel is compiled with FMA contraction, so
  `rA * za` is not rounded on its own (rounding it separately differs on about one element in
  2000; tests/compiler/codegen/vector/test_qbinary.py discriminates the two over every code pair).
- QLinearMul: multiplier = f32(f32(sa * sb) / sc).
"""

from __future__ import annotations

import numpy as np

from compiler.reference.kernels.fp32 import fma

F32 = np.float32


def _f32(x) -> np.ndarray:
    return np.asarray(x, dtype=F32)


def qmatmul_multiplier(a_scale, b_scale, y_scale) -> tuple[float, ...]:
    """QLinearMatMul / QLinearConv output multiplier(s)."""
    product = _f32(a_scale) * _f32(b_scale)
    return tuple(float(m) for m in np.atleast_1d(product / _f32(y_scale)))


def qgemm_multiplier(alpha: float, a_scale, b_scale, y_scale) -> tuple[float, ...]:
    """QGemm output multiplier(s): alpha folded into the activation scale first."""
    scaled_a = _f32(alpha) * _f32(a_scale)
    return tuple(float(m) for m in np.atleast_1d(scaled_a * _f32(b_scale) / _f32(y_scale)))


def qadd_constants(a_scale, a_zero: int, b_scale, b_zero: int, c_scale, c_zero: int) -> dict[str, float]:
    """QLinearAdd kernel constants `ra`, `rb`, `fixed`."""
    ra = _f32(a_scale) / _f32(c_scale)
    rb = _f32(b_scale) / _f32(c_scale)
    fixed = _f32(c_zero) - fma(ra, _f32(a_zero), rb * _f32(b_zero))
    return {"ra": float(ra), "rb": float(rb), "fixed": float(fixed)}


def qmul_multiplier(a_scale, b_scale, c_scale) -> float:
    """QLinearMul kernel multiplier."""
    return float(_f32(a_scale) * _f32(b_scale) / _f32(c_scale))
