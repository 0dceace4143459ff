"""Single IR ops for the tests, built with the IR's own graph builder (so every op passes the
op table's checks), with the kernel constants onnxruntime 1.32 really uses.

QLinearAdd's `fixed` is `f32(zc - fma(ra, za, f32(rb * zb)))`: MLAS's AVX2 kernel is compiled
with FMA contraction. This was found by test (test_qbinary.py checks it against onnxruntime);
the frontend's `kernel_constants.qadd_constants` rounds the product `ra * za` separately, which
differs on about 1 element in 2000 (reported to the frontend owner).
"""

from __future__ import annotations

import numpy as np

from compiler.frontend.kernel_constants import qmul_multiplier
from compiler.reference.kernels.fp32 import fma
from compiler.ir.graph import Graph, Op
from compiler.ir.types import Quant, TensorType

DTYPE = {np.dtype(np.int8): "i8", np.dtype(np.uint8): "u8", np.dtype(np.float32): "f32"}


def q8(dtype: str, shape, scale: float, zero_point: int) -> TensorType:
    return TensorType(dtype, tuple(shape), Quant.tensor(scale, zero_point))


def f32(shape) -> TensorType:
    return TensorType("f32", tuple(shape))


def single_op(kind: str, operand_types: list[TensorType], result_type: TensorType | None = None,
              **attrs) -> Op:
    graph = Graph("test")
    operands = [graph.add_input(f"x{i}", t) for i, t in enumerate(operand_types)]
    graph.set_outputs([graph.add_op(kind, operands, result_type, attrs, loc=f"{kind}_node", name="y")])
    graph.verify()
    return graph.ops[-1]


def qbinary_op(kind: str, mode: str, a: TensorType, b: TensorType, c: TensorType) -> Op:
    """A qadd / qmul op; mode 'qlinear' gets the kernel constants onnxruntime derives."""
    attrs = {"mode": mode}
    if mode == "qlinear" and kind == "qadd":
        attrs |= qadd_kernel_constants(a.quant, b.quant, c.quant)
    elif mode == "qlinear":
        attrs["multiplier"] = qmul_multiplier(a.quant.scale[0], b.quant.scale[0], c.quant.scale[0])
    return single_op(kind, [a, b], c, **attrs)


def qadd_kernel_constants(a: Quant, b: Quant, c: Quant) -> dict[str, float]:
    """`ra`, `rb`, `fixed` as onnxruntime 1.32's QLinearAdd computes them (x86, AVX2 + FMA)."""
    f = np.float32
    ra, rb = f(f(a.scale[0]) / f(c.scale[0])), f(f(b.scale[0]) / f(c.scale[0]))
    fixed = f(f(c.zero_point[0]) - fma(ra, f(a.zero_point[0]), f(rb * f(b.zero_point[0]))))
    return {"ra": float(ra), "rb": float(rb), "fixed": float(fixed)}
