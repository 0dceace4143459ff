"""`plan-memory`: gives every input, output and activation buffer its DRAM offset (`dram_offset`).

The decision is `compiler.codegen.memory_plan.plan_activations` on the layout plan
(`compiler.codegen.layout_plan`), with each chain's stored buffer live from the chain's head
(the `chain` attributes: run `fuse-elementwise` first). The offset is recorded on the op whose
result the buffer was made for (a layout op's result when several views share a buffer), or on
the graph input. Option `reuse=false` gives every buffer its own bytes (a debug build: every IR
tensor is still in DRAM after a run). Option `reuse-distance` (default 2, the `interleave` pass's
window) lets a buffer reuse a dead one's bytes only that many layers (ops that emit code,
`select_instructions.emitting_ops`) after its last read, so that sharing bytes does not order
layers the interleaving would overlap; 0 reuses bytes as soon as they are dead.

Invariants: the attribute changes no value (the reference interpreter ignores it); existing
`dram_offset` attributes are dropped first, so the pass can run again after any change; offsets
are multiples of `memory_plan.ALIGN`, and buffers with overlapping live ranges never overlap.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from compiler.codegen.fusion import recorded_chains
from compiler.codegen.layout_plan import plan_layout
from compiler.codegen.memory_plan import annotations_of, plan_activations
from compiler.ir.graph import Graph
from compiler.ir.passes import Pass
from compiler.passes.select_instructions import emitting_ops
from isa.errors import VitcError


@dataclass(frozen=True)
class PlanMemory(Pass):
    """Place the activation, input and output buffers in DRAM (`dram_offset` attributes)."""

    name = "plan-memory"
    reuse: bool = True
    reuse_distance: int = 2

    def __post_init__(self):
        if self.reuse_distance < 0:
            raise ValueError(f"reuse-distance must be >= 0, got {self.reuse_distance}")

    def apply(self, graph: Graph) -> None:
        for attrs in [op.attrs for op in graph.ops] + list(graph.input_attrs.values()):
            attrs.pop("dram_offset", None)
        graph.input_attrs = {value: attrs for value, attrs in graph.input_attrs.items() if attrs}
        plan = plan_layout(graph)
        chains = recorded_chains(graph, plan)  # widens each chain's stored buffer before placement
        index = {op: i for i, op in enumerate(graph.ops)}
        starts = [index[op] for op in emitting_ops(graph, plan, chains)]  # op index of each layer's op

        def layer_at(op_index: int) -> int:
            return bisect.bisect_right(starts, op_index) - 1

        arena = plan_activations(plan, self.reuse, layer_at, self.reuse_distance)
        producers = graph.producers()
        for buffer in plan.buffers:
            if buffer.kind == "const":
                continue
            attrs = annotations_of(graph, producers, buffer, create=True)
            if "dram_offset" in attrs:
                raise VitcError(f"%{buffer.value.name} owns two DRAM buffers; one dram_offset cannot record both")
            attrs["dram_offset"] = buffer.addr
        self.log.debug("%d buffers in %d bytes", sum(b.kind != "const" for b in plan.buffers), arena)
