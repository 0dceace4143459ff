"""Float32 MatMul as onnxruntime 1.32 runs it (MLAS SGEMM, AVX-512F kernel on this CPU).

Established by tests against onnxruntime 1.32 (tests/compiler/reference/test_sgemm.py: M = 1..197,
K = 64..768 and 300, 2-D and batched, 0 mismatches): every output element is a sequential chain
of fused multiply-adds over k, restarted from 0 every 256 values of k (MLAS's K stride); the
blocks' partial sums are added to the output in float32 in order. float64 arithmetic or one
unbroken chain over K > 256 differ.
"""

from __future__ import annotations

import numpy as np

from compiler.reference.kernels.fp32 import fma

F32 = np.float32
K_STRIDE = 256


def sgemm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`a @ b` with numpy matmul broadcasting (rank >= 2 on both sides)."""
    a = np.asarray(a, dtype=F32)
    b = np.asarray(b, dtype=F32)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = np.broadcast_to(a, batch + a.shape[-2:])
    b = np.broadcast_to(b, batch + b.shape[-2:])
    k_total = a.shape[-1]
    out = None
    for k0 in range(0, k_total, K_STRIDE):
        block = np.zeros(batch + (a.shape[-2], b.shape[-1]), F32)
        for k in range(k0, min(k_total, k0 + K_STRIDE)):  # one numpy fma over the whole output per k
            block = fma(a[..., :, k:k + 1], b[..., k:k + 1, :], block)
        out = block if out is None else (out + block).astype(F32)
    return out
