"""quantize, dequantize and table lowerings: quantize/dequantize against onnxruntime's
QuantizeLinear / DequantizeLinear (random, exact ties, saturation, infinities), table against
numpy indexing by the code's byte (the IR's definition)."""

import numpy as np
import pytest

from isa.errors import VitcError
from tests.compiler.codegen.vector import onnxruntime_reference as ort_ref
from tests.compiler.codegen.vector.harness import assert_exact, run_lowering
from tests.compiler.codegen.vector.ir_ops import f32, q8, single_op

NP = {"u8": np.uint8, "i8": np.int8}


def _float_input(rng, scale: float) -> np.ndarray:
    """Random values plus exact halfway cases (k + 0.5) * scale, saturating and infinite values."""
    x = (rng.standard_normal((21, 70)) * 60 * scale).astype(np.float32)
    s = np.float32(scale)
    x[0] = (np.arange(70, dtype=np.float32) - 35 + np.float32(0.5)) * s
    x[1, :4] = [np.inf, -np.inf, 1e30, -1e30]
    x[1, 4:8] = [0.0, -0.0, s * np.float32(127.5), s * np.float32(-128.5)]
    return x


@pytest.mark.parametrize("dtype, zero_point", [("u8", 128), ("u8", 0), ("i8", 0), ("i8", -17)])
def test_quantize_against_onnxruntime(dtype, zero_point):
    rng = np.random.default_rng(zero_point + 200)
    x = _float_input(rng, 0.0173)
    op = single_op("quantize", [f32(x.shape)], q8(dtype, x.shape, 0.0173, zero_point))
    got, instructions = run_lowering(op, [x], max_tile_rows=8)
    scale = op.result.type.quant.scale[0]
    assert_exact(f"quantize {dtype} zp={zero_point}", got, ort_ref.quantize_linear(x, scale, zero_point, NP[dtype]))
    assert [i.mnemonic for i in instructions] == ["quant"] * 3


@pytest.mark.parametrize("dtype, zero_point", [("u8", 131), ("i8", -3)])
def test_dequantize_against_onnxruntime(dtype, zero_point):
    info = np.iinfo(NP[dtype])
    q = np.tile(np.arange(info.min, info.max + 1, dtype=NP[dtype]), 3).reshape(3 * 8, 32)
    op = single_op("dequantize", [q8(dtype, q.shape, 0.0219, zero_point)])
    got, _ = run_lowering(op, [q])
    scale = op.operands[0].type.quant.scale[0]
    assert_exact(f"dequantize {dtype}", got, ort_ref.dequantize_linear(q, scale, zero_point))


def test_per_axis_quantization_is_refused():
    from compiler.ir.types import Quant, TensorType
    q = TensorType("i8", (4, 3), Quant(tuple(float(np.float32(s)) for s in (0.1, 0.2, 0.3)), (0, 0, 0), axis=1))
    op = single_op("dequantize", [q])
    with pytest.raises(VitcError, match=r"op 'dequantize' %y.*per-tensor"):
        run_lowering(op, [np.zeros((4, 3), np.int8)])


@pytest.mark.parametrize("in_dtype, out_dtype", [("u8", "u8"), ("i8", "u8"), ("i8", "i8"), ("u8", "i8")])
def test_table_against_numpy(in_dtype, out_dtype):
    rng = np.random.default_rng(11)
    table = rng.integers(0, 256, 256).astype(np.uint8).view(NP[out_dtype])
    info = np.iinfo(NP[in_dtype])
    x = np.concatenate([np.arange(info.min, info.max + 1), rng.integers(info.min, info.max + 1, 4 * 128 - 256)])
    x = x.astype(NP[in_dtype]).reshape(4, 128)
    op = single_op("table", [q8(in_dtype, x.shape, 0.05, 0)], q8(out_dtype, x.shape, 0.02, 0), table=table)
    got, _ = run_lowering(op, [x], max_tile_rows=3)
    assert_exact(f"table {in_dtype}->{out_dtype}", got, table[x.view(np.uint8)])
