"""`qsoftmax`: onnxruntime 1.32's QLinearSoftmax (com.microsoft, CPU) along the last axis.

The kernel, per row of D codes (compiler/reference/kernels/qsoftmax.py, established against
onnxruntime over millions of rows):
- T[i] = (float) exp((i - 255 + bs) * sx), bs = max(0, logf(FLT_MAX / D) - 5) / sx;
- the row maximum m maps to entry 255: element x reads t = T[255 - m + x] (int8 too);
- S = sequential float32 sum of the row's t, from 0;
- Ys = floor(1.0f / y_scale) (float32);
- y = min(qmax, RNE(q) + zy) with q = t * Ys / S, the quotient in float64 (t * Ys is exact).
The first steps are `rowmax`, `lut` (ACC float32 table, offset 255 minus the row max) and
`rowsum`. The vector unit divides only in float32, and `f32(f32(t * Ys) / S)` can round onto the
other side of a half integer, so RNE(q) is found with exact float32 arithmetic on tiles:
- p + ep = t * Ys exactly: p = f32(t * Ys), ep = fma(t, Ys, -p) (`vfma`);
- n = RNE(f32(p / S)), adding and subtracting 2^23; |q - f32(p / S)| < 2^-14, so RNE(q) is
  n - 1, n or n + 1, decided by the signs of t * Ys - h * S at h = n - 1/2 and h = n + 1/2;
- that sign is the sign of f32(f32(p - hs) + f32(ep - ehs)) with hs + ehs = h * S exactly
  (hs = f32(h * S), ehs = fma(h, S, -hs)): near the boundary p - hs is exact (Sterbenz) and
  ep - ehs is a small multiple of the operands' common granularity, exact as well;
- a tie (a zero difference) goes to the even integer: the difference is biased by 2^-60 towards
  the side that makes the result even when n is odd (a nonzero difference is at least about
  2^-48, because S >= 1 and t * Ys >= 1/2 wherever h >= 1/2); biased differences become 0 or 1
  by scaling by 2^100 and clamping to [0, 1];
- y = n - down + up; `quant` by 1.0 adds zy and saturates (q >= 0: only the top can clamp).
The model of these steps was checked against onnxruntime on 120k rows and on rows where the
float32 quotient is wrong (test_qsoftmax.py runs such rows on the emulator).
Rows of one element are refused (onnxruntime's t * Ys overflows float32 there).
"""

from __future__ import annotations

from compiler.codegen.vector.emitter import Emitter
from compiler.codegen.vector.lowering import ConstantBlock, VectorLowering
from compiler.reference.kernels.qsoftmax import exp_table, output_multiplier

EXP_TABLE = "exp_table"
ROUNDING = float(2 ** 23)  # x + 2^23 - 2^23 rounds 0 <= x < 2^22 to the nearest integer, ties to even
TIE_BIAS = 2.0 ** -60
SIGN_SCALE = 2.0 ** 100
TILES = ("t", "p", "ep", "n", "below", "above", "temp")


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
        if self.y_multiplier >= 2 ** 21:
            raise self.error(f"floor(1 / y_scale) = {self.y_multiplier:g} is too large to round in float32")
        self.y_zero_point = y.quant.zero_point[0]

    def constants(self) -> list[ConstantBlock]:
        return [ConstantBlock.row_vector(EXP_TABLE, exp_table(self.x_scale, self.cols))]

    def plan_scratch(self, rows, spad, acc):
        regions = dict(row_max=acc.column(rows), row_sum=acc.column(rows))
        return regions | {name: acc.tile(rows, self.cols) for name in TILES}

    def emit_tile(self, rows, inputs, output, scratch, constants, layer):
        out = Emitter(layer)
        x, row_sum = inputs[0], scratch["row_sum"]
        t, p, ep, n, below, above, temp = (scratch[name] for name in TILES)
        out.rowmax(x, scratch["row_max"], self.dtype)
        out.lut(x, t, self.dtype, constants[EXP_TABLE], offset=255, row_offsets=scratch["row_max"])
        out.rowsum(t, row_sum)
        out.valu("mul", p, t, self.y_multiplier, "scalar")
        out.vunary("neg", p, ep)
        out.vfma(ep, t, self.y_multiplier, "scalar", ep, "full")
        out.valu("div", n, p, row_sum, "row")
        _round_to_integer(out, n)
        # t is free from here on: it holds h, then the tie bias.
        _boundary_difference(out, -0.5, n, row_sum, p, ep, t, below, above)
        _boundary_difference(out, 0.5, n, row_sum, p, ep, t, above, temp)
        _odd_tie_bias(out, n, t)
        _indicator(out, below, t, "sub", -SIGN_SCALE)  # down: q < n - 1/2, or = with n odd
        _indicator(out, above, t, "add", SIGN_SCALE)   # up: q > n + 1/2, or = with n odd
        out.valu("sub", n, n, below, "full")
        out.valu("add", n, n, above, "full")
        out.quant(n, output, self.dtype, self.y_zero_point, 1.0)
        return out.instructions


def _round_to_integer(out: Emitter, tile) -> None:
    out.valu("add", tile, tile, ROUNDING, "scalar")
    out.valu("sub", tile, tile, ROUNDING, "scalar")


def _boundary_difference(out: Emitter, offset: float, n, row_sum, p, ep, h, result, scratch) -> None:
    """`result` = a float32 with the sign of t * Ys - (n + offset) * S (see the module docstring)."""
    out.valu("add", h, n, offset, "scalar")
    out.valu("mul", result, h, row_sum, "row")          # hs
    out.vunary("neg", result, scratch)
    out.vfma(scratch, h, row_sum, "row", scratch, "full")  # ehs = fma(h, S, -hs)
    out.valu("sub", result, p, result, "full")
    out.valu("sub", scratch, ep, scratch, "full")
    out.valu("add", result, result, scratch, "full")


def _odd_tie_bias(out: Emitter, n, bias) -> None:
    """`bias` = 2^-60 where n is odd, 0 where it is even (n - 2 * floor(n / 2), floor by RNE)."""
    out.valu("mul", bias, n, 0.5, "scalar")
    out.valu("sub", bias, bias, 0.25, "scalar")
    _round_to_integer(out, bias)
    out.valu("mul", bias, bias, 2.0, "scalar")
    out.valu("sub", bias, n, bias, "full")
    out.valu("mul", bias, bias, TIE_BIAS, "scalar")


def _indicator(out: Emitter, difference, bias, combine: str, scale: float) -> None:
    """difference := 1 where (difference combine bias) * scale > 0, else 0."""
    out.valu(combine, difference, difference, bias, "full")
    out.valu("mul", difference, difference, scale, "scalar")
    out.valu("max", difference, difference, 0.0, "scalar")
    out.valu("min", difference, difference, 1.0, "scalar")
