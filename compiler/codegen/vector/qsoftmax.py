"""`qsoftmax`: onnxruntime's QLinearSoftmax (com.microsoft, CPU) along the last axis.

The kernel, per row of D codes (read from onnxruntime's qlinear_softmax.cc):
- T[i] = (float) exp((i - 255 + bs) * sx) in double, bs = max(0, logf(FLT_MAX / D) - 5) / sx:
  `FLT_MAX / D` is a float32 division, its log is the float32 (correctly rounded) logf, the
  shift and exp are double (established against onnxruntime: the double log, or numpy's float32
  log, each miss about one row in 4000 for some D, see test_qsoftmax.py);
- the row maximum m maps to entry 255: element x reads T[255 - m + x] (int8: the kernel's
  rotated table indexed by (127 - m + x) & 0xFF is the same entry);
- vsum = sequential float32 sum of the row's entries, from 0;
- Ys = floor(1.0f / y_scale) (float32); q = f32(f32(T * Ys) / vsum);
- y = nearbyint(q) + zy, saturated to the output type. (The source read casts an int8 value
  above 127 to int8, which would wrap; onnxruntime 1.32 as shipped saturates to 127 instead,
  see tests/compiler/codegen/vector/test_qsoftmax.py, and the test wins.)

Instructions: `rowmax` -> `lut` (ACC float32 table, offset 255 minus the row max) -> `rowsum`
-> `valu mul` by Ys -> `quant` with the row sums as per-row scales: `quant` divides (a true
division, as the kernel does), then clamps, rounds to nearest even and adds zy, which is the
kernel's nearbyint, + zy and saturation (q >= 0, so only the upper clamp can act).
"""

from __future__ import annotations

import math

import numpy as np

from compiler.codegen.vector.emitter import Emitter
from compiler.codegen.vector.lowering import ConstantBlock, VectorLowering

EXP_TABLE = "exp_table"
FLT_MAX = float(np.finfo(np.float32).max)


def softmax_exp_table(x_scale: float, row_length: int) -> np.ndarray:
    """The kernel's 256 float32 entries T[i] (uint8 order), computed as its C code does."""
    ratio = float(np.float32(FLT_MAX) / np.float32(row_length))
    log_ratio = float(np.float32(math.log(ratio)))  # logf: the double log rounded once to float32
    shift = max(0.0, log_ratio - 5.0) / float(np.float32(x_scale))
    scale = float(np.float32(x_scale))
    return np.array([math.exp((i - 255 + shift) * scale) for i in range(256)], dtype=np.float64).astype(np.float32)


def output_multiplier(y_scale: float) -> float:
    """Ys = floor(1.0f / y_scale), the division in float32."""
    return float(np.floor(np.float32(1.0) / np.float32(y_scale)))


class QSoftmaxLowering(VectorLowering):
    operand_kinds = ("tile",)

    def __init__(self, op, config):
        super().__init__(op, config)
        x, y = op.operands[0].type, op.result.type
        if op.attrs["axis"] != x.rank - 1:
            raise self.error(f"axis {op.attrs['axis']} is not the last axis: transpose it to the rows first")
        self.x_scale = x.quant.scale[0]
        self.y_multiplier = output_multiplier(y.quant.scale[0])
        self.y_zero_point = y.quant.zero_point[0]
        self.dtype = x.dtype

    def constants(self) -> list[ConstantBlock]:
        return [ConstantBlock.row_vector(EXP_TABLE, softmax_exp_table(self.x_scale, self.cols))]

    def plan_scratch(self, rows, spad, acc):
        return dict(row_max=acc.column(rows), row_sum=acc.column(rows), exp=acc.tile(rows, self.cols))

    def emit_tile(self, rows, inputs, output, scratch, constants, layer):
        out = Emitter(layer)
        x, exp, row_sum = inputs[0], scratch["exp"], scratch["row_sum"]
        out.rowmax(x, scratch["row_max"], self.dtype)
        out.lut(x, exp, self.dtype, constants[EXP_TABLE], offset=255, row_offsets=scratch["row_max"])
        out.rowsum(exp, row_sum)
        out.valu("mul", exp, exp, self.y_multiplier, "scalar")
        out.quant(exp, output, self.dtype, self.y_zero_point, row_scales=row_sum)
        return out.instructions
