"""qsoftmax lowering against onnxruntime's QLinearSoftmax (com.microsoft, opset-13 semantics,
last axis): rows of 197 and 17 (and 18), int8 and uint8, output scales 1/256 and 1/255, random
and adversarial rows (constant rows, one dominant code, the extreme codes, all equal maxima)."""

import numpy as np
import pytest

from compiler.codegen.vector.qsoftmax import output_multiplier, softmax_exp_table
from isa.errors import VitcError
from tests.compiler.codegen.vector import onnxruntime_reference as ort_ref
from tests.compiler.codegen.vector.harness import assert_exact, run_lowering
from tests.compiler.codegen.vector.ir_ops import q8, single_op

NP = {"u8": np.uint8, "i8": np.int8}


def _rows(rng, dtype, rows, length):
    info = np.iinfo(NP[dtype])
    x = rng.integers(info.min, info.max + 1, (rows, length)).astype(NP[dtype])
    x[0] = info.min                                   # constant row at the bottom
    x[1] = info.max                                   # constant row at the top
    x[2] = info.min; x[2, length // 2] = info.max     # one dominant element
    x[3] = rng.integers(info.max - 3, info.max + 1, length)  # near-ties at the top
    x[4, ::2] = info.max                              # many equal maxima
    return x


@pytest.mark.parametrize("dtype", ["u8", "i8"])
@pytest.mark.parametrize("length", [197, 17, 18])
@pytest.mark.parametrize("y_scale, x_scale", [(1 / 256, 0.05), (1 / 255, 0.0009), (1 / 255, 0.2)])
def test_against_onnxruntime(dtype, length, y_scale, x_scale):
    rng = np.random.default_rng(length * 7 + (dtype == "i8"))
    x = _rows(rng, dtype, 24, length)
    x_zero = 120 if dtype == "u8" else -5
    y_zero = 0 if dtype == "u8" else -128
    op = single_op("qsoftmax", [q8(dtype, x.shape, x_scale, x_zero)], q8(dtype, x.shape, y_scale, y_zero), axis=1)
    got, _ = run_lowering(op, [x], max_tile_rows=10)
    expected = ort_ref.qlinear_softmax(x, op.operands[0].type.quant.scale + (x_zero,),
                                       op.result.type.quant.scale + (y_zero,))
    assert_exact(f"qsoftmax {dtype} D={length} ys={y_scale:.6f}", got, expected)


def test_attention_shaped_input():
    """A (1, 3, 17, 17) attention-probability tensor: leading axes flatten into rows."""
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (1, 3, 17, 17)).astype(np.uint8)
    op = single_op("qsoftmax", [q8("u8", x.shape, 0.001, 127)], q8("u8", x.shape, 1 / 255, 0), axis=3)
    got, _ = run_lowering(op, [x])
    expected = ort_ref.qlinear_softmax(x, (op.operands[0].type.quant.scale[0], 127), (op.result.type.quant.scale[0], 0))
    assert_exact("qsoftmax 1x3x17x17", got, expected)


def test_non_last_axis_is_refused():
    op = single_op("qsoftmax", [q8("u8", (4, 8), 0.1, 128)], q8("u8", (4, 8), 1 / 256, 0), axis=0)
    with pytest.raises(VitcError, match=r"qsoftmax.*axis 0 is not the last axis"):
        run_lowering(op, [np.zeros((4, 8), np.uint8)])


def test_instruction_recipe():
    """Per tile: rowmax, lut into ACC, sequential rowsum, multiply by floor(1/ys), quant by row sums."""
    op = single_op("qsoftmax", [q8("u8", (4, 197), 0.1, 128)], q8("u8", (4, 197), 1 / 255, 0), axis=1)
    _, instructions = run_lowering(op, [np.zeros((4, 197), np.uint8)])
    assert [i.mnemonic for i in instructions] == ["rowmax", "lut", "rowsum", "valu", "quant"]
    assert instructions[3].fields["imm"] == int(np.array([254.0], np.float32).view(np.uint32)[0])


@pytest.mark.parametrize("length, x_scale, seed", [(64, 0.0011, 15), (33, 0.0011, 5), (67, 0.0009, 0)])
def test_exp_table_on_many_rows(length, x_scale, seed):
    """The table constant, through a numpy model of the kernel's steps, on 4000 random rows. The
    seeds are ones where a double log (64, 33) or numpy's float32 log (67) instead of the
    correctly rounded logf changes a code; such rows are about one in 4000, too rare for the
    emulator runs above."""
    x = np.random.default_rng(seed).integers(0, 256, (4000, length)).astype(np.uint8)
    table = softmax_exp_table(x_scale, length)
    entries = table[255 - x.max(axis=1, keepdims=True).astype(np.int64) + x]
    row_sums = np.add.accumulate(entries, axis=1, dtype=np.float32)[:, -1:]
    scaled = (entries * np.float32(output_multiplier(1 / 255))).astype(np.float32)
    codes = np.clip(np.rint(scaled / row_sums), 0, 255).astype(np.uint8)
    x_scale32 = float(np.float32(x_scale))
    expected = ort_ref.qlinear_softmax(x, (x_scale32, 128), (float(np.float32(1 / 255)), 0))
    assert_exact(f"qsoftmax model D={length}", codes, expected)
