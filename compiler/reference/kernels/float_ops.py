"""Float32 elementwise ops as onnxruntime 1.32 computes them.

Established by tests against onnxruntime 1.32 (tests/compiler/reference/test_float_ops.py):
- Add, Sub, Mul, Div and Sqrt are single IEEE float32 operations (numpy float32 reproduces them).
- Pow with exponent 2 is `f32(x * x)`. Other exponents differ from both float32 and float64
  `pow` on many elements; they are refused.
- Erf, Tanh and Exp run MLAS polynomial approximations (not correctly rounded: 15%, 58% and 5%
  of random elements differ from the correctly rounded value); they are refused. (Softmax's own
  exponential, MLAS's sum-exp kernel, is reproduced in `softmax.py`.) Quantized
  models never need them here: the frontend turns DQ -> Erf/Tanh/... -> Q chains into `table` ops.
"""

from __future__ import annotations

import numpy as np

from isa.errors import VitcError

F32 = np.float32

BINARY = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
}


def binary(kind: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):  # inf and nan are values here, as in onnxruntime
        return BINARY[kind](np.asarray(a, dtype=F32), np.asarray(b, dtype=F32)).astype(F32)


def sqrt(x: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.sqrt(np.asarray(x, dtype=F32))


def power(x: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    exponents = np.unique(np.asarray(exponent, dtype=F32))
    if exponents.size != 1 or exponents[0] != 2:
        raise VitcError(f"pow with exponent {exponents.tolist()}: only 2 (x*x) is reproduced exactly")
    x = np.asarray(x, dtype=F32)
    return np.broadcast_to((x * x).astype(F32), np.broadcast_shapes(x.shape, np.shape(exponent))).copy()


def unsupported_unary(kind: str):
    raise VitcError(f"float '{kind}': onnxruntime's MLAS approximation is not reproduced "
                    f"(between DQ and Q it belongs in a `table` op)")
