"""qadd and qmul: against an exact-rational reference of the ISA formulas, and against
onnxruntime's QLinearAdd / QLinearMul kernels (com.microsoft) on the same codes."""

from fractions import Fraction

import numpy as np
import pytest

from tests.runtime_emulator.harness import ProgramBuilder, assert_equal, load, store
from tests.runtime_emulator.onnxruntime_ops import run_node

F32 = np.float32
ROWS, COLS = 6, 37


def round_f32(exact: Fraction) -> F32:
    """Correctly rounded float32 (nearest, ties to even) of an exact rational."""
    guess = F32(float(exact))
    candidates = [np.nextafter(guess, F32(-np.inf)), guess, np.nextafter(guess, F32(np.inf))]
    return min(candidates, key=lambda c: (abs(Fraction(float(c)) - exact), int(np.array(c).view(np.uint32)) & 1))


def fma(x, y, z) -> F32:
    return round_f32(Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z)))


def saturate(v, u):
    info = np.iinfo(np.uint8 if u else np.int8)
    return min(max(int(v), info.min), info.max)


def run_q(mnemonic, a, b_data, bbc, **fields):
    b = ProgramBuilder()
    a_dram, b_dram = b.input("a", a), b.input("b", b_data)
    out_type = "uint8" if fields["cu"] else "int8"
    out = b.output("c", out_type, a.shape)
    b_rows = 1 if bbc else ROWS
    b.sequence(
        [load(a_dram, ROWS, COLS, 0, bs=8), load(b_dram, b_rows, COLS, 30, bs=b_rows)],
        [(mnemonic, dict(a=0, b=30, c=60, rows=ROWS, cols=COLS, a_bs=8, b_bs=b_rows, c_bs=ROWS, bbc=bbc) | fields)],
        [store(out, ROWS, COLS, 60, bs=ROWS)],
    )
    return b.run().outputs["c"]


def codes(rng, u, shape):
    return rng.integers(0, 256, shape).astype(np.uint8 if u else np.int8)


@pytest.mark.parametrize("bbc", [0, 1])
def test_qadd_kernel_formula(bbc):
    rng = np.random.default_rng(100 + bbc)
    a, b = codes(rng, 1, (ROWS, COLS)), codes(rng, 0, (1 if bbc else ROWS, COLS))
    ra, rb, fixed = F32(0.731), F32(1.37), F32(-20.25)
    got = run_q("qadd", a, b, bbc, mode="kernel", au=1, bu=0, cu=1, ra=float(ra), rb=float(rb), fixed=float(fixed))
    bb = np.broadcast_to(b, a.shape)
    expected = np.array([[saturate(np.rint(fma(x, ra, fma(y, rb, fixed))), 1) for x, y in zip(ra_row, rb_row)]
                         for ra_row, rb_row in zip(a.astype(np.int64), bb.astype(np.int64))], np.uint8)
    assert_equal("qadd kernel", got, expected)


def test_qmul_kernel_formula():
    rng = np.random.default_rng(110)
    a, b = codes(rng, 0, (ROWS, COLS)), codes(rng, 0, (ROWS, COLS))
    za, zb, zc, r = 3, -5, 7, F32(0.0093)
    got = run_q("qmul", a, b, 0, mode="kernel", au=0, bu=0, cu=0, za=za, zb=zb, zc=zc, r=float(r))
    product = ((a.astype(np.int32) - za) * (b.astype(np.int32) - zb)).astype(F32)
    value = (product * r).astype(F32) + F32(zc)
    expected = np.clip(np.rint(value), -128, 127).astype(np.int8)
    assert_equal("qmul kernel", got, expected)


@pytest.mark.parametrize("mnemonic", ["qadd", "qmul"])
def test_float_path(mnemonic):
    rng = np.random.default_rng(120)
    a, b = codes(rng, 0, (ROWS, COLS)), codes(rng, 1, (ROWS, COLS))
    sa, sb, sc, za, zb, zc = F32(0.02), F32(0.013), F32(0.05), -4, 130, 9
    got = run_q(mnemonic, a, b, 0, mode="float", au=0, bu=1, cu=0, za=za, zb=zb, zc=zc,
                sa=float(sa), sb=float(sb), sc=float(sc))
    da = (a.astype(np.int32) - za).astype(F32) * sa
    db = (b.astype(np.int32) - zb).astype(F32) * sb
    v = (da + db) if mnemonic == "qadd" else (da * db)
    v = np.clip(v / sc, F32(-128 - zc), F32(127 - zc))
    expected = (np.rint(v).astype(np.int32) + zc).astype(np.int8)
    assert_equal(f"{mnemonic} float", got, expected)


def onnxruntime_qlinear(op, a, b, sa, za, sb, zb, sc, zc):
    constants = {"sa": F32(sa), "za": np.uint8(za), "sb": F32(sb), "zb": np.uint8(zb), "sc": F32(sc), "zc": np.uint8(zc)}
    return run_node(op, {"a": a, "b": b}, constants, np.uint8, a.shape, domain="com.microsoft",
                    input_order=["a", "sa", "za", "b", "sb", "zb", "sc", "zc"])


@pytest.mark.parametrize("seed", range(3))
def test_kernel_mode_matches_onnxruntime(seed):
    """The kernel-mode constants are derived as NUMERICS.md says, from the scales and zero points."""
    rng = np.random.default_rng(130 + seed)
    a, b = codes(rng, 1, (ROWS, COLS)), codes(rng, 1, (ROWS, COLS))
    sa, sb, sc = (F32(s) for s in rng.random(3) * 0.05 + 0.001)
    za, zb, zc = (int(z) for z in rng.integers(0, 256, 3))
    ra, rb = F32(sa / sc), F32(sb / sc)
    fixed = F32(zc) - (ra * F32(za) + rb * F32(zb))
    got_add = run_q("qadd", a, b, 0, mode="kernel", au=1, bu=1, cu=1, ra=float(ra), rb=float(rb), fixed=float(fixed))
    assert_equal("qadd vs onnxruntime QLinearAdd", got_add, onnxruntime_qlinear("QLinearAdd", a, b, sa, za, sb, zb, sc, zc))
    r = F32(F32(sa * sb) / sc)
    got_mul = run_q("qmul", a, b, 0, mode="kernel", au=1, bu=1, cu=1, za=za, zb=zb, zc=zc, r=float(r))
    assert_equal("qmul vs onnxruntime QLinearMul", got_mul, onnxruntime_qlinear("QLinearMul", a, b, sa, za, sb, zb, sc, zc))
