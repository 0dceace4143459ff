"""vfma: `dst = fma(a, b, c)` rounded once, b and c each placed by a broadcast mode.

Checked against the reference interpreter's fma (compiler/reference/kernels/fp32.py, a separate
implementation) on every (bmode, cmode) pair with data where the fused and the unfused results
differ, against the Fraction-exact oracle (tests/runtime_emulator/exact_float.py) on cases that
defeat naive double rounding, and against hand-written IEEE results for infinities and NaN.
Programs are assembly text run with hazard checking.
"""

import numpy as np
import pytest

from compiler.reference.kernels.fp32 import fma as reference_fma
from isa.config import load_config
from isa.table import load_table
from tests.runtime_emulator.assembly import ACC_WORD, run_assembly
from tests.runtime_emulator.exact_float import exact_fma
from tests.runtime_emulator.harness import assert_equal

F32 = np.float32
MODES = ["full", "row", "col", "scalar"]
ROWS, COLS = 6, 37  # three column blocks, the last one partial
BS = 8  # block stride of the full regions: rows 6, 7 of each block are padding
A, B, C, DST = 0, 100, 200, 300


def operand_shape(mode):
    return {"full": (ROWS, COLS), "row": (ROWS, 1), "col": (1, COLS), "scalar": (1, 1)}[mode]


def load_line(name, addr, shape, signal=""):
    rows, cols = shape
    return (f"dma.load mem=acc, addr={addr}, rows={rows}, cols={cols}, bs={BS if rows > 1 else 1}, "
            f"dram={{{name}}}, dram_stride={cols * ACC_WORD}{signal}")


def run_vfma(a, b, c, bmode, cmode, dst=DST):
    """Load a and each non-scalar operand, one vfma, store dst."""
    inputs, lines, imms = {"a": a}, [load_line("a", A, a.shape)], {}
    for name, addr, value, mode in (("b", B, b, bmode), ("c", C, c, cmode)):
        if mode == "scalar":
            imms[f"{name}_imm"] = repr(float(value.reshape(())))
            continue
        inputs[name] = value
        lines.append(load_line(name, addr, value.shape))
    lines[-1] += ", signal=vector"
    immediates = "".join(f", {k}={v}" for k, v in imms.items())
    lines.append(f"vfma bmode={bmode}, cmode={cmode}, dst={dst}, a={A}, b={B}, c={C}, rows={ROWS}, cols={COLS}, "
                 f"dst_bs={BS}, a_bs={BS}, b_bs={BS}, c_bs={BS}{immediates}, wait=load, signal=store")
    lines.append(f"dma.store mem=acc, addr={dst}, rows={ROWS}, cols={COLS}, bs={BS}, dram={{y}}, "
                 f"dram_stride={COLS * ACC_WORD}, wait=vector")
    return run_assembly("\n".join(lines), inputs, {"y": ("float32", (ROWS, COLS))})


def fma_sensitive(rng, bmode, cmode):
    """a, b, c with c close to -a*b, so that the exact product's low bits decide the result."""
    a = (rng.standard_normal((ROWS, COLS)) * 8).astype(F32)
    b = (rng.standard_normal(operand_shape(bmode)) * 8).astype(F32)
    product = np.multiply(a, b, dtype=F32)
    noise = rng.standard_normal((ROWS, COLS)) * np.abs(product) * 2.0 ** -20
    c_full = (-product + noise).astype(F32)
    c = {"full": c_full, "row": c_full[:, :1], "col": c_full[:1, :], "scalar": c_full[:1, :1]}[cmode]
    return a, b, np.ascontiguousarray(c)


@pytest.mark.parametrize("cmode", MODES)
@pytest.mark.parametrize("bmode", MODES)
def test_vfma_every_broadcast_pair(bmode, cmode):
    rng = np.random.default_rng([MODES.index(bmode), MODES.index(cmode)])
    a, b, c = fma_sensitive(rng, bmode, cmode)
    result = run_vfma(a, b, c, bmode, cmode)
    expected = reference_fma(a, b, c)
    assert_equal(f"vfma bmode={bmode} cmode={cmode}", result.outputs["y"], expected)
    unfused = np.add(np.multiply(a, b, dtype=F32), c, dtype=F32)
    assert not np.array_equal(unfused, expected), "data too easy: multiply then add gives the same"
    cycles = load_config("default").vector_latency + -(-ROWS * COLS // 16)
    vfma_events = [e for e in result.trace_events()["traceEvents"] if e.get("name") == "vfma" and e["ph"] == "X"]
    assert round(vfma_events[0]["dur"] * 1000) == cycles


def test_vfma_rounds_once_where_double_rounding_fails():
    """a*b = 1 + 2^-11 + 2^-24 is exactly halfway between two float32 values; a tiny c decides
    the direction, which a float64 sum followed by a float32 rounding loses."""
    one_plus = F32(1 + 2**-12)
    a = np.full((ROWS, COLS), one_plus, F32)
    b = np.full((ROWS, COLS), one_plus, F32)
    rng = np.random.default_rng(3)
    c = (rng.choice([-1, 1], (ROWS, COLS)) * 2.0 ** rng.integers(-140, -30, (ROWS, COLS))).astype(F32)
    c[0, :4] = [0.0, -0.0, 2**-149, -(2**-149)]  # zero and subnormal addends
    a[1, :3] = [F32(-0.0), F32(0.0), F32(3e38)]  # signed-zero products, overflow of the product
    b[1, :3] = [F32(5.0), F32(-2.0), F32(4.0)]
    c[1, :3] = [F32(-0.0), F32(-0.0), F32(-1e38)]
    a[2, :2] = [F32(2**-100), F32(-(2**-75))]  # products below the smallest subnormal
    b[2, :2] = [F32(2**-50), F32(2**-75)]
    c[2, :2] = [F32(0.0), F32(0.0)]
    expected = np.vectorize(exact_fma, otypes=[F32])(a, b, c)
    assert_equal("vfma near float32 halfway points", run_vfma(a, b, c, "full", "full").outputs["y"], expected)
    with np.errstate(over="ignore"):
        naive = (a.astype(np.float64) * b + c).astype(F32)
    assert not np.array_equal(naive, expected), "data too easy: double rounding gives the same"


def test_vfma_infinities_and_nan():
    inf, nan = F32(np.inf), F32(np.nan)
    cases = [  # (a, b, c, IEEE result)
        (inf, F32(2), F32(1), inf), (inf, F32(0), F32(1), nan), (F32(1e38), F32(10), -inf, -inf),
        (inf, F32(1), -inf, nan), (nan, F32(1), F32(1), nan), (F32(3e38), F32(3e38), F32(0), inf),
        (F32(-3e38), F32(3e38), F32(3.4e38), -inf),
    ]
    a, b, c = (np.zeros((ROWS, COLS), F32) for _ in range(3))
    for i, (x, y, z, _) in enumerate(cases):
        a[i // COLS, i % COLS], b[i // COLS, i % COLS], c[i // COLS, i % COLS] = x, y, z
    got = run_vfma(a, b, c, "full", "full").outputs["y"].ravel()
    for i, (x, y, z, want) in enumerate(cases):
        assert (np.isnan(got[i]) and np.isnan(want)) or got[i] == want, \
            f"vfma element {i}: fma({x}, {y}, {z}) = {got[i]}, IEEE gives {want}"


def test_vfma_in_place():
    """dst = a: every operand is read before the write."""
    rng = np.random.default_rng(9)
    a, b, c = fma_sensitive(rng, "col", "row")
    assert_equal("vfma dst=a", run_vfma(a, b, c, "col", "row", dst=A).outputs["y"], reference_fma(a, b, c))


def test_broadcast_modes_share_valu_codes():
    """The emulator reads vfma's bmode and cmode with valu's codes (one `operand_view`)."""
    table = load_table().by_mnemonic
    valu_modes = table["valu"].field_by_name["bmode"].values
    assert table["vfma"].field_by_name["bmode"].values == valu_modes == table["vfma"].field_by_name["cmode"].values
