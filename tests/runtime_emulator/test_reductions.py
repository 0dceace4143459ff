"""rowsum (sequential float32, checked against a Python loop) and rowmax (int32 and float32)."""

import numpy as np
import pytest

from isa.errors import VitcError
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


def run_float_rowmax(x):
    rows, cols = x.shape
    b = ProgramBuilder()
    src = b.input("x", x)
    out = b.output("m", "float32", (rows, 1))
    b.sequence([load(src, rows, cols, 0, mem=1, bs=rows)],
               [("rowmax", dict(mem=1, ty="f32", src=0, dst=40, rows=rows, cols=cols, src_bs=rows))],
               [store(out, rows, 1, 40, mem=1)])
    return b.run().outputs["m"]


def test_rowmax_float32():
    """ty=f32 compares float32 values (not their int32 bit patterns, which order negatives backwards)."""
    rng = np.random.default_rng(90)
    x = (rng.standard_normal((6, 37)) * 10.0 ** rng.integers(-40, 38, (6, 37))).astype(F32)
    x[0] = -np.abs(x[0])                      # all negative: the bit-pattern maximum is the smallest value
    x[1, :] = F32(-3.4e38)
    x[2, 5] = F32(1e-45)                      # a subnormal above a row of negatives
    x[2, x[2] > 0] = -1
    x[2, 5] = F32(1e-45)
    x[3, 7] = np.nan                          # NaN propagates
    expected = np.array([[max(row.tolist())] for row in x], F32)
    expected[3] = np.nan
    got = run_float_rowmax(x)
    bit_pattern_max = x.view(np.int32).max(axis=1).view(F32)[:, None]
    assert not np.array_equal(bit_pattern_max, expected, equal_nan=True), "data too easy"
    assert_equal("rowmax ty=f32", got, expected)


def test_rowmax_float32_needs_acc():
    b = ProgramBuilder()
    src = b.input("x", np.zeros((2, 4), np.int8))
    out = b.output("m", "float32", (2, 1))
    b.sequence([load(src, 2, 4, 0, mem=0, bs=2)],
               [("rowmax", dict(mem=0, ty="f32", src=0, dst=40, rows=2, cols=4, src_bs=2))],
               [store(out, 2, 1, 40, mem=1)])
    with pytest.raises(VitcError, match=r"rowmax.*ty=f32 needs mem=acc"):
        b.run()
