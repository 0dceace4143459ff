"""Fusion: chains of ops that run tile by tile on chip, so intermediate results never go to DRAM.

A chain starts at a compute op (a `qmatmul` over one matrix, or a vector op) and extends to the
next op C while the current result r:
- is read by C through one operand and by no other op, and is not a graph output; or r is a
  vector op's result in logical order that other ops (or the graph's outputs) read too, and C is
  its first reader: then r is stored as well as handed on (`Chain.stored`; a residual sum feeds
  the next LayerNorm in the chain and the next residual add from DRAM);
- has the shape of C's result (C works row by row on r's rows: bias and residual adds,
  dequantize -> layernorm -> quantize, table -> softmax, ...);
- C is a vector-unit op, and every other operand of C exists before the chain starts (it is
  loaded from DRAM while the chain runs at the position of its first op).
A chain after a `qmatmul` runs on the matmul's output tiles next to the chain's buffers: tiles
of whole rows when an op of the chain reduces along the row (LayerNorm, softmax), any width
dividing the row otherwise (`vector_ops.column_tileable`). The longest chain is taken when the
matmul can be tiled with it in the on-chip memory one op gets, else the longest that stores
nothing midway and can. The chain's last result and its stored ones are the only results
written to DRAM; their buffers are written from the chain's start, so their live ranges are
widened before the memory plan places them.

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


class Chain(list):
    """The ops fused after a chain's head, in order; `stored`: those among the head and them
    whose results other ops read too, so they are stored as well as handed on (a residual sum
    that feeds the next LayerNorm and the next residual add)."""

    def __init__(self, ops=(), stored=frozenset()):
        super().__init__(ops)
        self.stored = frozenset(stored)


def plan_chains(graph: Graph, plan: LayoutPlan, config) -> dict[Op, Chain]:
    """Chain head -> the ops fused after it (heads with nothing fused are left out)."""
    users = graph.users()
    producers = graph.producers()
    index = {op: i for i, op in enumerate(graph.ops)}
    outputs = set(graph.outputs)
    chains: dict[Op, Chain] = {}
    fused: set[Op] = set()
    for head in graph.ops:
        if head in fused or not _can_head(head, plan):
            continue
        longest = [Chain()]
        tail = head
        while (consumer := _next_in_chain(tail, users, producers, index, outputs, index[head], plan)) is not None:
            chain = longest[-1]
            stored = chain.stored | ({tail} if _read_elsewhere(tail, consumer, users, outputs) else set())
            longest.append(Chain(chain + [consumer], stored))
            tail = consumer
        chain = longest[-1]
        if head.kind == "qmatmul" and chain and not _matmul_tiles_with(head, chain, plan, config):
            # Otherwise the longest chain the matmul's tiles carry that stores nothing midway:
            # one ending after a stored result would store what it hands on (a LayerNorm's
            # input, in float32) instead of the codes it was to be stored as.
            chain = next(c for c in reversed(longest) if not c or (not c.stored and _matmul_tiles_with(head, c, plan, config)))
        if chain:
            chains[head] = chain
            fused.update(chain)
    return chains


def _read_elsewhere(op: Op, consumer: Op, users, outputs) -> bool:
    """Whether `op`'s result is read by more than `consumer` (or is a graph output)."""
    return op.result in outputs or users.get(op.result, []) != [consumer]


def recorded_chains(graph: Graph, plan: LayoutPlan) -> dict[Op, Chain]:
    """Chain head -> the ops fused after it, from the `chain` attributes; widens each chain's
    stored buffers (its last result's and those of `Chain.stored`) to live from the head on."""
    users = graph.users()
    outputs = set(graph.outputs)
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
        stored = {op for op, after in zip([head, *chain], chain) if _read_elsewhere(op, after, users, outputs)}
        for op in [*stored, chain[-1]]:
            buffer = plan[op.result].buffer
            buffer.first = min(buffer.first, index[head])
        chains[head] = Chain(chain, stored)
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
    stored = {i: plan[op.result].view for i, op in enumerate(chain) if op in getattr(chain, "stored", ())}

    @functools.lru_cache(maxsize=None)
    def for_width(tn: int) -> VectorChain | None:
        if tn != cols and (not tileable or cols % tn):
            return None
        return VectorChain(stages, plan[chain[-1].result].view, config, tile_cols=tn, stored=stored)

    # What the chain's needs depend on, so that equal chains share a tiling search.
    for_width.key = tuple((op.kind, op.attrs.get("mode"), op.operands.index(prev.result),
                           tuple((v.type.dtype, tuple(v.type.shape)) for v in op.operands),
                           op.result.type.dtype, tuple(op.result.type.shape))
                          for prev, op in zip([head, *chain], chain)) + (tuple(sorted(stored)),)
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
    """The op the chain extends to after `tail`: its result's only reader; or, for a vector
    op's result also stored for other readers (`Chain.stored`), its first reader."""
    result = tail.result
    uses = users.get(result, [])
    if not uses:
        return None
    if result in outputs or len(uses) > 1:
        if tail.kind == "qmatmul" or not _in_order(plan[result].view):
            return None
    consumer = uses[0]
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
