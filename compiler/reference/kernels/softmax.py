"""Float32 Softmax exactly as onnxruntime 1.32 computes it on x86-64 with AVX-512F (MLAS).

onnxruntime's CPU Softmax (opset 13+, any axis; opset < 13 only over the last axis) moves `axis`
last and calls `MlasComputeSoftmax` on rows of length D. Rows are split between threads, never a
row itself, so the thread count does not change the result. Per row (MLAS compute.cpp,
x86_64/SoftmaxKernelAvx.S, x86_64/TransKernelAvx512F.S):

1. `max`: the row maximum (exact; `vmaxps`).
2. `MlasComputeSumExpF32KernelAvx512F`, per element, all float32, fma with one rounding:
   `t = max(-103.972084, x + (-max))`; `b = fma(t, log2(e), 1.5 * 2^23)`; `m = b - 1.5 * 2^23`
   (round to nearest integer); `r = fma(m, -ln2_hi, t)`; `r = fma(m, -ln2_lo, r)`;
   `p = poly_0`, then `p = fma(p, r, c)` for `c` in poly_1 .. poly_4, poly_56, poly_56;
   `e = vscalefps(p, m) = RNE(p * 2^m)` (one rounding, also into subnormals).
   The sum: 16 lanes, lane l adds columns l, l+16, l+32, ... in order from +0.0 (the 48-wide
   loop adds its three vectors to the one accumulator in column order, the masked tail only
   touches its live lanes); then `a_i = l_{i+8} + l_i` (i < 8) and
   `((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))` (`vhaddps` twice).
3. `scale = f32(1 / sum)` (a C division), then `y = f32(e * scale)` (`vmulps`, AVX kernel).

Invariants: float32 in, float32 out, same shape; no element loops (numpy over whole rows);
the recipe is established by tests against onnxruntime (tests/compiler/reference/test_softmax.py).
Non-finite inputs are refused: MLAS's NaN/inf propagation (operand order of `vmaxps`) is not
reproduced, and quantized models (DQ -> Softmax) never produce them.
"""

from __future__ import annotations

import numpy as np

from compiler.reference.kernels.fp32 import fma, sequential_sum
from isa.errors import VitcError

F32 = np.float32

# MlasExpConstants (compute.cpp); the AVX-512F kernel clamps at LowerRange, not LowerRangeSumExp.
LOWER_RANGE = F32(-103.9720840454)
ROUNDING_BIAS = F32(12582912.0)  # MLAS_ROUNDING_BIAS_MAGIC = 1.5 * 2^23
LOG2_RECIPROCAL = F32(1.44269504088896341)
LOG2_HIGH = F32(-6.93145752e-1)
LOG2_LOW = F32(-1.42860677e-6)
POLYNOMIAL = tuple(F32(float.fromhex(c)) for c in
                   ("0x1.694000p-10", "0x1.125edcp-7", "0x1.555b5ap-5", "0x1.555450p-3", "0x1.fffff6p-2",
                    "0x1.000000p+0", "0x1.000000p+0"))  # poly_0 .. poly_4, poly_56 twice

SUM_LANES = 16  # one zmm register of float32


def exp_shifted(t: np.ndarray) -> np.ndarray:
    """MLAS's AVX-512F exp of `t = x - max` (float32, <= 0): range reduction, polynomial, vscalefps."""
    t = np.maximum(LOWER_RANGE, t)
    m = (fma(t, LOG2_RECIPROCAL, ROUNDING_BIAS) - ROUNDING_BIAS).astype(F32)
    r = fma(m, LOG2_HIGH, t)
    r = fma(m, LOG2_LOW, r)
    p = np.full_like(r, POLYNOMIAL[0])
    for coefficient in POLYNOMIAL[1:]:
        p = fma(p, r, coefficient)
    # vscalefps: p * 2^m rounded once; the float64 product is exact (m >= -150), the cast rounds.
    return (p.astype(np.float64) * np.exp2(m.astype(np.float64))).astype(F32)


def lane_sum(e: np.ndarray) -> np.ndarray:
    """The row sums of `e` (rows, D) in MLAS's 16-lane order and horizontal reduction."""
    rows, d = e.shape
    padded = np.zeros((rows, -(-d // SUM_LANES) * SUM_LANES), dtype=F32)
    padded[:, :d] = e  # +0.0 padding leaves a lane's non-negative sum unchanged
    lanes = sequential_sum(padded.reshape(rows, -1, SUM_LANES).transpose(0, 2, 1))  # (rows, 16)
    a = (lanes[:, 8:] + lanes[:, :8]).astype(F32)
    pairs = (a[:, 0::2] + a[:, 1::2]).astype(F32)  # a0+a1, a2+a3, a4+a5, a6+a7
    return ((pairs[:, 0] + pairs[:, 1]).astype(F32) + (pairs[:, 2] + pairs[:, 3]).astype(F32)).astype(F32)


def softmax_rows(x: np.ndarray) -> np.ndarray:
    """MlasComputeSoftmax over the last axis of a float32 array (rows, D)."""
    negative_max = -x.max(axis=-1, keepdims=True)
    with np.errstate(over="ignore"):  # x - max may overflow to -inf; the clamp then takes it
        e = exp_shifted((x + negative_max).astype(F32))
    scale = (F32(1) / lane_sum(e)).astype(F32)  # the maximum's own term makes the sum >= 1
    return (e * scale[:, None]).astype(F32)


def softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """onnxruntime's float Softmax along `axis` (non-negative), opset 13 semantics."""
    x = np.asarray(x, dtype=F32)
    if not 0 <= axis < x.ndim:
        raise VitcError(f"softmax axis {axis} is out of range for rank {x.ndim}")
    if x.size == 0:
        return x.copy()
    if not np.isfinite(x).all():
        raise VitcError("softmax input has NaN or infinity; MLAS's propagation of them is not reproduced")
    moved = np.moveaxis(x, axis, -1)
    rows = softmax_rows(np.ascontiguousarray(moved).reshape(-1, moved.shape[-1]))
    return np.ascontiguousarray(np.moveaxis(rows.reshape(moved.shape), -1, axis))
