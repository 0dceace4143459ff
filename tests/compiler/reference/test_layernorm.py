"""LayerNormalization against onnxruntime: row lengths 8..768 (multiples of 8 and every tail
length), several epsilons and magnitudes, with and without bias, a normalization over two axes;
the sequential-float32 formula of NUMERICS.md is shown wrong; short rows are refused."""

import numpy as np
import pytest
from onnx import helper

from compiler.reference.kernels.fp32 import sequential_sum
from compiler.reference.kernels.layernorm import layernorm
from isa.errors import VitcError
from tests.compiler.reference.onnxruntime_runner import assert_exact, count_differences, run_nodes

F32 = np.float32


def _onnxruntime(x, gamma, beta, axis, eps):
    inputs = ["x", "g"] + (["b"] if beta is not None else [])
    constants = {"g": gamma} | ({"b": beta} if beta is not None else {})
    (y,) = run_nodes([helper.make_node("LayerNormalization", inputs, ["y"], axis=axis, epsilon=eps)], {"x": x},
                     {"y": F32}, constants, opset=17)
    return y


def _data(rng, shape, n):
    x = (rng.standard_normal(shape) * rng.uniform(0.1, 5) + rng.uniform(-3, 3)).astype(F32)
    gamma = (1 + 0.1 * rng.standard_normal(n)).astype(F32)
    beta = (0.1 * rng.standard_normal(n)).astype(F32)
    return x, gamma, beta


@pytest.mark.parametrize("n", [8, 9, 11, 12, 13, 15, 20, 23, 50, 64, 192, 197, 384, 768])
def test_rows(n):
    rng = np.random.default_rng(n)
    for eps in (1e-5, 1e-6, 1e-12):
        x, gamma, beta = _data(rng, (400, n), n)
        y = _onnxruntime(x, gamma, beta, -1, eps)
        assert_exact(f"LayerNormalization N={n} eps={eps}", layernorm(x, gamma, beta, -1, eps), y)


def test_without_bias_and_over_two_axes():
    rng = np.random.default_rng(1)
    x, gamma, _ = _data(rng, (3, 17, 4, 16), 64)
    gamma = gamma.reshape(4, 16)
    y = _onnxruntime(x, gamma, None, 2, 1e-5)
    assert_exact("LayerNormalization axis=2, no bias", layernorm(x, gamma, None, 2, 1e-5), y)


def test_sequential_float32_formula_is_wrong():
    """NUMERICS.md's kernel (sequential float32 sum and sum of squares) misses most rows."""
    rng = np.random.default_rng(2)
    x, gamma, beta = _data(rng, (300, 192), 192)
    y = _onnxruntime(x, gamma, beta, -1, 1e-5)
    n = F32(192)
    mean = (sequential_sum(x) / n).astype(F32)[:, None]
    var = ((sequential_sum((x * x).astype(F32)) / n).astype(F32)[:, None] - (mean * mean).astype(F32)).astype(F32)
    std = np.sqrt((var + F32(1e-5)).astype(F32))
    old = ((((x - mean).astype(F32) / std).astype(F32) * gamma).astype(F32) + beta).astype(F32)
    assert count_differences(old, y) > y.size // 10
    assert_exact("LayerNormalization", layernorm(x, gamma, beta, -1, 1e-5), y)


def test_rows_shorter_than_8_are_refused():
    x = np.ones((2, 7), F32)
    with pytest.raises(VitcError, match="7 elements"):
        layernorm(x, np.ones(7, F32), None, -1, 1e-5)
