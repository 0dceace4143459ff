"""Single IR ops for the tests, built with the IR's own graph builder (so every op passes the
op table's checks) and with kernel constants computed by the frontend's `kernel_constants`
(the numbers the frontend puts into real models; test_qbinary.py checks them, through the
lowering, against onnxruntime on every pair of codes)."""

from __future__ import annotations

import numpy as np

from compiler.frontend.kernel_constants import qadd_constants, qmul_multiplier
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
        attrs |= qadd_constants(a.quant.scale[0], a.quant.zero_point[0], b.quant.scale[0], b.quant.zero_point[0],
                                c.quant.scale[0], c.quant.zero_point[0])
    elif mode == "qlinear":
        attrs["multiplier"] = qmul_multiplier(a.quant.scale[0], b.quant.scale[0], c.quant.scale[0])
    return single_op(kind, [a, b], c, **attrs)

