"""Requantisation fusion: `matmul_int` [-> `bias_add`] -> `requantize` becomes one `qmatmul`.

The frontend imports onnxruntime's quantized matmul kernels (QLinearMatMul, QGemm, the patch
embedding's QLinearConv) as the three steps they compute: the exact int32 accumulator, the int32
bias, the requantisation. `qmatmul` is by definition their composition (the reference kernel
`compiler.reference.kernels.qmatmul.qmatmul` is literally `requantize(bias_add(int_matmul(...)))`),
so the fusion is exact, per tensor and per output channel alike.

A chain is fused only when it can be without losing a value: every intermediate int32 tensor is
read by the next step alone and is not a graph output, and the result would be a valid `qmatmul`
(both operands quantized, the multiplier per tensor or per output channel as b is). Invariants: the `qmatmul` keeps the `requantize`'s result value
(name, type) and loc, so no use changes; the ops it replaces are removed; the op order is kept.
The pass is idempotent (a graph without such chains is left as it is).
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler.ir.errors import IRError
from compiler.ir.graph import Graph, Op
from compiler.ir.ops import check_op
from compiler.ir.passes import Pass


def _single_use_producer(value, users: dict, graph_outputs: set, producers: dict, kind: str) -> Op | None:
    """The op of `kind` producing `value` when `value` is read by exactly one op and is no graph output."""
    producer = producers.get(value)
    if producer is None or producer.kind != kind or value in graph_outputs or len(users[value]) != 1:
        return None
    return producer


def fused_matmul(requantize: Op, producers: dict, users: dict, graph_outputs: set) -> tuple[Op, list[Op]] | None:
    """The `qmatmul` replacing `requantize` and the ops it absorbs, or None when the chain does not fuse."""
    absorbed = []
    acc = requantize.operands[0]
    bias_add = _single_use_producer(acc, users, graph_outputs, producers, "bias_add")
    if bias_add is not None:
        absorbed.append(bias_add)
        acc = bias_add.operands[0]
    matmul = _single_use_producer(acc, users, graph_outputs, producers, "matmul_int")
    if matmul is None:
        return None
    absorbed.append(matmul)
    operands = list(matmul.operands) + ([bias_add.operands[1]] if bias_add is not None else [])
    attrs = {"multiplier": requantize.attrs["multiplier"]}
    try:
        check_op("qmatmul", [v.type for v in operands], attrs, requantize.result.type)
    except IRError:
        return None  # e.g. unquantized operands, or a per-channel multiplier over a per-tensor b
    return Op("qmatmul", operands, attrs, requantize.result, requantize.loc), absorbed


def fuse_requantization(graph: Graph) -> list[Op]:
    """Fuse every fusable chain in place; returns the new `qmatmul` ops in op order."""
    producers, users, outputs = graph.producers(), graph.users(), set(graph.outputs)
    replaced: dict[int, Op] = {}
    absorbed: set[int] = set()
    for op in graph.ops:
        if op.kind != "requantize":
            continue
        fusion = fused_matmul(op, producers, users, outputs)
        if fusion is None:
            continue
        replaced[id(op)] = fusion[0]
        absorbed.update(id(gone) for gone in fusion[1])
    graph.ops = [replaced.get(id(op), op) for op in graph.ops if id(op) not in absorbed]
    graph.refresh_names()
    return list(replaced.values())


@dataclass(frozen=True)
class FuseRequant(Pass):
    """Fuse matmul_int [-> bias_add] -> requantize into qmatmul (per tensor and per channel)."""

    name = "fuse-requant"

    def apply(self, graph: Graph) -> None:
        for op in fuse_requantization(graph):
            self.log.debug("fused %s", op.describe())
