"""valu and vunary against numpy written from the ISA reference."""

import math
from fractions import Fraction

import numpy as np
import pytest

from isa.errors import VitcError
from tests.runtime_emulator.exact_float import round_to_f32
from tests.runtime_emulator.harness import ProgramBuilder, assert_equal, load, store

F32 = np.float32
OPS = ["add", "sub", "mul", "div", "max", "min"]
ROWS, COLS = 5, 23


def run_valu(a, b_data, b_rows, b_cols, **fields):
    """Load a (ROWS x COLS) and b (b_rows x b_cols) into ACC, run one valu, store dst."""
    b = ProgramBuilder()
    a_dram = b.input("a", a)
    b_dram = b.input("b", b_data)
    out = b.output("y", str(a.dtype), a.shape)
    b.sequence(
        [load(a_dram, ROWS, COLS, 0, mem=1, bs=8), load(b_dram, b_rows, b_cols, 30, mem=1, bs=b_rows)],
        [("valu", dict(a=0, b=30, dst=60, rows=ROWS, cols=COLS, a_bs=8, b_bs=b_rows, dst_bs=ROWS) | fields)],
        [store(out, ROWS, COLS, 60, mem=1, bs=ROWS)],
    )
    return b.run().outputs["y"]


def f32_reference(op, a, b):
    return {"add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b, "div": lambda: a / b,
            "max": lambda: np.maximum(a, b), "min": lambda: np.minimum(a, b)}[op]().astype(F32)


def i32_reference(op, a, b):
    """Wrapping int32 arithmetic in Python ints; div truncates towards zero."""
    a_b = np.broadcast_arrays(a.astype(object), b.astype(object))
    def one(x, y):
        value = {"add": x + y, "sub": x - y, "mul": x * y, "max": max(x, y), "min": min(x, y),
                 "div": (abs(x) // abs(y)) * (1 if (x < 0) == (y < 0) else -1) if op == "div" else 0}[op]
        return ((value + 2**31) % 2**32) - 2**31
    return np.vectorize(one, otypes=[np.int64])(*a_b).astype(np.int32)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("bmode", [0, 1, 2, 3])
def test_valu_f32(op, bmode):
    rng = np.random.default_rng(OPS.index(op) * 4 + bmode)
    a = (rng.standard_normal((ROWS, COLS)) * 10).astype(F32)
    shapes = {0: (ROWS, COLS), 1: (ROWS, 1), 2: (1, COLS), 3: (1, 1)}
    b_val = (rng.standard_normal(shapes[bmode]) * 3 + 0.5).astype(F32)
    fields = dict(op=op, ty="f32", bmode=bmode)
    if bmode == 3:
        fields["imm"] = int(b_val.view(np.uint32)[0, 0])
    loaded = b_val if bmode != 3 else np.zeros((1, 1), F32)
    got = run_valu(a, loaded, *loaded.shape, **fields)
    assert_equal(f"valu.{op} bmode {bmode}", got, f32_reference(op, a, b_val))


@pytest.mark.parametrize("op", OPS)
def test_valu_i32_wraps(op):
    rng = np.random.default_rng(50 + OPS.index(op))
    a = rng.integers(-2**31, 2**31, (ROWS, COLS)).astype(np.int32)
    a[0, 0] = -2**31
    b_val = rng.integers(-2**31, 2**31, (ROWS, COLS)).astype(np.int32)
    b_val[b_val == 0] = 3
    b_val[0, 0] = -1
    got = run_valu(a, b_val, ROWS, COLS, op=op, ty="i32", bmode=0)
    assert_equal(f"valu.{op} i32", got, i32_reference(op, a, b_val))


def test_valu_i32_scalar_immediate_is_a_bit_pattern():
    a = np.arange(ROWS * COLS, dtype=np.int32).reshape(ROWS, COLS)
    got = run_valu(a, np.zeros((1, 1), np.int32), 1, 1, op="add", ty="i32", bmode=3, imm=0xFFFFFFFE)
    assert_equal("a + (-2)", got, a - 2)


def test_valu_i32_division_by_zero_names_the_instruction():
    a = np.ones((ROWS, COLS), np.int32)
    with pytest.raises(VitcError, match=r"pc 2 .*valu.*division by zero at element \(0, 0\)"):
        run_valu(a, np.zeros((ROWS, 1), np.int32), ROWS, 1, op="div", ty="i32", bmode=1)


def test_valu_i32_division_by_zero_names_the_first_element_in_row_major_order():
    """Zeros at (1, 2) (first column block) and (0, 20) (second block): the row-major first is
    (0, 20). The lanes past the 23 columns of the second block hold zeros too (ACC starts
    zeroed); they are not elements, so they are never reported."""
    a = np.ones((ROWS, COLS), np.int32)
    divisor = np.ones((ROWS, COLS), np.int32)
    divisor[1, 2] = divisor[0, 20] = 0
    with pytest.raises(VitcError, match=r"division by zero at element \(0, 20\)"):
        run_valu(a, divisor, ROWS, COLS, op="div", ty="i32", bmode=0)


@pytest.mark.parametrize("fn", ["sqrt", "exp", "neg", "abs", "recip"])
def test_vunary(fn):
    rng = np.random.default_rng(60)
    x = (rng.standard_normal((ROWS, COLS)) * 4).astype(F32)
    if fn == "sqrt":
        x = np.abs(x)
    b = ProgramBuilder()
    src = b.input("x", x)
    out = b.output("y", "float32", x.shape)
    b.sequence([load(src, ROWS, COLS, 0, mem=1, bs=ROWS)],
               [("vunary", dict(fn=fn, src=0, dst=0, rows=ROWS, cols=COLS, src_bs=ROWS, dst_bs=ROWS))],
               [store(out, ROWS, COLS, 0, mem=1, bs=ROWS)])
    expected = {"sqrt": np.sqrt, "exp": np.exp, "neg": np.negative, "abs": np.abs,
                "recip": lambda v: F32(1) / v}[fn](x)
    assert_equal(fn, b.run().outputs["y"], expected.astype(F32))


def scalef_oracle(a, b) -> F32:
    """`a * 2^floor(b)` rounded once, from the table text (Fraction arithmetic; finite a and b)."""
    if a == 0:
        return F32(a)
    exponent = math.floor(float(b))
    if abs(exponent) > 400:  # the exact product is far beyond float32's range: infinity or a zero
        return F32(math.copysign(math.inf if exponent > 0 else 0.0, float(a)))
    return round_to_f32(Fraction(float(a)) * Fraction(2) ** exponent)


def test_valu_scalef_matches_the_table_text():
    """Finite operands over the whole range: normal, subnormal and overflowing results, ties
    (p with low bits set scaled into the subnormals), fractional and huge exponents."""
    rng = np.random.default_rng(77)
    a = (rng.uniform(1, 2, (ROWS, COLS)) * rng.choice([-1, 1], (ROWS, COLS))).astype(F32)
    a[0] = F32(1.5) + np.arange(COLS, dtype=F32) * F32(2.0 ** -23)   # low significand bits: rounding ties
    a[1, :3] = (F32(0.0), F32(-0.0), F32(1e-45))
    b = rng.integers(-170, 140, (ROWS, COLS)).astype(F32)
    b[0] = F32(-140) - np.arange(COLS, dtype=F32) % 12               # results across the subnormal range
    b[2] = rng.uniform(-20, 20, COLS).astype(F32)                     # fractional: floor
    b[3, :4] = (F32(1e30), F32(-1e30), F32(127.0), F32(128.0))
    got = run_valu(a, b, ROWS, COLS, op="scalef", ty="f32", bmode=0)
    expected = np.vectorize(scalef_oracle, otypes=[F32])(a, b)
    assert_equal("valu.scalef", got, expected)
    assert np.count_nonzero((np.abs(expected) < F32(2.0 ** -126)) & (expected != 0)) > COLS // 2, "too few subnormals"


def test_valu_scalef_non_finite():
    a = np.array([[0.0, np.inf, 3.0, -3.0, np.nan, 2.0]], F32)
    b = np.array([[np.inf, -np.inf, np.inf, -np.inf, 1.0, np.nan]], F32)
    expected = np.array([[np.nan, np.nan, np.inf, -0.0, np.nan, np.nan]], F32)
    rows, cols = a.shape
    program = ProgramBuilder()
    a_dram, b_dram = program.input("a", a), program.input("b", b)
    out = program.output("y", "float32", a.shape)
    program.sequence([load(a_dram, rows, cols, 0, mem=1), load(b_dram, rows, cols, 10, mem=1)],
                     [("valu", dict(op="scalef", ty="f32", bmode=0, a=0, b=10, dst=20, rows=rows, cols=cols,
                                    a_bs=1, b_bs=1, dst_bs=1))],
                     [store(out, rows, cols, 20, mem=1)])
    got = program.run().outputs["y"]
    assert np.array_equal(np.isnan(got), np.isnan(expected)), f"valu.scalef NaNs: got {got}, expected {expected}"
    assert_equal("valu.scalef non-finite", np.where(np.isnan(got), F32(0), got), np.where(np.isnan(expected), F32(0), expected))


def test_valu_scalef_refuses_i32():
    a = np.ones((ROWS, COLS), np.int32)
    with pytest.raises(VitcError, match=r"valu.*scalef needs ty=f32"):
        run_valu(a, a, ROWS, COLS, op="scalef", ty="i32", bmode=0)


def test_valu_destination_overlapping_its_source_rows_shifted():
    """dst 3 rows below a (both 2 column blocks, bs 8): the result is computed from a as it was
    and then written; the rows of a that dst does not cover keep a's values. The reference is
    the block layout formula applied to a numpy array standing for ACC."""
    rng = np.random.default_rng(70)
    a = rng.integers(-1000, 1000, (ROWS, COLS)).astype(np.int32)
    acc = np.zeros((16, 16), np.int32)
    place = lambda addr, values: [acc.__setitem__(((c // 16) * 8 + addr + r, c % 16), values[r, c])
                                  for r in range(values.shape[0]) for c in range(values.shape[1])]
    take = lambda addr: np.array([[acc[(c // 16) * 8 + addr + r, c % 16] for c in range(COLS)] for r in range(ROWS)], np.int32)
    place(0, a)
    place(3, a + 7)
    b = ProgramBuilder()
    a_dram = b.input("a", a)
    dst_out, a_out = b.output("dst", "int32", (ROWS, COLS)), b.output("a_after", "int32", (ROWS, COLS))
    b.sequence(
        [load(a_dram, ROWS, COLS, 0, mem=1, bs=8)],
        [("valu", dict(op="add", ty="i32", bmode=3, imm=7, a=0, dst=3, rows=ROWS, cols=COLS, a_bs=8, dst_bs=8))],
        [store(dst_out, ROWS, COLS, 3, mem=1, bs=8), store(a_out, ROWS, COLS, 0, mem=1, bs=8)],
    )
    result = b.run()
    assert_equal("dst", result.outputs["dst"], take(3))
    assert_equal("a after", result.outputs["a_after"], take(0))
