"""`softmax`: onnxruntime 1.32's float32 Softmax along the last axis (MLAS, AVX-512F), step for step.

The recipe is compiler/reference/kernels/softmax.py (established against onnxruntime by
tests/compiler/reference/test_softmax.py); its constants are imported from there so the two
cannot drift. Per row, with the instruction for each step (M and R are scratch tiles, `col` one
scratch column vector, everything else happens in the output tile):
  max = row maximum                              rowmax ty=f32 -> col
  t = max(LOWER_RANGE, x - max)                  valu sub (b per row); valu max (scalar)
  M = fma(t, log2 e, 1.5 * 2^23) - 1.5 * 2^23    vfma (scalar b, c); valu sub (scalar)
  R = fma(M, ln2_lo, fma(M, ln2_hi, t))          vfma twice (scalar b, full c)
  p = poly_0; p = fma(p, R, c) for c in poly_1.. vfma (R, poly_0, poly_1); vfma (p, R, c) x 5
  e = RNE(p * 2^M)                               valu scalef (full b)
  sum = 16-lane sum with MLAS's tree             rowsum order=lanes16 -> col
  y = f32(e * f32(1 / sum))                      vunary recip; valu mul (b per row)
`x - max` equals MLAS's `x + (-max)` (IEEE subtraction is addition of the negation). Every step
is elementwise or reads a row statistic computed before it, so the output may be the input region.
Non-finite inputs are not refused on chip (the reference interpreter refuses them): quantized
models feed Softmax from DequantizeLinear, which only produces finite values.
"""

from __future__ import annotations

from compiler.codegen.vector.emitter import Emitter
from compiler.codegen.vector.lowering import VectorLowering
from compiler.reference.kernels.softmax import (
    LOG2_HIGH, LOG2_LOW, LOG2_RECIPROCAL, LOWER_RANGE, POLYNOMIAL, ROUNDING_BIAS,
)
from isa.encoding import Instruction


class SoftmaxLowering(VectorLowering):
    operand_kinds = ("tile",)

    def __init__(self, op, config):
        super().__init__(op, config)
        x = op.operands[0].type
        if op.attrs["axis"] != x.rank - 1:
            raise self.error(f"axis {op.attrs['axis']} is not the last axis: transpose it to the rows first")

    def may_write_over_its_input(self) -> bool:
        return True

    def plan_scratch(self, rows, spad, acc):
        return dict(row_stat=acc.column(rows), exponent=acc.tile(rows, self.cols),
                    reduced=acc.tile(rows, self.cols))

    def emit_tile(self, rows, inputs, output, scratch, constants, layer) -> list[Instruction]:
        out = Emitter(layer)
        x, stat, m, r = inputs[0], scratch["row_stat"], scratch["exponent"], scratch["reduced"]
        out.rowmax(x, stat, "f32")
        out.valu("sub", output, x, stat, "row")
        out.valu("max", output, output, float(LOWER_RANGE), "scalar")
        out.vfma(m, output, float(LOG2_RECIPROCAL), "scalar", float(ROUNDING_BIAS), "scalar")
        out.valu("sub", m, m, float(ROUNDING_BIAS), "scalar")
        out.vfma(r, m, float(LOG2_HIGH), "scalar", output, "full")
        out.vfma(r, m, float(LOG2_LOW), "scalar", r, "full")
        out.vfma(output, r, float(POLYNOMIAL[0]), "scalar", float(POLYNOMIAL[1]), "scalar")
        for coefficient in POLYNOMIAL[2:]:
            out.vfma(output, output, r, "full", float(coefficient), "scalar")
        out.valu("scalef", output, output, m, "full")
        out.rowsum(output, stat, order="lanes16")
        out.vunary("recip", stat, stat)
        out.valu("mul", output, output, stat, "row")
        return out.instructions
