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
    """Load a and b into SPAD (block stride rows + 2), run one qadd/qmul, store c."""
    rows, cols = a.shape
    bs = rows + 2
    span = -(-cols // 16) * bs
    b = ProgramBuilder()
    a_dram, b_dram = b.input("a", a), b.input("b", b_data)
    out = b.output("c", "uint8" if fields["cu"] else "int8", a.shape)
    b_rows = 1 if bbc else rows
    b_bs = 1 if bbc else bs
    b.sequence(
        [load(a_dram, rows, cols, 0, bs=bs), load(b_dram, b_rows, cols, span, bs=b_bs)],
        [(mnemonic, dict(a=0, b=span, c=2 * span, rows=rows, cols=cols, a_bs=bs, b_bs=b_bs, c_bs=bs, bbc=bbc) | fields)],
        [store(out, rows, cols, 2 * span, bs=bs)],
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


# Seeds 138, 147, 148 give scales whose `fixed` differs by an ulp between the step-by-step
# float32 formula and the contracted one onnxruntime's compiled kernel uses; 130 and 131 do not.
@pytest.mark.parametrize("seed", [130, 131, 138, 147, 148])
def test_kernel_mode_matches_onnxruntime_on_every_code_pair(seed):
    """With the kernel constants derived as onnxruntime derives them, qadd and qmul equal its
    QLinearAdd / QLinearMul on all 256 x 256 pairs of uint8 codes. `fixed` is
    `f32(zc) - fma(ra, za, f32(rb * zb))`: onnxruntime's C++ expression
    `zc - (ra * za + rb * zb)` is compiled with the first product fused (the step-by-step
    float32 formula fails on seeds 138, 147, 148)."""
    rng = np.random.default_rng(seed)
    rng.integers(0, 256, (2, 6, 37))  # keeps the scale draws of the seeds listed above
    sa, sb, sc = (F32(s) for s in rng.random(3) * 0.05 + 0.001)
    za, zb, zc = (int(z) for z in rng.integers(0, 256, 3))
    a = np.repeat(np.arange(256, dtype=np.uint8), 256).reshape(256, 256)
    b = a.T.copy()
    ra, rb = F32(sa / sc), F32(sb / sc)
    fixed = F32(zc) - fma(ra, F32(za), F32(rb * F32(zb)))
    got_add = run_q("qadd", a, b, 0, mode="kernel", au=1, bu=1, cu=1, ra=float(ra), rb=float(rb), fixed=float(fixed))
    assert_equal("qadd vs onnxruntime QLinearAdd", got_add, onnxruntime_qlinear("QLinearAdd", a, b, sa, za, sb, zb, sc, zc))
    r = F32(F32(sa * sb) / sc)
    got_mul = run_q("qmul", a, b, 0, mode="kernel", au=1, bu=1, cu=1, za=za, zb=zb, zc=zc, r=float(r))
    assert_equal("qmul vs onnxruntime QLinearMul", got_mul, onnxruntime_qlinear("QLinearMul", a, b, sa, za, sb, zb, sc, zc))
