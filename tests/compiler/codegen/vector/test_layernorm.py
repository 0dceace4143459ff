"""layernorm lowering against onnxruntime's LayerNormalization: rows of 64, 192, 768 (and tails
of 197 and 50), random and adversarial rows (large offsets, tiny spreads, constant rows, signed
zeros), with and without beta, two epsilons, several tiles; the dequantize -> LayerNorm ->
quantize chain as a ViT block runs it; and the refusals (non-last axis, rows under 8)."""

import numpy as np
import pytest
from onnx import helper

from compiler.codegen.vector import vector_lowering
from isa.config import load_config
from isa.errors import VitcError
from tests.compiler.codegen.vector import onnxruntime_reference as ort_ref
from tests.compiler.codegen.vector.harness import assert_exact, run_lowering
from tests.compiler.codegen.vector.ir_ops import f32, q8, single_op

F32 = np.float32


def _rows(rng, rows, n, scale, offset):
    x = (rng.standard_normal((rows, n)) * scale + offset).astype(F32)
    x[0] = F32(offset)                       # a constant row: variance 0, epsilon decides
    x[1] = np.where(np.arange(n) % 2, F32(-0.0), F32(0.0))
    x[2, : n // 2] = F32(3e4)                 # two clusters far apart
    return x


def _layernorm_op(n, with_beta, epsilon, rows=24):
    operands = [f32((n,)), f32((n,))][: 1 + with_beta]
    return single_op("layernorm", [f32((rows, n))] + operands, axis=1, epsilon=float(F32(epsilon)))


@pytest.mark.parametrize("n", [64, 192, 768, 197, 50])
@pytest.mark.parametrize("scale, offset", [(2.0, 0.5), (0.01, 1000.0), (1e-3, 0.0)])
@pytest.mark.parametrize("epsilon", [1e-5, 1e-12])
def test_against_onnxruntime(n, scale, offset, epsilon):
    rng = np.random.default_rng(n)
    rows = 24 if n < 256 else 8  # the test binary keeps every tile on chip: 768 columns are 48 ACC rows each
    x = _rows(rng, rows, n, scale, offset)
    gamma, beta = rng.standard_normal(n).astype(F32), rng.standard_normal(n).astype(F32)
    op = _layernorm_op(n, True, epsilon, rows)
    got, _ = run_lowering(op, [x, gamma, beta], max_tile_rows=5)
    assert_exact(f"layernorm N={n}", got, ort_ref.layer_normalization(x, gamma, beta, op.attrs["epsilon"]))


def test_without_beta():
    rng = np.random.default_rng(1)
    x, gamma = _rows(rng, 24, 192, 2.0, 0.5), rng.standard_normal(192).astype(F32)
    op = _layernorm_op(192, False, 1e-5)
    got, instructions = run_lowering(op, [x, gamma])
    assert_exact("layernorm without beta", got, ort_ref.layer_normalization(x, gamma, None, op.attrs["epsilon"]))
    assert "vfma" not in {i.mnemonic for i in instructions}


def test_dequantize_layernorm_quantize_chain():
    """A ViT block's norm: codes -> float -> LayerNorm -> codes, each op lowered on its own."""
    rng = np.random.default_rng(2)
    n, zp_in, zp_out = 192, 121, 127
    codes = rng.integers(0, 256, (24, n)).astype(np.uint8)
    gamma, beta = (rng.standard_normal(n) * 0.5 + 1).astype(F32), (rng.standard_normal(n) * 0.1).astype(F32)
    dq = single_op("dequantize", [q8("u8", (24, n), 0.0087, zp_in)])
    ln = _layernorm_op(n, True, 1e-6)
    q = single_op("quantize", [f32((24, n))], q8("u8", (24, n), 0.031, zp_out))
    floats, _ = run_lowering(dq, [codes])
    normed, _ = run_lowering(ln, [floats, gamma, beta])
    got, _ = run_lowering(q, [normed])
    s_in, s_out = dq.operands[0].type.quant.scale[0], q.result.type.quant.scale[0]
    nodes = [helper.make_node("DequantizeLinear", ["q", "s", "z"], ["x"]),
             helper.make_node("LayerNormalization", ["x", "g", "b"], ["y"], axis=-1, epsilon=ln.attrs["epsilon"]),
             helper.make_node("QuantizeLinear", ["y", "so", "zo"], ["out"])]
    expected = ort_ref.run_nodes(nodes, {"q": codes}, {"s": np.array(s_in, F32), "z": np.array(zp_in, np.uint8),
                                                       "g": gamma, "b": beta, "so": np.array(s_out, F32),
                                                       "zo": np.array(zp_out, np.uint8)}, "out", np.uint8)
    assert_exact("dequantize -> layernorm -> quantize", got, expected)


@pytest.mark.parametrize("rows", [1, 5, 50, 197])
def test_row_statistics_take_one_acc_column(rows):
    """The mean and then the inverse std share one column of `rows` ACC rows (the mean is dead
    once x - mean is computed): a fused chain's ACC budget pays one column, not two. The
    exactness tests above run several tiles through that shared column."""
    lowering = vector_lowering(_layernorm_op(192, True, 1e-5, rows), load_config("large"))
    assert lowering.scratch_rows(rows) == (0, rows)


def test_refusals():
    op = single_op("layernorm", [f32((4, 2, 8)), f32((2, 8)), f32((2, 8))], axis=1, epsilon=float(F32(1e-5)))
    with pytest.raises(VitcError, match=r"op 'layernorm' %y.*normalizing axes 1..2: only the last axis"):
        run_lowering(op, [np.zeros((4, 2, 8), F32), np.ones((2, 8), F32), np.zeros((2, 8), F32)])
    op = single_op("layernorm", [f32((4, 6)), f32((6,)), f32((6,))], axis=1, epsilon=float(F32(1e-5)))
    with pytest.raises(VitcError, match=r"op 'layernorm' %y.*rows of 6 < 8 elements"):
        run_lowering(op, [np.zeros((4, 6), F32), np.ones(6, F32), np.zeros(6, F32)])
