"""`qsoftmax`: refused, with the instruction field it would need, because onnxruntime 1.32's
QLinearSoftmax divides in double precision and the vector unit can only divide in float32.

The kernel, per row of D codes (compiler/reference/kernels/qsoftmax.py, established against
onnxruntime over millions of rows; the steps below were re-checked here):
- T[i] = (float) exp((i - 255 + bs) * sx), bs = max(0, logf(FLT_MAX / D) - 5) / sx;
- the row maximum m maps to entry 255: element x reads T[255 - m + x] (int8 too);
- vsum = sequential float32 sum of the row's entries, from 0;
- Ys = floor(1.0f / y_scale) (float32);
- y = min(qmax, RNE(t * Ys / vsum) + zy), the quotient in float64 (t * Ys is exact there).
Everything but the last step maps onto `rowmax`, `lut` (ACC float32 table, offset 255 minus the
row max), `rowsum` and `valu`. The last step is `quant` with the row sums as per-row scales, but
`quant` rounds `f32(t * Ys)` and then `f32(x / s)` to float32 before rounding to an integer;
where the exact quotient lies within a float32 step of a half integer that gives the other code
(about one row in 10^5 random rows; test_qsoftmax.py runs such rows through this instruction
sequence on the emulator and shows it exact elsewhere).
Missing from the ISA: a `quant` whose quotient is formed in float64 from an extra float32
multiplier, e.g. field `wide=1` with an f32 immediate `mul`:
`v = f64(f64(x) * f64(mul)) / f64(s)` (the product is exact, the quotient rounded once to
float64), then clamp to [qmin - zp, qmax - zp], RNE, + zp as today.
"""

from __future__ import annotations

from compiler.codegen.vector.lowering import VectorLowering

MISSING_INSTRUCTION = (
    "onnxruntime's QLinearSoftmax rounds t * Ys / sum to an integer from a float64 quotient; `quant` "
    "rounds the product and the quotient to float32 first, which differs near half integers. It needs a "
    "`quant` mode whose quotient is formed in float64 (see compiler/codegen/vector/qsoftmax.py)"
)


class QSoftmaxLowering(VectorLowering):
    def __init__(self, op, config):
        super().__init__(op, config)
        raise self.error(MISSING_INSTRUCTION)
