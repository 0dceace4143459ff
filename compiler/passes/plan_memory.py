"""`plan-memory`: gives every input, output and activation buffer its DRAM offset (`dram_offset`).

The decision is `compiler.codegen.memory_plan.plan_activations` on the layout plan
(`compiler.codegen.layout_plan`), with each chain's stored buffer live from the chain's head
(the `chain` attributes: run `fuse-elementwise` first). The offset is recorded on the op whose
result the buffer was made for (a layout op's result when several views share a buffer), or on
the graph input. Option `reuse=false` gives every buffer its own bytes (a debug build: every IR
tensor is still in DRAM after a run).

Invariants: the attribute changes no value (the reference interpreter ignores it); existing
`dram_offset` attributes are dropped first, so the pass can run again after any change; offsets
are multiples of `memory_plan.ALIGN`, and buffers with overlapping live ranges never overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler.codegen.fusion import recorded_chains
from compiler.codegen.layout_plan import plan_layout
from compiler.codegen.memory_plan import annotations_of, plan_activations
from compiler.ir.graph import Graph
from compiler.ir.passes import Pass
from isa.errors import VitcError


@dataclass(frozen=True)
class PlanMemory(Pass):
    """Place the activation, input and output buffers in DRAM (`dram_offset` attributes)."""

    name = "plan-memory"
    reuse: bool = True

    def apply(self, graph: Graph) -> None:
        for attrs in [op.attrs for op in graph.ops] + list(graph.input_attrs.values()):
            attrs.pop("dram_offset", None)
        graph.input_attrs = {value: attrs for value, attrs in graph.input_attrs.items() if attrs}
        plan = plan_layout(graph)
        recorded_chains(graph, plan)  # widens each chain's stored buffer before placement
        arena = plan_activations(plan, reuse=self.reuse)
        producers = graph.producers()
        for buffer in plan.buffers:
            if buffer.kind == "const":
                continue
            attrs = annotations_of(graph, producers, buffer, create=True)
            if "dram_offset" in attrs:
                raise VitcError(f"%{buffer.value.name} owns two DRAM buffers; one dram_offset cannot record both")
            attrs["dram_offset"] = buffer.addr
        self.log.debug("%d buffers in %d bytes", sum(b.kind != "const" for b in plan.buffers), arena)
