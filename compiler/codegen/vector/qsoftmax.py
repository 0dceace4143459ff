"""`qsoftmax`: onnxruntime 1.32's QLinearSoftmax (com.microsoft, CPU) along the last axis.

The kernel, per row of D codes (compiler/reference/kernels/qsoftmax.py, established against
onnxruntime over millions of rows):
- T[i] = (float) exp((i - 255 + bs) * sx), bs = max(0, logf(FLT_MAX / D) - 5) / sx;
- the row maximum m maps to entry 255: element x reads t = T[255 - m + x] (int8 too);
- S = sequential float32 sum of the row's t, from 0;
- Ys = floor(1.0f / y_scale) (float32);
- y = min(qmax, RNE(q) + zy) with q = t * Ys / S, the quotient in float64 (t * Ys is exact).
The tile is four instructions: `rowmax`; `lut` (ACC float32 table, offset 255 minus the row max)
gives t; `rowsum` (sequential float32) gives S; `quant wide=1, mul=Ys, pr=1` with S as the per-row
scale computes the float64 quotient t * Ys / S, rounds it once (RNE), adds zy and saturates
(q >= 0: only the top can clamp). The float32 `quant` (`f32(t * Ys)`, then a float32 division)
is not enough: its quotient can round onto the other side of a half integer, and
test_qsoftmax.py runs rows where it does.
Rows of one element are refused (onnxruntime's t * Ys overflows float32 there).
"""

from __future__ import annotations

from compiler.codegen.vector.emitter import Emitter
from compiler.codegen.vector.lowering import ConstantBlock, VectorLowering
from compiler.reference.kernels.qsoftmax import exp_table, output_multiplier
from isa.encoding import Instruction

EXP_TABLE = "exp_table"


class QSoftmaxLowering(VectorLowering):
    operand_kinds = ("tile",)

    def __init__(self, op, config):
        super().__init__(op, config)
        x, y = op.operands[0].type, op.result.type
        if op.attrs["axis"] != x.rank - 1:
            raise self.error(f"axis {op.attrs['axis']} is not the last axis: transpose it to the rows first")
        if self.cols < 2:
            raise self.error("a softmax over one element is not supported (onnxruntime's t * Ys overflows)")
        self.dtype = x.dtype
        self.x_scale = x.quant.scale[0]
        self.y_multiplier = float(output_multiplier(y.quant.scale[0]))
        self.y_zero_point = y.quant.zero_point[0]

    def constants(self) -> list[ConstantBlock]:
        return [ConstantBlock.row_vector(EXP_TABLE, exp_table(self.x_scale, self.cols))]

    def plan_scratch(self, rows, spad, acc):
        return dict(row_max=acc.column(rows), row_sum=acc.column(rows), t=acc.tile(rows, self.cols))

    def emit_tile(self, rows, inputs, output, scratch, constants, layer):
        out = Emitter(layer)
        x, t, row_sum = inputs[0], scratch["t"], scratch["row_sum"]
        out.rowmax(x, scratch["row_max"], self.dtype)
        out.lut(x, t, self.dtype, constants[EXP_TABLE], offset=255, row_offsets=scratch["row_max"])
        out.rowsum(t, row_sum)
        out.quant(t, output, self.dtype, self.y_zero_point, row_scales=row_sum)
        _widen_last_quant(out, self.y_multiplier)
        return out.instructions


def _widen_last_quant(out: Emitter, multiplier: float) -> None:
    """Turn the `quant` just emitted into its float64-quotient form `wide=1, mul=multiplier`.
    (The Emitter, owned by the backend, has no parameter for it yet; its region checks still ran.)"""
    last = out.instructions[-1]
    out.instructions[-1] = Instruction(last.mnemonic, {**last.fields, "wide": 1, "mul": multiplier})
