"""QuantizeLinear, DequantizeLinear and the requantization step they share with the integer kernels.

Established by tests against onnxruntime 1.32 (tests/compiler/reference/test_quantize.py):
- QuantizeLinear divides: `v = f32(x / s)` (a true float32 division; `x * f32(1/s)` differs on
  about 1% of random elements, and float64 arithmetic on about 6%). Then `v` is clamped as a
  float to `[qmin - zp, qmax - zp]`, rounded to nearest even, and `zp` is added. This holds for
  the MLAS AVX-512 QuantizeLinear kernel this CPU runs, for uint8 and int8, per tensor and per axis.
- DequantizeLinear: `f32(float(q - zp) * s)`.
- `requantize` (clamp, RNE, + zp) is the tail every 8-bit-output kernel shares (QuantizeLinear,
  QLinearMatMul / QGemm / QLinearConv's MlasRequantizeOutput).
"""

from __future__ import annotations

import numpy as np

F32 = np.float32


def per_axis(param, axis: int | None, ndim: int) -> np.ndarray:
    """A scale or zero point (one value, or one per index of `axis`) shaped to broadcast over
    an array of rank `ndim`."""
    param = np.asarray(param)
    if axis is None or param.size == 1:
        return param.reshape(())
    shape = [1] * ndim
    shape[axis] = param.size
    return param.reshape(shape)


def requantize(v: np.ndarray, zero_point, dtype) -> np.ndarray:
    """float32 `v` -> 8-bit codes: clamp to `[qmin - zp, qmax - zp]` as float32, RNE, `+ zp`."""
    info = np.iinfo(dtype)
    zp = np.asarray(zero_point, dtype=np.int32)
    low = (info.min - zp).astype(F32)
    high = (info.max - zp).astype(F32)
    clamped = np.minimum(np.maximum(np.asarray(v, dtype=F32), low), high)
    return (np.rint(clamped).astype(np.int32) + zp).astype(dtype)


def quantize_linear(x: np.ndarray, scale, zero_point, dtype, axis: int | None = None) -> np.ndarray:
    """onnxruntime's QuantizeLinear: `sat(RNE(clamp(f32(x / scale))) + zp)`."""
    x = np.asarray(x, dtype=F32)
    s = per_axis(np.asarray(scale, dtype=F32), axis, x.ndim)
    zp = per_axis(np.asarray(zero_point, dtype=np.int32), axis, x.ndim)
    return requantize(x / s, zp, dtype)


def dequantize_linear(q: np.ndarray, scale, zero_point, axis: int | None = None) -> np.ndarray:
    """onnxruntime's DequantizeLinear: `f32(float(q - zp) * scale)`."""
    q = np.asarray(q)
    s = per_axis(np.asarray(scale, dtype=F32), axis, q.ndim)
    zp = per_axis(np.asarray(zero_point, dtype=np.int64), axis, q.ndim)
    return ((q.astype(np.int64) - zp).astype(F32) * s).astype(F32)
