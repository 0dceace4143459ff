"""requant, dequant, quant against numpy written from the ISA reference and NUMERICS.md.

References are written element formula by formula in float32 numpy (each step one float32
operation), independently of runtime_emulator's code.
"""

import numpy as np
import pytest

from tests.runtime_emulator.harness import ProgramBuilder, assert_equal, load, store
from tests.runtime_emulator.onnxruntime_ops import run_node

F32 = np.float32


def code_type(u):
    return np.uint8 if u else np.int8


def requant_reference(acc, mult, zy, lo, hi, u):
    scaled = acc.astype(F32) * mult  # int32 -> float32 conversion, then one float32 product
    assert scaled.dtype == F32
    clamped = np.minimum(np.maximum(scaled, F32(lo - zy)), F32(hi - zy))
    info = np.iinfo(code_type(u))
    return np.clip(np.rint(clamped).astype(np.int64) + zy, info.min, info.max).astype(code_type(u))


@pytest.mark.parametrize("u,zy,lo,hi,per_column", [(0, -5, -128, 127, False), (1, 130, 0, 255, True), (0, 3, -20, 90, True)])
def test_requant(u, zy, lo, hi, per_column):
    rng = np.random.default_rng(20 + u)
    rows, cols = 9, 35
    acc = rng.integers(-2**28, 2**28, (rows, cols)).astype(np.int32)
    acc[0, :4] = [2**24 + 1, -(2**24 + 3), 2**31 - 1, -2**31]  # conversions that round
    mult = (rng.random(cols) * 2e-6).astype(F32) if per_column else F32(3.1e-7)
    acc[1, :] = np.rint(np.float64(0.5) / np.float64(mult)).astype(np.int32) if not per_column else acc[1, :]
    b = ProgramBuilder()
    acc_dram = b.input("acc", acc)
    out = b.output("y", np.dtype(code_type(u)).name, (rows, cols))
    loads = [load(acc_dram, rows, cols, 0, mem=1, bs=16)]
    fields = dict(src=0, dst=0, rows=rows, cols=cols, src_bs=16, dst_bs=rows, u=u, zy=zy, lo=lo, hi=hi)
    if per_column:
        loads.append(load(b.input("mult", mult.view(np.int32)), 1, cols, 60, mem=1, bs=1))
        fields |= dict(pc=1, mult_addr=60)
    else:
        fields |= dict(mult=float(mult))
    b.sequence(loads, [("requant", fields)], [store(out, rows, cols, 0)])
    assert_equal("y", b.run().outputs["y"], requant_reference(acc, mult, zy, lo, hi, u))


@pytest.mark.parametrize("u,zp", [(0, -7), (1, 200)])
def test_dequant(u, zp):
    rng = np.random.default_rng(30 + u)
    info = np.iinfo(code_type(u))
    q = rng.integers(info.min, info.max + 1, (7, 19)).astype(code_type(u))
    scale = F32(0.0123)
    b = ProgramBuilder()
    src = b.input("q", q)
    out = b.output("x", "float32", (7, 19))
    b.sequence([load(src, 7, 19, 0, bs=7)],
               [("dequant", dict(src=0, dst=0, rows=7, cols=19, src_bs=7, dst_bs=7, u=u, zp=zp, scale=float(scale)))],
               [store(out, 7, 19, 0, mem=1, bs=7)])
    expected = (q.astype(np.int32) - zp).astype(F32) * scale
    assert_equal("x", b.run().outputs["x"], expected)


@pytest.mark.parametrize("u,zp,per_row", [(0, 10, False), (1, 128, True)])
def test_quant_true_division_and_ties(u, zp, per_row):
    rng = np.random.default_rng(40 + u)
    rows, cols = 6, 21
    scale = (rng.random(rows) + 0.01).astype(F32)[:, None] if per_row else F32(0.05)
    x = (rng.standard_normal((rows, cols)) * 8).astype(F32)
    x[0, :4] = np.array([0.5, 1.5, 2.5, -0.5], F32) * (scale[0, 0] if per_row else scale)  # ties
    x[1, :2] = [1e30, -1e30]
    b = ProgramBuilder()
    src = b.input("x", x)
    out = b.output("q", np.dtype(code_type(u)).name, (rows, cols))
    fields = dict(src=0, dst=0, rows=rows, cols=cols, src_bs=rows, dst_bs=rows, u=u, zp=zp)
    loads = [load(src, rows, cols, 0, mem=1, bs=rows)]
    if per_row:
        loads.append(load(b.input("scales", np.ascontiguousarray(scale).view(np.int32)), rows, 1, 50, mem=1, bs=rows))
        fields |= dict(pr=1, s_addr=50)
    else:
        fields |= dict(scale=float(scale))
    b.sequence(loads, [("quant", fields)], [store(out, rows, cols, 0)])
    info = np.iinfo(code_type(u))
    v = x / scale  # float32 true division
    assert v.dtype == F32
    v = np.minimum(np.maximum(v, F32(info.min - zp)), F32(info.max - zp))
    expected = (np.rint(v).astype(np.int64) + zp).astype(code_type(u))
    assert_equal("q", b.run().outputs["q"], expected)


@pytest.mark.parametrize("u,zp", [(0, -10), (1, 37)])
def test_quant_and_dequant_match_onnxruntime(u, zp):
    rng = np.random.default_rng(45 + u)
    rows, cols = 16, 256
    scale = F32(0.0372)
    x = (rng.standard_normal((rows, cols)) * 3).astype(F32)
    x[0, :64] = (np.arange(64, dtype=F32) - 32 + F32(0.5)) * scale  # near-ties
    x[1, :3] = [np.nan, np.inf, -np.inf]
    b = ProgramBuilder()
    src = b.input("x", x)
    q_out = b.output("q", np.dtype(code_type(u)).name, (rows, cols))
    x_out = b.output("dq", "float32", (rows, cols))
    b.sequence([load(src, rows, cols, 0, mem=1, bs=rows)],
               [("quant", dict(src=0, dst=0, rows=rows, cols=cols, src_bs=rows, dst_bs=rows, u=u, zp=zp, scale=float(scale))),
                ("dequant", dict(src=0, dst=400, rows=rows, cols=cols, src_bs=rows, dst_bs=rows, u=u, zp=zp, scale=float(scale)))],
               [store(q_out, rows, cols, 0), store(x_out, rows, cols, 400, mem=1, bs=rows)])
    outputs = b.run().outputs
    zero_point = np.array(zp, code_type(u))
    expected_q = run_node("QuantizeLinear", {"x": x}, {"s": scale, "z": zero_point}, code_type(u), x.shape)
    assert_equal("quant vs onnxruntime QuantizeLinear", outputs["q"], expected_q)
    expected_x = run_node("DequantizeLinear", {"q": expected_q}, {"s": scale, "z": zero_point}, F32, x.shape)
    assert_equal("dequant vs onnxruntime DequantizeLinear", outputs["dq"], expected_x)
