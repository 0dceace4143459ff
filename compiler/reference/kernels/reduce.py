"""ReduceMean (float32) over the last axis, as onnxruntime 1.32 computes it on this CPU.

Established by tests against onnxruntime 1.32 (tests/compiler/reference/test_float_ops.py): for
rows whose length is a multiple of 8, the sum is 8-lane vectorized (lane j takes elements j, j+8,
...), the lanes are reduced by halving (`l0+l4`, ... then pairs, then the last two), and the
mean is `f32(sum / N)` (a division; multiplying by `1/N` differs). Rows of other lengths depend
on the rows' memory alignment (Eigen's unaligned head); they are refused.
"""

from __future__ import annotations

import numpy as np

from isa.errors import VitcError

F32 = np.float32
LANES = 8


def reduce_mean_last_axis(x: np.ndarray) -> np.ndarray:
    """Mean over the last axis, keepdims."""
    x = np.asarray(x, dtype=F32)
    n = x.shape[-1]
    if n == 0 or n % LANES:
        raise VitcError(f"reduce_mean over {n} elements: only multiples of {LANES} are reproduced exactly")
    chunks = x.reshape(x.shape[:-1] + (n // LANES, LANES))
    lanes = np.add.accumulate(chunks, axis=-2, dtype=F32)[..., -1, :]
    while lanes.shape[-1] > 1:
        half = lanes.shape[-1] // 2
        lanes = (lanes[..., :half] + lanes[..., half:]).astype(F32)
    return (lanes / F32(n)).astype(F32)
