"""The IR interpreter: `run_graph(graph, inputs, keep_all=False)` executes every op of a graph
with the onnxruntime-exact kernels of `compiler.reference.kernels`.

Invariants:
- One dispatch table (`KERNELS`) maps every op kind to one function `(op, operand arrays, facts)
  -> array`; an op kind without an entry stops with a `VitcError` naming the op. `Facts` holds
  what a kernel may need beyond its op and operands: onnxruntime's intra-op thread count (MLAS
  splits a float MatMul with a computed B between threads, which changes its rounding).
- A float `matmul`'s B counts as prepacked by onnxruntime (an initializer) only when the op says
  so (`b_prepacked` = 1, docs/ir-design.md says why); otherwise it is
  a computed tensor, as the DequantizeLinear outputs feeding float MatMuls in quantized models are
  (the frontend folds that DequantizeLinear into a float `const`, which the IR cannot tell apart).
- Quantization parameters are read from the operand and result types, kernel constants from the
  op's attributes (the frontend computed them as onnxruntime does); nothing is re-derived except
  where onnxruntime itself derives a value the IR does not carry (QLinearAdd's swapped `fixed`).
- `onnx_chain` is the one op run by onnxruntime itself (its ONNX text, without optimisation):
  an elementwise chain with Erf, Tanh, ... whose MLAS approximations are never reimplemented.
- Every result is checked against the op's declared type (dtype and shape) before it is stored.
- Every error names the op (kind, result name, ONNX location).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from compiler.ir.graph import Graph, Op
from compiler.ir.layout_eval import LAYOUT_EVALUATORS, evaluate_layout
from compiler.ir.types import Quant, TensorType
from compiler.reference.kernels import (float_ops, layernorm, onnx_chain, qadd, qmatmul, qmul, qsoftmax, quantize, reduce,
                                        sgemm, softmax, table)
from isa.errors import VitcError



@dataclass(frozen=True)
class Facts:
    """What a kernel may need beyond its op and operands: onnxruntime's intra-op thread count."""

    threads: int


Kernel = Callable[[Op, list[np.ndarray], Facts], np.ndarray]


def _quant(t: TensorType, what: str) -> Quant:
    if t.quant is None:
        raise VitcError(f"{what} has no quantization parameters")
    return t.quant


def _per_tensor(t: TensorType, what: str) -> tuple[float, int]:
    q = _quant(t, what)
    if not q.per_tensor:
        raise VitcError(f"{what} is quantized per axis; this op needs per-tensor quantization")
    return q.scale[0], q.zero_point[0]


def _zero_point(t: TensorType) -> int:
    return 0 if t.quant is None else _per_tensor(t, "operand")[1]


def _quantize(op: Op, args, facts: Facts):
    q = _quant(op.result.type, "the result")
    return quantize.quantize_linear(args[0], q.scale, q.zero_point, op.result.type.np_dtype, q.axis)


def _dequantize(op: Op, args, facts: Facts):
    q = _quant(op.operands[0].type, "the operand")
    return quantize.dequantize_linear(args[0], q.scale, q.zero_point, q.axis)


def _qmatmul(op: Op, args, facts: Facts):
    a_type, b_type = op.operands[0].type, op.operands[1].type
    _, za = _per_tensor(a_type, "operand a")
    b_quant = _quant(b_type, "operand b")
    if not b_quant.per_tensor and b_quant.axis != b_type.rank - 1:
        raise VitcError(f"operand b is quantized along axis {b_quant.axis}, not its output channels (last axis)")
    _, zy = _per_tensor(op.result.type, "the result")
    bias = args[2] if len(args) > 2 else None
    return qmatmul.qmatmul(args[0], za, args[1], np.array(b_quant.zero_point), bias,
                           np.array(op.attrs["multiplier"], dtype=np.float32), zy, op.result.type.np_dtype)


def _matmul_int(op: Op, args, facts: Facts):
    b_quant = op.operands[1].type.quant
    b_zero_point = 0 if b_quant is None else np.array(b_quant.zero_point)
    return qmatmul.int_matmul(args[0], _zero_point(op.operands[0].type), args[1], b_zero_point)


def _requantize(op: Op, args, facts: Facts):
    _, zy = _per_tensor(op.result.type, "the result")
    return qmatmul.requantize_accumulator(args[0], np.array(op.attrs["multiplier"], dtype=np.float32), zy,
                                          op.result.type.np_dtype)


def _binary_quants(op: Op):
    return (_per_tensor(op.operands[0].type, "operand a"), _per_tensor(op.operands[1].type, "operand b"),
            _per_tensor(op.result.type, "the result"))


def _qadd(op: Op, args, facts: Facts):
    qa, qb, qc = _binary_quants(op)
    dtype = op.result.type.np_dtype
    if op.attrs["mode"] == "float":
        return qadd.float_path_add(args[0], qa, args[1], qb, qc, dtype)
    return qadd.qlinear_add(args[0], args[1], op.attrs["ra"], op.attrs["rb"], op.attrs["fixed"],
                            (qa[1], qb[1], qc[1]), dtype)


def _qmul(op: Op, args, facts: Facts):
    qa, qb, qc = _binary_quants(op)
    dtype = op.result.type.np_dtype
    if op.attrs["mode"] == "float":
        return qmul.float_path_mul(args[0], qa, args[1], qb, qc, dtype)
    return qmul.qlinear_mul(args[0], qa[1], args[1], qb[1], op.attrs["multiplier"], qc[1], dtype)


def _qsoftmax(op: Op, args, facts: Facts):
    sx, _ = _per_tensor(op.operands[0].type, "the operand")
    sy, zy = _per_tensor(op.result.type, "the result")
    return qsoftmax.qsoftmax(args[0], op.attrs["axis"], sx, sy, zy, op.result.type.np_dtype)


def _layernorm(op: Op, args, facts: Facts):
    beta = args[2] if len(args) > 2 else None
    return layernorm.layernorm(args[0], args[1], beta, op.attrs["axis"], op.attrs["epsilon"])


def _reduce_mean(op: Op, args, facts: Facts):
    x = args[0]
    if tuple(op.attrs["axes"]) != (x.ndim - 1,):
        raise VitcError(f"reduce_mean over axes {list(op.attrs['axes'])}: only the last axis is reproduced")
    return reduce.reduce_mean_last_axis(x).reshape(op.result.type.shape)


def _float_binary(kind: str) -> Kernel:
    return lambda op, args, facts: float_ops.binary(kind, args[0], args[1])


def _refused_unary(kind: str) -> Kernel:
    return lambda op, args, facts: float_ops.unsupported_unary(kind)


def _layout(op: Op, args, facts: Facts):
    return evaluate_layout(op.kind, args, op.attrs, op.result.type)


KERNELS: dict[str, Kernel] = {
    "const": lambda op, args, facts: op.attrs["value"],
    "quantize": _quantize,
    "dequantize": _dequantize,
    "qmatmul": _qmatmul,
    "matmul_int": _matmul_int,
    "bias_add": lambda op, args, facts: qmatmul.bias_add(args[0], args[1]),
    "requantize": _requantize,
    "matmul": lambda op, args, facts: sgemm.sgemm(args[0], args[1], bool(op.attrs.get("b_prepacked", 0)),
                                                  facts.threads),
    "qadd": _qadd,
    "qmul": _qmul,
    "qsoftmax": _qsoftmax,
    "table": lambda op, args, facts: table.lookup(args[0], op.attrs["table"]),
    "onnx_chain": lambda op, args, facts: onnx_chain.run_chain(op.attrs["model"], args[0]),
    "layernorm": _layernorm,
    "reduce_mean": _reduce_mean,
    "softmax": lambda op, args, facts: softmax.softmax(args[0], op.attrs["axis"]),
    "pow": lambda op, args, facts: float_ops.power(args[0], args[1]),
    "sqrt": lambda op, args, facts: float_ops.sqrt(args[0]),
    **{kind: _float_binary(kind) for kind in float_ops.BINARY},
    **{kind: _refused_unary(kind) for kind in ("erf", "tanh", "exp")},
    **{kind: _layout for kind in LAYOUT_EVALUATORS},
}


def _checked_inputs(graph: Graph, inputs: dict[str, np.ndarray]) -> dict:
    missing = [v.name for v in graph.inputs if v.name not in inputs]
    if missing:
        raise VitcError(f"graph @{graph.name}: input '{missing[0]}' not given (inputs: "
                        f"{', '.join(v.name for v in graph.inputs)})")
    values = {}
    for v in graph.inputs:
        array = np.asarray(inputs[v.name])
        if array.dtype != v.type.np_dtype or array.shape != v.type.shape:
            raise VitcError(f"graph @{graph.name}: input '{v.name}' is {array.dtype}{list(array.shape)}, "
                            f"expected {v.type.np_dtype}{list(v.type.shape)}")
        values[v] = array
    return values


def _last_uses(graph: Graph) -> dict[int, list]:
    """Op index -> the values whose last reader is that op (graph outputs are never freed)."""
    last = {}
    for index, op in enumerate(graph.ops):
        for v in op.operands:
            last[v] = index
    keep = set(graph.outputs)
    freed: dict[int, list] = {}
    for v, index in last.items():
        if v not in keep:
            freed.setdefault(index, []).append(v)
    return freed


def run_op(op: Op, args: list[np.ndarray], facts: Facts) -> np.ndarray:
    """One op on its operand arrays, checked against its declared result type."""
    kernel = KERNELS.get(op.kind)
    if kernel is None:
        raise VitcError(f"{op.describe()}: the reference interpreter has no kernel for op '{op.kind}'")
    try:
        result = np.asarray(kernel(op, args, facts))
    except VitcError as err:
        raise VitcError(f"{op.describe()}: {err}") from None
    expected = op.result.type
    if result.dtype != expected.np_dtype or result.shape != expected.shape:
        raise VitcError(f"{op.describe()}: kernel produced {result.dtype}{list(result.shape)}, the op's type is "
                        f"{expected.np_dtype}{list(expected.shape)}")
    return result


def run_graph(graph: Graph, inputs: dict[str, np.ndarray], *, keep_all: bool = False,
              threads: int | None = None) -> dict[str, np.ndarray]:
    """Execute `graph` on `inputs` (by graph input name).

    Returns the graph outputs by name, or with `keep_all` every value (inputs and op results).
    `threads` is the onnxruntime intra-op thread count to reproduce (default: this machine's).
    """
    values = _checked_inputs(graph, inputs)
    facts = Facts(threads or sgemm.default_threads())
    freed = {} if keep_all else _last_uses(graph)
    for index, op in enumerate(graph.ops):
        values[op.result] = run_op(op, [values[v] for v in op.operands], facts)
        for v in freed.get(index, ()):
            del values[v]
    if keep_all:
        return {v.name: a for v, a in values.items()}
    return {v.name: values[v] for v in graph.outputs}
