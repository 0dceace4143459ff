"""`layernorm`: refused, with the instructions it would need, because onnxruntime 1.32's CPU
LayerNormalization cannot be reproduced exactly by the current vector instructions.

What onnxruntime 1.32 (x86-64 wheel) computes per row of N float32 values, established bit for
bit by tests/compiler/codegen/vector/test_layernorm.py (N = 64, 192, 768; four distributions;
two epsilons) and contradicting the sequential-float32 recipe in ../shared/NUMERICS.md:
  mean = f32(sum(x) / N), the sum and the division in float64
  d = f32(x - mean)
  acc[l] = fma(d[c], d[c], acc[l]) for c = l, l + 8, l + 16, ... (8 float32 lanes, from 0)
  var = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]))
  inv_std = f32(1 / sqrt(f32(f32(var / N) + epsilon)))
  y = fma(f32(d * inv_std), gamma, beta)
Missing from the ISA (everything else maps onto `valu` / `vunary`):
  1. a float64-accumulating row sum whose result is divided in float64 before the one rounding
     (e.g. `rowsum` field `f64=1` and an f32 immediate divisor: `f32(sum_f64(x) / div)`);
  2. the 8-lane FMA sum of squares with the halving tree above (e.g. `rowsum` field
     `lanes=8`: lane l accumulates columns c = l mod 8 with one fma each; cols % 8 == 0);
  3. a fused multiply-add (e.g. `valu` op `fma`: `dst = fma(a, b, c)` with b per `bmode` and c
     an ACC row vector), for `fma(d * inv_std, gamma, beta)`.
Approximating (sequential float32 sums, separate multiply and add) differs from onnxruntime in
most rows by one ulp, so this lowering refuses rather than guess.
"""

from __future__ import annotations

from compiler.codegen.vector.lowering import VectorLowering

MISSING_INSTRUCTIONS = (
    "onnxruntime's LayerNormalization needs instructions the ISA does not have: a float64-accumulating "
    "row sum divided in float64 (the mean), an 8-lane FMA sum of squares with a halving tree (the "
    "variance), and a fused multiply-add (y = fma(d * inv_std, gamma, beta)); see "
    "compiler/codegen/vector/layernorm.py"
)


class LayerNormLowering(VectorLowering):
    def __init__(self, op, config):
        super().__init__(op, config)
        raise self.error(MISSING_INSTRUCTIONS)
