"""`quant wide=1`: the float64 quotient `(x * mul) / s`, rounded once, + zp, saturated.

Checked three ways: against a Fraction-exact oracle written from the table's text (the float64
quotient of the exact product, then RNE of that float64 value), on rows built so that the
float32 quotient rounds onto the other side of a half integer (the wide mode must not); against
onnxruntime's QLinearSoftmax, feeding the instruction the kernel's own t and S (the table entries
and the sequential float32 row sums); and NaN / infinity / clamping at both ends.
"""

from fractions import Fraction

import numpy as np
import pytest

from compiler.reference.kernels.fp32 import sequential_sum
from compiler.reference.kernels.qsoftmax import exp_table, output_multiplier
from tests.compiler.codegen.vector.onnxruntime_reference import qlinear_softmax
from tests.runtime_emulator.harness import ProgramBuilder, assert_equal, load, store

F32 = np.float32


def run_wide_quant(x: np.ndarray, mul, scale: np.ndarray, u: int, zp: int) -> np.ndarray:
    """One `quant wide=1, pr=1` over `x` (rows x cols float32) with per-row scales `scale`."""
    rows, cols = x.shape
    s_addr = rows * -(-cols // 16)  # the ACC row after x's column blocks
    b = ProgramBuilder()
    src = b.input("x", x)
    scales = b.input("s", np.ascontiguousarray(scale, F32).reshape(rows, 1).view(np.int32))
    out = b.output("q", "uint8" if u else "int8", (rows, cols))
    fields = dict(src=0, dst=0, rows=rows, cols=cols, src_bs=rows, dst_bs=rows, u=u, zp=zp,
                  pr=1, s_addr=s_addr, wide=1, mul=float(mul))
    b.sequence([load(src, rows, cols, 0, mem=1, bs=rows), load(scales, rows, 1, s_addr, mem=1, bs=rows)],
               [("quant", fields)], [store(out, rows, cols, 0)])
    return b.run().outputs["q"]


def exact_oracle(x: np.ndarray, mul, scale: np.ndarray, u: int, zp: int) -> np.ndarray:
    """From the table: v = float64(x * mul / s) (the product exact), clamp, RNE, + zp."""
    lo, hi = (0, 255) if u else (-128, 127)
    out = np.empty(x.shape, np.int64)
    for (r, c), value in np.ndenumerate(x):
        exact = Fraction(float(value)) * Fraction(float(mul)) / Fraction(float(scale[r]))
        v = float(exact)  # Python's Fraction -> float rounds to nearest even: the float64 division
        v = min(max(v, lo - zp), hi - zp)
        out[r, c] = round(Fraction(v)) + zp  # round() of a Fraction is half to even
    return out.astype(np.uint8 if u else np.int8)


def near_half_rows(rng, rows: int, cols: int, mul: F32):
    """x, s with x * mul / s just off a half integer, where the float32 quotient lands on the far side."""
    s = (rng.random(rows) * 50 + 1).astype(F32)
    targets = rng.integers(0, 120, (rows, cols)) + 0.5
    x = (targets * s[:, None].astype(np.float64) / np.float64(mul)).astype(F32)
    return x, s


@pytest.mark.parametrize("u,zp", [(1, 0), (0, -128), (0, 3)])
def test_against_an_exact_oracle(u, zp):
    rng = np.random.default_rng(abs(70 + u + zp))
    mul = F32(254.0)
    x, s = near_half_rows(rng, 12, 37, mul)
    x[0, :5] = [np.float32(0.5) * s[0] / mul, 0.0, 1e-30, 3.0, 7.5]
    got = run_wide_quant(x, mul, s, u, zp)
    assert_equal("quant wide", got, exact_oracle(x, mul, s, u, zp))
    float32_quotient = np.rint(np.minimum(np.divide(np.multiply(x, mul, dtype=F32), s[:, None], dtype=F32), 255 - zp))
    assert (float32_quotient + zp != got.astype(np.int64)).any(), "the rows should separate the float32 quotient"


def test_clamps_nan_and_infinities():
    x = np.array([[1e30, -1e30, np.inf, -np.inf, np.nan, 300.0, -300.0, 2.5]], F32)
    s = np.array([1.0], F32)
    assert_equal("quant wide u8", run_wide_quant(x, F32(1.0), s, 1, 10),
                 np.array([[255, 0, 255, 0, 0, 255, 0, 12]], np.uint8))
    assert_equal("quant wide i8", run_wide_quant(x, F32(2.0), s, 0, -1),
                 np.array([[127, -128, 127, -128, -128, 127, -128, 4]], np.int8))


@pytest.mark.parametrize("dtype,length,x_scale,y_scale", [(np.uint8, 197, 0.05, 1 / 255), (np.int8, 17, 0.2, 1 / 256),
                                                          (np.uint8, 3, 0.013, 1 / 300)])
def test_is_the_output_step_of_onnxruntime_qlinear_softmax(dtype, length, x_scale, y_scale):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(length)
    x = rng.integers(info.min, info.max + 1, (40, length)).astype(dtype)
    x[0] = info.max
    codes = x.astype(np.int32)
    t = exp_table(x_scale, length)[255 - codes.max(axis=1, keepdims=True) + codes]
    s = sequential_sum(t)
    zy = int(info.min)
    got = run_wide_quant(t, output_multiplier(y_scale), s, int(dtype == np.uint8), zy)
    assert_equal("quant wide vs QLinearSoftmax", got, qlinear_softmax(x, (x_scale, 0), (y_scale, zy)))
