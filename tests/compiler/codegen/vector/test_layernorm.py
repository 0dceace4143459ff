"""layernorm: the lowering refuses (the ISA lacks three operations, see
compiler/codegen/vector/layernorm.py), and the recipe it documents is checked here, bit for bit,
against onnxruntime's LayerNormalization, so the instructions proposed for the ISA are known to
be sufficient. The recipe is written from onnxruntime's observed behaviour (its Mean and
InvStdDev outputs pin the statistics down), not from the code under test."""

import numpy as np
import pytest

from compiler.reference.kernels.fp32 import fma
from isa.errors import VitcError
from tests.compiler.codegen.vector import onnxruntime_reference as ort_ref
from tests.compiler.codegen.vector.harness import assert_exact, run_lowering
from tests.compiler.codegen.vector.ir_ops import f32, single_op

F32, F64 = np.float32, np.float64
LANES = 8


def onnxruntime_layernorm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, epsilon) -> np.ndarray:
    """onnxruntime 1.32's float32 LayerNormalization over the last axis (N a multiple of 8)."""
    n = x.shape[-1]
    mean = (np.add.accumulate(x.astype(F64), axis=-1)[..., -1:] / n).astype(F32)
    d = (x - mean).astype(F32)
    acc = np.zeros(x.shape[:-1] + (LANES,), F32)
    for start in range(0, n, LANES):
        acc = fma(d[..., start:start + LANES], d[..., start:start + LANES], acc)
    while acc.shape[-1] > 1:  # halving tree: lane l + lane l + half
        half = acc.shape[-1] // 2
        acc = (acc[..., :half] + acc[..., half:]).astype(F32)
    inv_std = F32(1) / np.sqrt((acc / F32(n) + F32(epsilon)).astype(F32))
    return fma((d * inv_std).astype(F32), gamma, beta)


def numerics_md_layernorm(x, gamma, beta, epsilon) -> np.ndarray:
    """The recipe ../shared/NUMERICS.md gives: sequential float32 sums, one operation per step."""
    n = F32(x.shape[-1])
    total = np.add.accumulate(x, axis=-1, dtype=F32)[..., -1:]
    squares = np.add.accumulate((x * x).astype(F32), axis=-1, dtype=F32)[..., -1:]
    mean = (total / n).astype(F32)
    std = np.sqrt((squares / n - mean * mean + F32(epsilon)).astype(F32))
    return ((x - mean) / std * gamma + beta).astype(F32)


def _inputs(rng, rows, n, scale, offset):
    x = (rng.standard_normal((rows, n)) * scale + offset).astype(F32)
    return x, rng.standard_normal(n).astype(F32), rng.standard_normal(n).astype(F32)


@pytest.mark.parametrize("n", [64, 192, 768])
@pytest.mark.parametrize("scale, offset", [(2.0, 0.5), (0.01, 1000.0), (50.0, -3.0), (1e-3, 0.0)])
@pytest.mark.parametrize("epsilon", [1e-5, 1e-12])
def test_recipe_matches_onnxruntime(n, scale, offset, epsilon):
    rng = np.random.default_rng(n)
    x, gamma, beta = _inputs(rng, 64, n, scale, offset)
    epsilon = float(F32(epsilon))
    assert_exact(f"layernorm recipe N={n}", onnxruntime_layernorm(x, gamma, beta, epsilon),
                 ort_ref.layer_normalization(x, gamma, beta, epsilon))


def test_numerics_md_recipe_does_not_match_onnxruntime():
    """Why the lowering refuses: the sequential float32 recipe differs in most rows."""
    x, gamma, beta = _inputs(np.random.default_rng(0), 64, 192, 2.0, 0.5)
    expected = ort_ref.layer_normalization(x, gamma, beta, float(F32(1e-5)))
    differs = numerics_md_layernorm(x, gamma, beta, F32(1e-5)) != expected
    assert differs.any(axis=1).mean() > 0.5


def test_lowering_refuses_and_names_the_missing_instructions():
    op = single_op("layernorm", [f32((4, 64)), f32((64,)), f32((64,))], axis=1, epsilon=float(F32(1e-5)))
    with pytest.raises(VitcError, match=r"op 'layernorm' %y \(loc 'layernorm_node'\).*float64-accumulating.*"
                                        r"8-lane FMA.*fused multiply-add"):
        run_lowering(op, [np.zeros((4, 64), F32), np.ones(64, F32), np.zeros(64, F32)])
