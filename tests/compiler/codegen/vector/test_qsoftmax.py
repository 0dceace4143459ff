"""qsoftmax: the lowering refuses (see compiler/codegen/vector/qsoftmax.py). The evidence: the
instruction sequence the current ISA allows (rowmax, lut into ACC, sequential rowsum, valu mul
by Ys, quant by the row sums) is run on the emulator and compared with onnxruntime. It is exact
on ordinary rows of 197 and 17, int8 and uint8, both output scales, but not on the rows where
the exact quotient lies within a float32 step of a half integer, where onnxruntime's float64
quotient decides."""

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
    """The closest sequence the current instructions express: q = f32(f32(T * Ys) / sum)."""

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


def _run(x, x_scale, y_scale, y_zero):
    dtype = {np.dtype(np.uint8): "u8", np.dtype(np.int8): "i8"}[x.dtype]
    op = single_op("qsoftmax", [q8(dtype, x.shape, x_scale, 0)], q8(dtype, x.shape, y_scale, y_zero), axis=x.ndim - 1)
    got, _ = run_lowering(op, [x], max_tile_rows=10, lowering_class=Float32QuotientSoftmax)
    x_q, y_q = op.operands[0].type.quant, op.result.type.quant
    return got, ort_ref.qlinear_softmax(x, (x_q.scale[0], 0), (y_q.scale[0], y_zero))


def test_lowering_refuses_and_names_the_missing_quant_mode():
    op = single_op("qsoftmax", [q8("u8", (4, 17), 0.1, 0)], q8("u8", (4, 17), 1 / 255, 0), axis=1)
    with pytest.raises(VitcError, match=r"op 'qsoftmax' %y.*float64 quotient.*`quant` mode"):
        run_lowering(op, [np.zeros((4, 17), np.uint8)])


@pytest.mark.parametrize("dtype", ["u8", "i8"])
@pytest.mark.parametrize("length", [197, 17])
@pytest.mark.parametrize("y_scale", [1 / 256, 1 / 255])
def test_float32_sequence_is_exact_on_ordinary_rows(dtype, length, y_scale):
    rng = np.random.default_rng(length + (dtype == "i8"))
    info = np.iinfo(NP[dtype])
    x = rng.integers(info.min, info.max + 1, (24, length)).astype(NP[dtype])
    x[0] = info.min
    x[1] = info.min
    x[1, length // 2] = info.max  # one dominant element: int8 saturates at 127
    got, expected = _run(x, 0.05, y_scale, int(info.min))
    assert_exact(f"float32-quotient qsoftmax {dtype} D={length}", got, expected)


# (row length, x scale, y scale, dtype, seed, row): a row of 2000 random ones (found by search)
# whose exact quotient lies within a float32 step of a half integer for one element.
NEAR_HALF_INTEGER = [(17, 0.05, 1 / 255, "u8", 87, 1203), (197, 0.05, 1 / 256, "u8", 155, 1680),
                     (17, 0.05, 1 / 256, "i8", 50, 1919), (197, 0.02, 1 / 255, "i8", 3, 33)]


@pytest.mark.parametrize("length, x_scale, y_scale, dtype, seed, row", NEAR_HALF_INTEGER, ids=str)
def test_float32_sequence_is_wrong_near_half_integers(length, x_scale, y_scale, dtype, seed, row):
    info = np.iinfo(NP[dtype])
    rows = np.random.default_rng(seed).integers(info.min, info.max + 1, (2000, length)).astype(NP[dtype])
    got, expected = _run(rows[row:row + 1], x_scale, y_scale, int(info.min))
    assert (got != expected).any(), "the float32 quotient should miss a code of this row"
