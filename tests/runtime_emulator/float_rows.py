"""Float32 rows for the reduction and LayerNorm tests: random rows of varied scale and offset,
plus adversarial rows that separate summation orders and roundings."""

import numpy as np

F32 = np.float32


def adversarial_rows(rng, cols):
    """Rows that separate summation orders and roundings: a large common offset (LayerNorm's
    cancellation), mixed magnitudes, exact cancellation of large pairs, tiny and subnormal
    values, a constant row, near-overflow values."""
    rows = [
        F32(1e4) + rng.standard_normal(cols).astype(F32) * F32(1e-2),
        rng.standard_normal(cols) * 10.0 ** rng.integers(-4, 6, cols),
        np.repeat(rng.standard_normal(cols // 2 + 1) * 1e7, 2)[:cols] * np.resize([1, -1], cols) + rng.standard_normal(cols),
        rng.standard_normal(cols) * 1e-39,
        np.full(cols, 0.1),
        rng.uniform(-3e37, 3e37, cols),
        rng.standard_normal(cols) * 3 + 7,
    ]
    return np.array(rows).astype(F32)


def rows_for(n, rows, seed):
    """`rows` random rows of length n (each its own scale and offset), then the adversarial ones."""
    rng = np.random.default_rng(seed)
    random = (rng.standard_normal((rows, n)) * rng.uniform(0.1, 50, (rows, 1)) + rng.uniform(-20, 20, (rows, 1)))
    return np.concatenate([random.astype(F32), adversarial_rows(rng, n)])
