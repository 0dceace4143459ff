"""rowsum (sequential float32, checked against a Python loop) and rowmax."""

import numpy as np
import pytest

from tests.runtime_emulator.harness import ProgramBuilder, assert_equal, load, store

F32 = np.float32


def sequential_sum(x, square):
    """s = +0.0; s = f32(s + v) for each v of the row, left to right (a Python loop on purpose)."""
    sums = []
    for row in x:
        s = F32(0.0)
        for v in row:
            s = F32(s + (F32(v * v) if square else v))
        sums.append(s)
    return np.array(sums, F32)


@pytest.mark.parametrize("square", [0, 1])
def test_rowsum_is_sequential(square):
    rng = np.random.default_rng(70 + square)
    rows, cols = 6, 50
    # Mixed magnitudes make pairwise and sequential summation differ.
    x = (rng.standard_normal((rows, cols)) * 10.0 ** rng.integers(-3, 6, (rows, cols))).astype(F32)
    x[5] = -0.0  # an all negative-zero row sums to +0.0
    b = ProgramBuilder()
    src = b.input("x", x)
    out = b.output("s", "float32", (rows, 1))
    b.sequence([load(src, rows, cols, 0, mem=1, bs=8)],
               [("rowsum", dict(src=0, dst=40, rows=rows, cols=cols, src_bs=8, sq=square))],
               [store(out, rows, 1, 40, mem=1)])
    expected = sequential_sum(x, square)[:, None]
    pairwise = np.sum(np.multiply(x, x, dtype=F32) if square else x, axis=1, dtype=F32)[:, None]
    assert not np.array_equal(expected, pairwise), "data too easy: pairwise summation gives the same sums"
    assert_equal("rowsum", b.run().outputs["s"], expected)


@pytest.mark.parametrize("mem,u", [(0, 0), (0, 1), (1, 0)])
def test_rowmax(mem, u):
    rng = np.random.default_rng(80 + mem + u)
    rows, cols = 7, 30
    dtype = np.int32 if mem else (np.uint8 if u else np.int8)
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max, (rows, cols), endpoint=True).astype(dtype)
    b = ProgramBuilder()
    src = b.input("x", x)
    out = b.output("m", "int32", (rows, 1))
    b.sequence([load(src, rows, cols, 0, mem=mem, bs=rows)],
               [("rowmax", dict(mem=mem, u=u, src=0, dst=20, rows=rows, cols=cols, src_bs=rows))],
               [store(out, rows, 1, 20, mem=1)])
    assert_equal("rowmax", b.run().outputs["m"], x.max(axis=1).astype(np.int32)[:, None])
