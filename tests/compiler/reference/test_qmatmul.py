"""QLinearMatMul, QGemm (bias, alpha) and MatMulInteger against onnxruntime: uint8/int8
activations, int8/uint8 weights, per tensor and per output channel, and accumulators beyond
2^24 where the int32 -> float32 conversion rounds."""

import numpy as np
import pytest
from onnx import helper

from compiler.reference.kernels.qmatmul import int_matmul, qmatmul
from tests.compiler.reference.onnxruntime_runner import assert_exact, ms_node, run_nodes

F32 = np.float32


def _codes(rng, dtype, shape, low=None):
    info = np.iinfo(dtype)
    return rng.integers(info.min if low is None else low, info.max + 1, shape).astype(dtype)


def _multiplier(sa, sb, sy):
    return (F32(sa) * np.asarray(sb, F32) / F32(sy)).astype(F32)


CASES = [(np.uint8, np.int8), (np.uint8, np.uint8), (np.int8, np.int8)]


@pytest.mark.parametrize("a_type, b_type", CASES, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("per_channel", [False, True], ids=["per-tensor", "per-channel"])
@pytest.mark.parametrize("m, k, n", [(5, 64, 7), (197, 192, 96), (3, 4096, 33)])
def test_qlinear_matmul(a_type, b_type, per_channel, m, k, n):
    rng = np.random.default_rng(m * k + n)
    a = _codes(rng, a_type, (m, k))
    b = _codes(rng, b_type, (k, n), low=-127 if b_type == np.int8 else None)
    if k == 4096:  # drive |acc| past 2^24 so that f32(acc) rounds
        a[:] = np.iinfo(a_type).max
        b[:, :10] = 127
    za = a_type(rng.integers(0, 20))
    zb = b_type(0 if b_type == np.int8 else 128)
    sa = F32(rng.uniform(0.01, 0.1))
    sb = rng.uniform(0.001, 0.01, n if per_channel else ()).astype(F32)
    acc = int_matmul(a, za, b, zb).astype(np.int64)
    sy = F32(np.abs(acc).max() * sa * np.max(sb) / 100)
    zy = a_type(rng.integers(-20, 20) + (128 if a_type == np.uint8 else 0))
    zbs = np.full(n, zb, b_type) if per_channel else zb
    (y,) = run_nodes([helper.make_node("QLinearMatMul", ["a", "sa", "za", "b", "sb", "zb", "sy", "zy"], ["y"])],
                     {"a": a}, {"y": a_type}, {"sa": sa, "za": za, "b": b, "sb": sb, "zb": zbs, "sy": sy, "zy": zy})
    mine = qmatmul(a, int(za), b, int(zb), None, _multiplier(sa, sb, sy), int(zy), a_type)
    assert_exact(f"QLinearMatMul {m}x{k}x{n}", mine, y)


def test_accumulator_above_2_24_is_rounded_to_float32_first():
    """acc = 2^24 + 2^19 + 1 (odd, so float32 rounds it to 2^24 + 2^19) and M = 2^-20:
    onnxruntime gives RNE(16.5) = 16, exact arithmetic would give RNE(16.5 + 2^-20) = 17."""
    a = np.array([[255] * 267 + [10] + [0] * 32], np.uint8)
    b = np.array([255] * 266 + [19, 1] + [0] * 32, np.uint8).reshape(300, 1)
    acc = int_matmul(a, 0, b, 0)
    assert int(acc[0, 0]) == 2 ** 24 + 2 ** 19 + 1
    sa, sb, sy = F32(1.0), F32(1.0), F32(2.0 ** 20)
    (y,) = run_nodes([helper.make_node("QLinearMatMul", ["a", "sa", "za", "b", "sb", "zb", "sy", "zy"], ["y"])],
                     {"a": a}, {"y": np.uint8}, {"sa": sa, "za": np.uint8(0), "b": b, "sb": sb, "zb": np.uint8(0),
                                                "sy": sy, "zy": np.uint8(0)})
    assert int(y[0, 0]) == 16
    assert_exact("QLinearMatMul, |acc| > 2^24", qmatmul(a, 0, b, 0, None, _multiplier(sa, sb, sy), 0, np.uint8), y)


def test_exact_integer_product_matches_matmul_integer():
    rng = np.random.default_rng(2)
    a = _codes(rng, np.uint8, (2, 17, 300))
    b = _codes(rng, np.int8, (300, 40))
    (y,) = run_nodes([helper.make_node("MatMulInteger", ["a", "b", "za", "zb"], ["y"])], {"a": a}, {"y": np.int32},
                     {"b": b, "za": np.uint8(7), "zb": np.int8(-3)})
    assert_exact("MatMulInteger", int_matmul(a, 7, b, -3), y)


@pytest.mark.parametrize("per_channel", [False, True], ids=["per-tensor", "per-channel"])
def test_qgemm_with_bias_and_alpha(per_channel):
    rng = np.random.default_rng(9)
    m, k, n = 50, 192, 64
    a = _codes(rng, np.uint8, (m, k))
    b = _codes(rng, np.int8, (k, n), low=-127)
    sa, alpha = F32(0.02), 0.75
    sb = rng.uniform(0.002, 0.01, n if per_channel else ()).astype(F32)
    bias = rng.integers(-30000, 30000, n).astype(np.int32)
    sy, zy = F32(0.07), np.uint8(120)
    zb = np.zeros(n, np.int8) if per_channel else np.int8(0)
    (y,) = run_nodes([ms_node("QGemm", ["a", "sa", "za", "b", "sb", "zb", "c", "sy", "zy"], ["y"], alpha=alpha)],
                     {"a": a}, {"y": np.uint8},
                     {"sa": sa, "za": np.uint8(130), "b": b, "sb": sb, "zb": zb, "c": bias, "sy": sy, "zy": zy})
    multiplier = (F32(F32(alpha) * sa) * sb / sy).astype(F32)
    assert_exact("QGemm", qmatmul(a, 130, b, 0, bias, multiplier, 120, np.uint8), y)
