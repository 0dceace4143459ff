"""QuantizeLinear / DequantizeLinear against onnxruntime: random values, exact ties, saturation,
uint8 and int8, per tensor and per axis, short and long (vectorized) tensors."""

import numpy as np
import pytest
from onnx import helper

from compiler.reference.kernels.quantize import dequantize_linear, quantize_linear
from tests.compiler.reference.onnxruntime_runner import assert_exact, count_differences, run_nodes

F32 = np.float32


def _values(rng, n, scale):
    x = (rng.standard_normal(n) * 60 * scale).astype(F32)
    k = rng.integers(-300, 300, n // 3)
    x[: n // 3] = ((k + 0.5) * np.float64(scale)).astype(F32)  # ties (as near as float32 allows)
    x[n // 3: n // 3 + 8] = [1e30, -1e30, 0.0, -0.0, 300 * scale, -300 * scale, scale / 2, -scale / 2]
    return x


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("n", [17, 1000, 50_003])
def test_quantize_per_tensor(dtype, n):
    rng = np.random.default_rng(n + (dtype == np.int8))
    for _ in range(4):
        scale = F32(rng.uniform(0.001, 0.2))
        zp = dtype(rng.integers(np.iinfo(dtype).min, np.iinfo(dtype).max + 1))
        x = _values(rng, n, scale)
        (y,) = run_nodes([helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"])], {"x": x}, {"y": dtype},
                         {"s": scale, "z": zp})
        assert_exact(f"QuantizeLinear n={n} s={scale!r} zp={zp}", quantize_linear(x, scale, int(zp), dtype), y)


def test_quantize_divides_rather_than_multiplying_by_the_reciprocal():
    rng = np.random.default_rng(5)
    scale, zp = F32(0.0123), np.uint8(131)
    x = _values(rng, 20_000, scale)
    (y,) = run_nodes([helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"])], {"x": x}, {"y": np.uint8},
                     {"s": scale, "z": zp})
    reciprocal = np.clip(np.rint((x * (F32(1) / scale)).astype(F32)) + 131, 0, 255).astype(np.uint8)
    assert count_differences(reciprocal, y) > 0, "x * (1/s) should differ somewhere (else the test has no power)"
    assert_exact("QuantizeLinear", quantize_linear(x, scale, 131, np.uint8), y)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_quantize_and_dequantize_per_axis(dtype):
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((5, 6, 7)) * 3).astype(F32)
    scales = rng.uniform(0.01, 0.1, 6).astype(F32)
    info = np.iinfo(dtype)
    zps = rng.integers(info.min, info.max + 1, 6).astype(dtype)
    (q,) = run_nodes([helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"], axis=1)], {"x": x}, {"y": dtype},
                     {"s": scales, "z": zps})
    assert_exact("QuantizeLinear per axis", quantize_linear(x, scales, zps, dtype, axis=1), q)
    (d,) = run_nodes([helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], axis=1)], {"q": q}, {"y": F32},
                     {"s": scales, "z": zps})
    assert_exact("DequantizeLinear per axis", dequantize_linear(q, scales, zps, axis=1), d)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int32])
def test_dequantize_per_tensor(dtype):
    rng = np.random.default_rng(3)
    info = np.iinfo(dtype)
    low, high = (info.min, info.max) if dtype != np.int32 else (-2 ** 30, 2 ** 30)
    q = rng.integers(low, high, 4099, dtype=np.int64).astype(dtype)
    scale = F32(0.0371)
    zp = dtype(0 if dtype == np.int32 else rng.integers(info.min, info.max + 1))
    (y,) = run_nodes([helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"])], {"q": q}, {"y": F32},
                     {"s": scale, "z": zp})
    assert_exact(f"DequantizeLinear {np.dtype(dtype).name}", dequantize_linear(q, scale, int(zp)), y)
