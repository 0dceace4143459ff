"""`layernorm`: onnxruntime 1.32's CPU LayerNormalization over the last axis, step for step.

onnxruntime hands rows of N >= 8 floats to MLAS's AVX2 kernel (compiler/reference/kernels/
layernorm.py; tests/compiler/codegen/vector/test_layernorm.py re-checks the recipe against
onnxruntime for N = 64, 192, 768). Per row, with the instruction for each step:
  mean = f32(sum_f64(x) / N)            rowsum order=f64x4, div=N  (4 float64 lanes)
  d = f32(x - mean)                     valu sub, b per row
  v = f32(var / N), var = sum fma(d, d)  rowsum order=lanes8, sq=1, div=N  (8 fma lanes)
  inv = f32(1 / f32(sqrt(f32(v + eps))))  valu add eps; vunary sqrt; vunary recip
  t = f32(d * inv)                      valu mul, b per row
  y = fma(t, gamma, beta)               vfma, b and c per column  (no beta: valu mul by gamma)
d, t and y live in the output region, so the output may be the input region (every step is
elementwise or reads only row statistics computed before it). The mean is dead once d is
computed, so v and then inv take its column: the scratch is one column vector, `rows` ACC rows
(a second column would cost a fused chain's matmul output tile rows: with bias rows on chip,
deit-tiny's 50-row attention-output tiles on `large` did not fit with two). Rows shorter than
8 go to a scalar fallback in onnxruntime that is not reproduced: refused.
"""

from __future__ import annotations

import numpy as np

from compiler.codegen.vector.emitter import Emitter
from compiler.codegen.vector.lowering import VectorLowering

MIN_ROW = 8


class LayerNormLowering(VectorLowering):
    def __init__(self, op, config):
        super().__init__(op, config)
        x = op.operands[0].type
        if op.attrs["axis"] != x.rank - 1:
            raise self.error(f"normalizing axes {op.attrs['axis']}..{x.rank - 1}: only the last axis is supported")
        if self.cols < MIN_ROW:
            raise self.error(f"rows of {self.cols} < {MIN_ROW} elements take onnxruntime's scalar fallback, "
                             f"which is not reproduced")
        self.operand_kinds = ("tile",) + ("row",) * (len(op.operands) - 1)
        self.epsilon = op.attrs["epsilon"]
        self.count = float(np.float32(self.cols))

    def may_write_over_its_input(self) -> bool:
        return True

    def plan_scratch(self, rows, spad, acc):
        return dict(row_stats=acc.column(rows))

    def emit_tile(self, rows, inputs, output, scratch, constants, layer):
        out = Emitter(layer)
        x, gamma = inputs[0], inputs[1]
        mean = inv_std = scratch["row_stats"]  # the mean's last reader comes before the variance is written
        out.rowsum(x, mean, order="f64x4", divisor=self.count)
        out.valu("sub", output, x, mean, "row")
        out.rowsum(output, inv_std, squares=True, order="lanes8", divisor=self.count)
        out.valu("add", inv_std, inv_std, self.epsilon, "scalar")
        out.vunary("sqrt", inv_std, inv_std)
        out.vunary("recip", inv_std, inv_std)
        out.valu("mul", output, output, inv_std, "row")
        if len(inputs) > 2:
            out.vfma(output, output, gamma, "col", inputs[2], "col")
        else:
            out.valu("mul", output, output, gamma, "col")
        return out.instructions
