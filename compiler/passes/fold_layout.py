"""`fold-layout`: decides where every value lives in DRAM, so layout ops become addressing, and
records each decision as the op's `layout` attribute.

The decision is `compiler.codegen.layout_plan.plan_layout` (see its docstring): a layout op
(reshape, transpose, gather, slice, squeeze, unsqueeze, flatten) whose result a DMA view can
express is a `view` of its operand and costs no instruction, otherwise (or when it is a graph
output) a `copy`; a compute result is stored `backward` in the layout its single-use layout
chain or concat slot needs, in its operand's memory order (`operand-order`, elementwise ops on
a permuted view), or in a row-major buffer of its own (`own`); a concat owns its buffer.
Every later stage (`fuse-elementwise`, `tile-matmul`, `plan-memory`, `select-instructions`)
builds its layout plan by following these attributes.

Invariants: the attribute changes no value (the reference interpreter ignores it); existing
`layout` attributes are dropped first, so the pass decides afresh after any rewrite; every
non-constant op gets one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from compiler.codegen.layout_plan import layout_decisions, plan_layout
from compiler.ir.graph import Graph
from compiler.ir.passes import Pass


@dataclass(frozen=True)
class FoldLayout(Pass):
    """Decide each value's DRAM placement; layout ops become views (`layout` attributes)."""

    name = "fold-layout"

    def apply(self, graph: Graph) -> None:
        for op in graph.ops:
            op.attrs.pop("layout", None)
        decisions = layout_decisions(graph, plan_layout(graph))
        for op, decision in decisions.items():
            op.attrs["layout"] = decision
            self.log.debug("%s: %s", op.describe(), decision)
        self.log.debug("%s", ", ".join(f"{n} {d}" for d, n in sorted(Counter(decisions.values()).items())))
