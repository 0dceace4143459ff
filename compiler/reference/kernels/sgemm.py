"""Float32 MatMul as onnxruntime 1.32 runs it (MLAS SGEMM, AVX-512F kernel on this CPU).

Established by tests against onnxruntime 1.32 (tests/compiler/reference/test_float_ops.py: M up
to 197, K 64..3072, N 8..3072, 2-D and batched, constant and computed B, 0 mismatches): every
output element is a sequential chain of fused multiply-adds over k, restarted from 0 at every
K-block boundary; the blocks' partial sums are added to the output in float32, in order. The
block length ("StrideK") is where the platform shows through:
- a constant B (an initializer) is prepacked with a fixed K stride of 256;
- a computed B (e.g. a DequantizeLinear output) is packed per call: MLAS first splits the work
  between threads (`threads` = onnxruntime's intra-op thread count; `ceil(M*N*K / 65536)`
  threads at most; along N in 16-column units when N > M, else along M), then each thread's
  K stride starts at 128 and doubles while its N stride (from 128) can halve and stay >= its
  column count (N < K), or halves while K fits in half of it (N >= K).
So the result for a computed B depends on the thread count: the reference reproduces it for a
given count (default: this machine's CPU count, onnxruntime's default on a machine without
SMT). A single-row A with a computed B takes MLAS's M=1 kernel, which is not reproduced.
"""

from __future__ import annotations

import os

import numpy as np

from compiler.reference.kernels.fp32 import fma
from isa.errors import VitcError

F32 = np.float32
PACKED_K_STRIDE = 256
STRIDE_N, STRIDE_K = 128, 128
THREAD_COMPLEXITY = 64 * 1024
THREAD_ALIGN_N = 16


def default_threads() -> int:
    """onnxruntime's default intra-op thread count on this machine (one per core)."""
    return os.cpu_count() or 1


def _k_stride(n: int, k: int) -> int:
    """MlasSgemmOperation's K stride for an unpacked B slice of n columns."""
    stride_n, stride_k = STRIDE_N, STRIDE_K
    if n >= k:
        while stride_k // 2 >= k:
            stride_n, stride_k = stride_n * 2, stride_k // 2
    else:
        while stride_n > 16 and stride_n // 2 >= n:
            stride_n, stride_k = stride_n // 2, stride_k * 2
    return stride_k


def _partition(index: int, count: int, total: int) -> tuple[int, int]:
    """MlasPartitionWork: the start and length of part `index` of `total` split in `count`."""
    per, extra = divmod(total, count)
    return index * per + min(index, extra), per + (1 if index < extra else 0)


def _column_slices(m: int, n: int, k: int, threads: int) -> list[tuple[int, int]]:
    """(start, count) of the column ranges MLAS hands to one MlasSgemmOperation call each."""
    target = min(int(m * n * k / THREAD_COMPLEXITY) + 1, threads)
    if n <= m:
        return [(0, n)]  # split along M: every thread sees all columns
    blocks = -(-n // THREAD_ALIGN_N)
    tasks = min(target, blocks)
    slices = []
    for t in range(tasks):
        start, count = _partition(t, tasks, blocks)
        start, count = start * THREAD_ALIGN_N, min(n - start * THREAD_ALIGN_N, count * THREAD_ALIGN_N)
        if count > 0:
            slices.append((start, count))
    return slices


def _blocked_fma_chain(a: np.ndarray, b: np.ndarray, k_stride: int) -> np.ndarray:
    k_total = a.shape[-1]
    out = None
    for k0 in range(0, k_total, k_stride):
        block = np.zeros(a.shape[:-1] + (b.shape[-1],), F32)
        for k in range(k0, min(k_total, k0 + k_stride)):  # one numpy fma over the whole slice per k
            block = fma(a[..., :, k:k + 1], b[..., k:k + 1, :], block)
        out = block if out is None else (out + block).astype(F32)
    return out


def sgemm(a: np.ndarray, b: np.ndarray, b_is_constant: bool, threads: int | None = None) -> np.ndarray:
    """`a @ b` (numpy matmul broadcasting, rank >= 2) as MLAS computes it."""
    a = np.asarray(a, dtype=F32)
    b = np.asarray(b, dtype=F32)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    out_rows = (a.shape[-2],)
    batched_b = b.ndim > 2
    if not batched_b:  # onnxruntime folds A's leading axes into M
        a = a.reshape((-1, a.shape[-1]))
    else:
        a = np.broadcast_to(a, batch + a.shape[-2:])
        b = np.broadcast_to(b, batch + b.shape[-2:])
    n, k = b.shape[-1], a.shape[-1]
    if b_is_constant:
        return _blocked_fma_chain(a, b, PACKED_K_STRIDE).reshape(batch + out_rows + (n,))
    if batched_b and k > STRIDE_K:
        raise VitcError(f"batched float matmul by a computed matrix with K={k} > {STRIDE_K}: MLAS's per-batch "
                        f"thread split is not reproduced")
    m = a.shape[-2]
    if m == 1:
        raise VitcError("float matmul of a single row by a computed matrix: MLAS's M=1 kernel is not reproduced")
    out = np.empty(a.shape[:-1] + (n,), F32)
    for start, count in _column_slices(m, n, k, threads or default_threads()):
        out[..., start:start + count] = _blocked_fma_chain(a, b[..., start:start + count], _k_stride(count, k))
    return out.reshape(batch + out_rows + (n,))
