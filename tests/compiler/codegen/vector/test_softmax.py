"""softmax lowering (float32, last axis) against onnxruntime's Softmax and the reference
interpreter's MLAS kernel (compiler/reference/kernels/softmax.py), bit for bit: rows of 17, 197,
64 (and 1, 16, 48, 49), random rows of three spreads, the adversarial rows the reference
kernel is tested on too (tests/compiler/softmax_inputs.py: ties, equal rows, huge ranges, float32
extremes where x - max overflows, the -103.97 clamp, subnormal exponentials, signed zeros),
several tiles; and the refusal of a non-last axis. onnxruntime runs MLAS's AVX-512F kernel only
on CPUs with AVX-512F, so the onnxruntime comparisons are skipped elsewhere (the kernel comparison is not)."""

import numpy as np
import pytest
from onnx import helper

from compiler.reference.cpu_features import detect
from compiler.reference.kernels import softmax as mlas
from isa.errors import VitcError
from tests.compiler.codegen.vector import onnxruntime_reference as ort_ref
from tests.compiler.codegen.vector.harness import assert_exact, run_lowering
from tests.compiler.codegen.vector.ir_ops import f32, single_op
from tests.compiler.softmax_inputs import ADVERSARIAL_SOFTMAX_INPUTS

F32 = np.float32
needs_avx512f = pytest.mark.skipif(not detect().has("avx512f"),
                                   reason="onnxruntime runs MLAS's AVX-512F Softmax only on AVX-512F CPUs")


def onnxruntime_softmax(x: np.ndarray) -> np.ndarray:
    return ort_ref.run_nodes([helper.make_node("Softmax", ["x"], ["y"], axis=-1)], {"x": x}, {}, "y", F32)


def lowered_softmax(x: np.ndarray, max_tile_rows: int | None = None, config: str = "default") -> np.ndarray:
    op = single_op("softmax", [f32(x.shape)], axis=x.ndim - 1)
    got, _ = run_lowering(op, [x], config, max_tile_rows=max_tile_rows)
    return got


def check(name: str, x: np.ndarray, max_tile_rows: int | None = None) -> None:
    got = lowered_softmax(x, max_tile_rows)
    assert_exact(f"{name}: against the reference kernel", got, mlas.softmax(x, x.ndim - 1))
    if detect().has("avx512f"):
        assert_exact(f"{name}: against onnxruntime", got, onnxruntime_softmax(x))


@pytest.mark.parametrize("d", [1, 16, 17, 48, 49, 64, 197])
@pytest.mark.parametrize("spread", [0.5, 4.0, 60.0])
def test_random_rows(d, spread):
    x = (np.random.default_rng(d * 7 + int(spread)).standard_normal((12, d)) * spread).astype(F32)
    check(f"softmax D={d} spread={spread}", x, max_tile_rows=5)


@pytest.mark.parametrize("name", list(ADVERSARIAL_SOFTMAX_INPUTS))
def test_adversarial_rows(name):
    x = ADVERSARIAL_SOFTMAX_INPUTS[name](np.random.default_rng(len(name)))
    check(f"softmax {name}", x, max_tile_rows=7)


def test_subnormal_exponentials_are_present():
    """That case really exercises scalef's rounding into the subnormals."""
    name = "exponentials in the subnormal range"
    x = ADVERSARIAL_SOFTMAX_INPUTS[name](np.random.default_rng(len(name)))
    t = (x - x.max(axis=-1, keepdims=True)).astype(F32)
    e = mlas.exp_shifted(t)
    assert np.count_nonzero((e > 0) & (e < F32(2.0 ** -126))) > 1000


@needs_avx512f
def test_large_configuration():
    x = (np.random.default_rng(9).standard_normal((30, 197)) * 5).astype(F32)
    assert_exact("softmax (large)", lowered_softmax(x, config="large"), onnxruntime_softmax(x))


def test_refuses_a_non_last_axis():
    op = single_op("softmax", [f32((4, 6, 8))], axis=1)
    with pytest.raises(VitcError, match=r"op 'softmax' %y.*axis 1 is not the last axis"):
        run_lowering(op, [np.zeros((4, 6, 8), F32)])
