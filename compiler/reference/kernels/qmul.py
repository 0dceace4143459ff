"""QLinearMul: onnxruntime's kernel (MLAS qlmul.cpp, SSE2 path) and the float DQ -> Mul -> Q path.

Established by tests against onnxruntime 1.32 (tests/compiler/reference/test_qmul.py, exhaustive
over all code pairs, uint8 and int8, plus parameter sets where the candidates disagree):
- `r = f32(f32(sa*sb)/sc)`; `c = sat(RNE(f32(f32(f32((a-za)(b-zb)) * r) + f32(zc))))`: the
  product is rounded to float32 before zc is added in float32 (no FMA: an FMA here is wrong on
  parameter sets where it matters), and zc is added before rounding (adding it to the rounded
  integer is wrong in ties). The kernel is symmetric in a and b, so broadcasting needs no care.
- float path: `Q(f32(DQ(a) * DQ(b)))` with onnxruntime's QuantizeLinear.
"""

from __future__ import annotations

import numpy as np

from compiler.reference.kernels.qadd import saturate_rounded
from compiler.reference.kernels.quantize import dequantize_linear, quantize_linear

F32 = np.float32


def qlinear_mul(a, a_zero_point: int, b, b_zero_point: int, multiplier, c_zero_point: int, dtype) -> np.ndarray:
    product = ((np.asarray(a).astype(np.int32) - a_zero_point) * (np.asarray(b).astype(np.int32) - b_zero_point))
    scaled = (product.astype(F32) * F32(multiplier)).astype(F32)
    return saturate_rounded((scaled + F32(c_zero_point)).astype(F32), dtype)


def float_path_mul(a, a_quant, b, b_quant, c_quant, dtype) -> np.ndarray:
    """DQ -> float32 Mul -> QuantizeLinear; each `*_quant` is (scale, zero_point), per tensor."""
    product = (dequantize_linear(a, *a_quant) * dequantize_linear(b, *b_quant)).astype(F32)
    return quantize_linear(product, *c_quant, dtype)
