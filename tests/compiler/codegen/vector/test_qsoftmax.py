"""qsoftmax lowering against onnxruntime's QLinearSoftmax: rows of 197, 17, 18 and 3, int8 and
uint8, output scales 1/256, 1/255 and 1/300, nonzero output zero points, random and adversarial
rows (constant rows, one dominant code, near-ties at the top, many equal maxima); rows whose
exact quotient lies within a float32 step of a half integer (found by search), where the short
float32 sequence (rowmax, lut, rowsum, valu mul by Ys, quant by the row sums; also run here)
misses a code and the lowering (its `quant wide=1`) must not; the four-instruction tile; and
the refusals."""

import numpy as np
import pytest

from compiler.codegen.vector.emitter import Emitter
from compiler.codegen.vector.lowering import ConstantBlock, VectorLowering
from compiler.reference.kernels.qsoftmax import exp_table, output_multiplier
from isa.errors import VitcError
from tests.compiler.codegen.vector import onnxruntime_reference as ort_ref
from tests.compiler.codegen.vector.harness import assert_exact, run_lowering
from tests.compiler.codegen.vector.ir_ops import q8, single_op

NP = {"u8": np.uint8, "i8": np.int8}


class Float32QuotientSoftmax(VectorLowering):
    """The short sequence: q = f32(f32(T * Ys) / sum), rounded by `quant`."""

    operand_kinds = ("tile",)

    def constants(self):
        return [ConstantBlock.row_vector("exp", exp_table(self.op.operands[0].type.quant.scale[0], self.cols))]

    def plan_scratch(self, rows, spad, acc):
        return dict(row_max=acc.column(rows), row_sum=acc.column(rows), exp=acc.tile(rows, self.cols))

    def emit_tile(self, rows, inputs, output, scratch, constants, layer):
        out, x, exp = Emitter(layer), inputs[0], scratch["exp"]
        dtype, y = self.op.operands[0].type.dtype, self.op.result.type.quant
        out.rowmax(x, scratch["row_max"], dtype)
        out.lut(x, exp, dtype, constants["exp"], offset=255, row_offsets=scratch["row_max"])
        out.rowsum(exp, scratch["row_sum"])
        out.valu("mul", exp, exp, float(output_multiplier(y.scale[0])), "scalar")
        out.quant(exp, output, dtype, y.zero_point[0], row_scales=scratch["row_sum"])
        return out.instructions


def _run(x, x_scale, y_scale, y_zero, lowering_class=None, config="default"):
    dtype = {np.dtype(np.uint8): "u8", np.dtype(np.int8): "i8"}[x.dtype]
    op = single_op("qsoftmax", [q8(dtype, x.shape, x_scale, 0)], q8(dtype, x.shape, y_scale, y_zero), axis=x.ndim - 1)
    got, _ = run_lowering(op, [x], config, max_tile_rows=5, lowering_class=lowering_class)
    x_q, y_q = op.operands[0].type.quant, op.result.type.quant
    return got, ort_ref.qlinear_softmax(x, (x_q.scale[0], 0), (y_q.scale[0], y_zero))


def _rows(rng, dtype, rows, length):
    info = np.iinfo(NP[dtype])
    x = rng.integers(info.min, info.max + 1, (rows, length)).astype(NP[dtype])
    x[0] = info.min                                          # a constant row
    x[1] = info.min
    x[1, length // 2] = info.max                             # one dominant code: int8 saturates at 127
    x[2] = rng.integers(info.max - 3, info.max + 1, length)  # near-ties at the top
    x[3, ::2] = info.max                                     # many equal maxima
    return x


@pytest.mark.parametrize("dtype", ["u8", "i8"])
@pytest.mark.parametrize("length", [197, 17, 18, 3])
@pytest.mark.parametrize("y_scale, y_zero_offset, x_scale", [(1 / 256, 0, 0.05), (1 / 255, 0, 0.0009),
                                                             (1 / 255, 3, 0.2), (1 / 300, 0, 0.013)])
def test_against_onnxruntime(dtype, length, y_scale, y_zero_offset, x_scale):
    rng = np.random.default_rng(length * 7 + (dtype == "i8"))
    x = _rows(rng, dtype, 24, length)
    got, expected = _run(x, x_scale, y_scale, int(np.iinfo(NP[dtype]).min) + y_zero_offset)
    assert_exact(f"qsoftmax {dtype} D={length} ys={y_scale:.6f}", got, expected)


def test_attention_shaped_input_on_the_large_configuration():
    x = np.random.default_rng(3).integers(0, 256, (1, 3, 17, 17)).astype(np.uint8)
    got, expected = _run(x, 0.001, 1 / 255, 0, config="large")
    assert_exact("qsoftmax 1x3x17x17 on large", got, expected)


# (row length, x scale, y scale, dtype, seed, row): a row of 2000 random ones (found by search)
# whose exact quotient lies within a float32 step of a half integer for some element.
NEAR_HALF_INTEGER = [(17, 0.05, 1 / 255, "u8", 87, 1203), (197, 0.05, 1 / 256, "u8", 155, 1680),
                     (17, 0.05, 1 / 256, "i8", 50, 1919), (197, 0.02, 1 / 255, "i8", 3, 33)]


@pytest.mark.parametrize("length, x_scale, y_scale, dtype, seed, row", NEAR_HALF_INTEGER, ids=str)
def test_near_half_integers(length, x_scale, y_scale, dtype, seed, row):
    info = np.iinfo(NP[dtype])
    rows = np.random.default_rng(seed).integers(info.min, info.max + 1, (2000, length)).astype(NP[dtype])
    x = rows[row:row + 1]
    got, expected = _run(x, x_scale, y_scale, int(info.min))
    assert_exact(f"qsoftmax near a half integer D={length}", got, expected)
    short, _ = _run(x, x_scale, y_scale, int(info.min), Float32QuotientSoftmax)
    assert (short != expected).any(), "the short float32 sequence should miss a code of this row"


def test_refusals():
    op = single_op("qsoftmax", [q8("u8", (4, 8), 0.1, 128)], q8("u8", (4, 8), 1 / 256, 0), axis=0)
    with pytest.raises(VitcError, match=r"op 'qsoftmax' %y.*axis 0 is not the last axis"):
        run_lowering(op, [np.zeros((4, 8), np.uint8)])
    op = single_op("qsoftmax", [q8("u8", (4, 1), 0.1, 128)], q8("u8", (4, 1), 1 / 256, 0), axis=1)
    with pytest.raises(VitcError, match=r"op 'qsoftmax' %y.*softmax over one element"):
        run_lowering(op, [np.zeros((4, 1), np.uint8)])


def test_a_tile_is_four_instructions_with_the_float64_quotient():
    x = np.random.default_rng(5).integers(0, 256, (6, 197)).astype(np.uint8)
    _, instructions = run_lowering(single_op("qsoftmax", [q8("u8", x.shape, 0.05, 0)], q8("u8", x.shape, 1 / 255, 0), axis=1),
                                   [x], max_tile_rows=6)
    vector = [i for i in instructions if i.mnemonic not in ("dma.load", "dma.store", "halt")]
    assert [i.mnemonic for i in vector] == ["rowmax", "lut", "rowsum", "quant"]
    quant = vector[-1].fields
    assert (quant["wide"], quant["mul"], quant["pr"], quant["s_addr"]) == (1, 254.0, 1, vector[2].fields["dst"])
