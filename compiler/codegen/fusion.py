"""Fusion: chains of ops that run tile by tile on chip, so intermediate results never go to DRAM.

A chain starts at a compute op (a `qmatmul` over one matrix, or a vector op) and extends to the
next op C while the current result r:
- has exactly one use, as one operand of C, and is not a graph output;
- has the shape of C's result (C works row by row on r's rows: bias and residual adds,
  dequantize -> layernorm -> quantize, table -> softmax, ...);
- C is a vector-unit op, and every other operand of C exists before the chain starts (it is
  loaded from DRAM while the chain runs at the position of its first op).
A chain after a `qmatmul` runs on the matmul's output tiles next to the chain's buffers: tiles
of whole rows when an op of the chain reduces along the row (LayerNorm, softmax), any width
dividing the row otherwise (`vector_ops.column_tileable`); a consumer is only added while the
matmul can still be tiled so in the on-chip memory one op gets. The chain's last result is the only one stored; its buffer is written at the chain's
start, so its live range is widened before the memory plan places it.

`plan_chains` decides (the `fuse-elementwise` pass records its decision as `chain` attributes);
`recorded_chains` reads the attributes back for the driver. A `chain` attribute numbers a chain:
the ops carrying the same number, in graph order, are its head and the ops fused after it.

Invariant: fusing changes where results live, never what is computed: every op still runs its
own lowering on the same values.
"""

from __future__ import annotations

import functools

from compiler.codegen.layout_plan import LAYOUT_OPS, LayoutPlan
from compiler.codegen.matmul import MatmulShape, plan_tiling
from compiler.codegen.vector import LOWERINGS
from compiler.codegen.vector_ops import StageInput, VectorChain, column_tileable
from compiler.ir.graph import Graph, Op
from isa.errors import VitcError


def plan_chains(graph: Graph, plan: LayoutPlan, config) -> dict[Op, list[Op]]:
    """Chain head -> the ops fused after it (heads with nothing fused are left out)."""
    users = graph.users()
    producers = graph.producers()
    index = {op: i for i, op in enumerate(graph.ops)}
    outputs = set(graph.outputs)
    chains: dict[Op, list[Op]] = {}
    fused: set[Op] = set()
    for head in graph.ops:
        if head in fused or not _can_head(head, plan):
            continue
        tail, chain = head, []
        while True:
            consumer = _next_in_chain(tail, users, producers, index, outputs, index[head], plan)
            if consumer is None or (head.kind == "qmatmul" and not _matmul_tiles_with(head, chain + [consumer], plan, config)):
                break
            chain.append(consumer)
            tail = consumer
        if chain:
            chains[head] = chain
            fused.update(chain)
    return chains


def recorded_chains(graph: Graph, plan: LayoutPlan) -> dict[Op, list[Op]]:
    """Chain head -> the ops fused after it, from the `chain` attributes; widens each chain's
    stored buffer to live from the head on."""
    members: dict[int, list[Op]] = {}
    for op in graph.ops:
        if "chain" in op.attrs:
            members.setdefault(op.attrs["chain"], []).append(op)
    index = {op: i for i, op in enumerate(graph.ops)}
    chains = {}
    for number, (head, *chain) in sorted(members.items()):
        if not chain:
            raise VitcError(f"{head.describe()}: chain {number} has no op fused after its head")
        for previous, op in zip([head, *chain], chain):
            if op.operands.count(previous.result) != 1:
                raise VitcError(f"{op.describe()}: in chain {number} but does not use %{previous.result.name} "
                                f"(the op before it in the chain) exactly once")
        buffer = plan[chain[-1].result].buffer
        buffer.first = min(buffer.first, index[head])
        chains[head] = chain
    return chains


def chain_epilogue(head: Op, chain: list[Op], plan: LayoutPlan, config):
    """`chain` as the epilogue of the qmatmul `head`: the function of the output tile's width tn
    giving the `VectorChain` (DRAM views needed for shapes only), or None when the chain cannot
    run on tiles that wide (a row reduction needs whole rows; other widths must divide the row)."""
    stages, previous = [], head
    for op in chain:
        stages.append(StageInput(op, [plan[v].view for v in op.operands], op.operands.index(previous.result), {}))
        previous = op
    cols = head.result.type.shape[-1]
    tileable = column_tileable(chain)

    @functools.lru_cache(maxsize=None)
    def for_width(tn: int) -> VectorChain | None:
        if tn != cols and (not tileable or cols % tn):
            return None
        return VectorChain(stages, plan[chain[-1].result].view, config, tile_cols=tn)

    # What the chain's needs depend on, so that equal chains share a tiling search.
    for_width.key = tuple((op.kind, op.attrs.get("mode"), op.operands.index(prev.result),
                           tuple((v.type.dtype, tuple(v.type.shape)) for v in op.operands),
                           op.result.type.dtype, tuple(op.result.type.shape))
                          for prev, op in zip([head, *chain], chain))
    return for_width


def _matmul_tiles_with(head: Op, chain: list[Op], plan: LayoutPlan, config) -> bool:
    """Whether `head` (a qmatmul) can be tiled with `chain` as its epilogue."""
    try:
        shape = MatmulShape.of(head, plan[head.operands[0]].view, plan[head.operands[1]].view, config.dim)
        plan_tiling(head, shape, config, chain_epilogue(head, chain, plan, config))
    except VitcError:
        return False
    return True


def _can_head(op: Op, plan: LayoutPlan) -> bool:
    if op.kind == "qmatmul":
        return True  # a batched one (attention per head) hands over each head's tiles in turn
    if op.kind not in LOWERINGS or op.kind in LAYOUT_OPS:
        return False
    # An op stored in a permuted order runs on permuted tensors (vector_ops), not as a chain.
    return _in_order(plan[op.result].view)


def _in_order(view) -> bool:
    """Stored as its logical rows with contiguous columns (no permuted-order execution)."""
    return view.physical_order() in (None, tuple(range(len(view.axes)))) and view.matrix_cols()[-1][1] in (0, 1)


def _next_in_chain(tail: Op, users, producers, index, outputs, head_index: int, plan: LayoutPlan) -> Op | None:
    result = tail.result
    uses = users.get(result, [])
    if result in outputs or len(uses) != 1:
        return None
    (consumer,) = uses
    if consumer.kind in LAYOUT_OPS or consumer.kind not in LOWERINGS or consumer.operands.count(result) != 1:
        return None
    if tuple(consumer.result.type.shape) != tuple(result.type.shape) or not result.type.shape:
        return None
    if not _in_order(plan[consumer.result].view):
        return None
    for operand in consumer.operands:
        producer = producers.get(operand)
        if operand is not result and producer is not None and producer.kind != "const" and index[producer] > head_index:
            return None
    return consumer
