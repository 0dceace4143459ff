"""Float Softmax (MLAS's MlasComputeSoftmax, AVX-512F path) against onnxruntime, bit for bit."""

import numpy as np
import pytest
from onnx import helper

from compiler.reference.cpu_features import detect
from compiler.reference.kernels import softmax as mlas
from compiler.reference.kernels.fp32 import sequential_sum
from isa.errors import VitcError
from tests.compiler.reference.onnxruntime_runner import assert_exact, count_differences, run_nodes
from tests.compiler.softmax_inputs import ADVERSARIAL_SOFTMAX_INPUTS

F32 = np.float32

pytestmark = pytest.mark.skipif(not detect().has("avx512f"),
                                reason="the recipe is MLAS's AVX-512F kernel; other CPUs run other kernels")


def onnxruntime_softmax(x: np.ndarray, axis: int = -1, opset: int = 13) -> np.ndarray:
    (y,) = run_nodes([helper.make_node("Softmax", ["x"], ["y"], axis=axis)], {"x": x}, {"y": F32}, opset=opset)
    return y


def _random_rows(seed: int, shape, spread: float) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(shape) * spread).astype(F32)


@pytest.mark.parametrize("opset", [13, 18])
@pytest.mark.parametrize("d", [1, 3, 16, 17, 47, 48, 49, 64, 197, 1000])
@pytest.mark.parametrize("spread", [0.5, 4.0, 60.0])
def test_random_rows(opset, d, spread):
    x = _random_rows(d * 7 + int(spread), (33, d), spread)
    assert_exact(f"Softmax D={d} spread={spread} opset {opset}", mlas.softmax(x, 1), onnxruntime_softmax(x, -1, opset))


@pytest.mark.parametrize("name", list(ADVERSARIAL_SOFTMAX_INPUTS))
def test_adversarial_rows(name):
    x = ADVERSARIAL_SOFTMAX_INPUTS[name](np.random.default_rng(len(name)))
    assert_exact(f"Softmax {name}", mlas.softmax(x, x.ndim - 1), onnxruntime_softmax(x))


def test_inner_axis_and_opset_11_last_axis():
    x = _random_rows(5, (2, 17, 5), 5.0)
    assert_exact("Softmax axis 1", mlas.softmax(x, 1), onnxruntime_softmax(x, 1))
    y = _random_rows(6, (3, 17, 64), 5.0)
    assert_exact("Softmax opset 11, last axis", mlas.softmax(y, 2), onnxruntime_softmax(y, -1, 11))


def test_each_step_of_the_recipe_matters():
    """numpy's exp, a sequential sum or a division instead of MLAS's steps differ from onnxruntime."""
    x = _random_rows(3, (64, 197), 4.0)
    expected = onnxruntime_softmax(x)
    t = (x - x.max(axis=-1, keepdims=True)).astype(F32)
    e = mlas.exp_shifted(t)
    assert count_differences(mlas.softmax(x, 1), expected) == 0
    variants = {
        "numpy exp": (np.exp(t) * (F32(1) / mlas.lane_sum(np.exp(t)))[:, None]).astype(F32),
        "sequential sum": (e * (F32(1) / sequential_sum(e))[:, None]).astype(F32),
        "division by the sum": (e / mlas.lane_sum(e)[:, None]).astype(F32),
    }
    for name, y in variants.items():
        assert count_differences(y, expected) > 0, f"{name} should differ from onnxruntime (test power)"


def test_refuses_non_finite_and_bad_axis():
    with pytest.raises(VitcError, match="NaN or infinity"):
        mlas.softmax(np.array([[1, np.nan]], F32), 1)
    with pytest.raises(VitcError, match="axis 2 is out of range"):
        mlas.softmax(np.ones((2, 3), F32), 2)
