"""QLinearMul against onnxruntime: every code pair for random and pinned parameter sets (pinned
where an FMA, or adding zc after rounding, would give a different code), broadcasting, and the
float DQ -> Mul -> Q path."""

import numpy as np
import pytest
from onnx import helper

from compiler.reference.kernels.fp32 import fma
from compiler.reference.kernels.qmul import float_path_mul, qlinear_mul
from tests.compiler.reference.onnxruntime_runner import all_code_pairs, assert_exact, count_differences, ms_node, run_nodes

F32 = np.float32
INPUTS = ["a", "sa", "za", "b", "sb", "zb", "sc", "zc"]

# (sa, sb, sc, za, zb, zc), uint8: an FMA for f32(prod * r) + zc gives a different code here
PINNED_FMA = [
    (0.035515696, 0.08403369, 0.67988414, 84, 196, 206),
    (0.07398176, 0.13530798, 1.5095214, 121, 142, 143),
    (0.13430117, 0.085747845, 3.186749, 70, 21, 108),
]


def _onnxruntime(a, b, dtype, sa, sb, sc, za, zb, zc):
    (y,) = run_nodes([ms_node("QLinearMul", INPUTS, ["y"])], {"a": a, "b": b}, {"y": dtype},
                     {"sa": F32(sa), "za": dtype(za), "sb": F32(sb), "zb": dtype(zb), "sc": F32(sc), "zc": dtype(zc)})
    return y


def _multiplier(sa, sb, sc):
    return F32(F32(F32(sa) * F32(sb)) / F32(sc))


@pytest.mark.parametrize("dtype", [np.uint8, np.int8], ids=["u8", "i8"])
def test_every_code_pair(dtype):
    rng = np.random.default_rng(13 + (dtype == np.int8))
    info = np.iinfo(dtype)
    a, b = all_code_pairs(dtype)
    params = []
    for _ in range(8):
        sa, sb = rng.uniform(0.005, 0.2, 2).astype(F32)
        sc = F32(sa * sb * rng.uniform(20, 300))
        params.append((sa, sb, sc) + tuple(int(rng.integers(info.min, info.max + 1)) for _ in range(3)))
    if dtype == np.uint8:
        params += PINNED_FMA
    wrong = {"fma": 0, "zc added after rounding": 0}
    for sa, sb, sc, za, zb, zc in params:
        y = _onnxruntime(a, b, dtype, sa, sb, sc, za, zb, zc)
        r = _multiplier(sa, sb, sc)
        assert_exact(f"QLinearMul {sa, sb, sc, za, zb, zc}", qlinear_mul(a, za, b, zb, r, zc, dtype), y)
        product = ((a.astype(np.int32) - za) * (b.astype(np.int32) - zb)).astype(F32)
        wrong["fma"] += count_differences(np.clip(np.rint(fma(product, r, F32(zc))), info.min, info.max).astype(dtype), y)
        late = np.clip(np.rint((product * r).astype(F32)) + zc, info.min, info.max).astype(dtype)
        wrong["zc added after rounding"] += count_differences(late, y)
    if dtype == np.uint8:
        assert all(wrong.values()), f"each alternative must be wrong somewhere (test power): {wrong}"


@pytest.mark.parametrize("shapes", [((64, 300), (1,)), ((1,), (64, 300)), ((64, 300), (300,)), ((64, 1), (64, 300))],
                         ids=str)
def test_broadcasting(shapes):
    rng = np.random.default_rng(len(str(shapes)))
    a = rng.integers(0, 256, shapes[0]).astype(np.uint8)
    b = rng.integers(0, 256, shapes[1]).astype(np.uint8)
    sa, sb, sc, za, zb, zc = 0.02, 0.5, 0.3, 131, 90, 7
    y = _onnxruntime(a, b, np.uint8, sa, sb, sc, za, zb, zc)
    assert_exact(f"QLinearMul {shapes}", qlinear_mul(a, za, b, zb, _multiplier(sa, sb, sc), zc, np.uint8), y)


def test_float_path():
    rng = np.random.default_rng(8)
    a = rng.integers(0, 256, (50, 64)).astype(np.uint8)
    b = rng.integers(-128, 128, (64,)).astype(np.int8)
    qa, qb, qc = (F32(0.031), np.uint8(128)), (F32(0.017), np.int8(-2)), (F32(0.002), np.int8(5))
    nodes = [helper.make_node("DequantizeLinear", ["a", "sa", "za"], ["da"]),
             helper.make_node("DequantizeLinear", ["b", "sb", "zb"], ["db"]),
             helper.make_node("Mul", ["da", "db"], ["p"]),
             helper.make_node("QuantizeLinear", ["p", "sc", "zc"], ["y"])]
    (y,) = run_nodes(nodes, {"a": a, "b": b}, {"y": np.int8},
                     {"sa": qa[0], "za": qa[1], "sb": qb[0], "zb": qb[1], "sc": qc[0], "zc": qc[1]}, optimize=False)
    mine = float_path_mul(a, (qa[0], int(qa[1])), b, (qb[0], int(qb[1])), (qc[0], int(qc[1])), np.int8)
    assert_exact("DQ -> Mul -> Q", mine, y)
