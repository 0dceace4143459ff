"""QLinearAdd: onnxruntime's kernel (MLAS, AVX2 path on this CPU) and the float DQ -> Add -> Q path.

Established by tests against onnxruntime 1.32 (tests/compiler/reference/test_qadd.py, exhaustive
over all 65536 code pairs for many scale/zero-point sets, uint8 and int8):
- kernel: `c = sat(RNE(fma(a, rA, fma(b, rB, fixed))))` with `rA = f32(sa/sc)`,
  `rB = f32(sb/sc)` and `fixed = f32(zc) - fma(rA, za, f32(rB*zb))`: MLAS's C expression
  `zc - (rA*za + rB*zb)` is compiled with FMA contraction. The uncontracted `fixed`
  (NUMERICS.md) is wrong in a few codes per million; the naive DQ-add-Q formula too.
- broadcasting: when `a` is the scalar of its inner span (`broadcast.first_operand_is_span_scalar`),
  onnxruntime calls the kernel with the operands swapped: `fma(b, rB, fma(a, rA, fixed'))` with
  `fixed' = f32(zc) - fma(rB, zb, f32(rA*za))`. The IR's `fixed` is for the unswapped order, so
  `fixed'` is derived here from `ra`, `rb` and the zero points, in the kernel's own way.
- float path: `Q(f32(DQ(a) + DQ(b)))` with onnxruntime's QuantizeLinear.
"""

from __future__ import annotations

import numpy as np

from compiler.reference.kernels.broadcast import first_operand_is_span_scalar
from compiler.reference.kernels.fp32 import fma
from compiler.reference.kernels.quantize import dequantize_linear, quantize_linear

F32 = np.float32


def saturate_rounded(v: np.ndarray, dtype) -> np.ndarray:
    """RNE to int32, then saturate to the 8-bit type (the kernels' cvtps + pack with saturation)."""
    info = np.iinfo(dtype)
    return np.clip(np.rint(v), info.min, info.max).astype(dtype)


def fixed_term(r_first, z_first: int, r_second, z_second: int, zc: int) -> F32:
    """MLAS's `f32(zc) - (r1*z1 + r2*z2)` as compiled: `f32(zc) - fma(r1, z1, f32(r2*z2))`."""
    second = F32(r_second) * F32(z_second)
    return F32(F32(zc) - fma(F32(r_first), F32(z_first), second))


def qlinear_add(a, b, ra, rb, fixed, zero_points: tuple[int, int, int], dtype) -> np.ndarray:
    """The kernel. `zero_points` = (za, zb, zc) are needed only to derive the swapped `fixed'`."""
    a_f = np.asarray(a).astype(F32)
    b_f = np.asarray(b).astype(F32)
    ra, rb = F32(ra), F32(rb)
    if first_operand_is_span_scalar(np.shape(a), np.shape(b)):
        za, zb, zc = zero_points
        swapped_fixed = fixed_term(rb, zb, ra, za, zc)
        return saturate_rounded(fma(b_f, rb, fma(a_f, ra, swapped_fixed)), dtype)
    return saturate_rounded(fma(a_f, ra, fma(b_f, rb, F32(fixed))), dtype)


def float_path_add(a, a_quant, b, b_quant, c_quant, dtype) -> np.ndarray:
    """DQ -> float32 Add -> QuantizeLinear; each `*_quant` is (scale, zero_point), per tensor."""
    total = (dequantize_linear(a, *a_quant) + dequantize_linear(b, *b_quant)).astype(F32)
    return quantize_linear(total, *c_quant, dtype)
