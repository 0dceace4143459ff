"""Dead-code elimination: remove every op whose result no graph output depends on.

Every IR op is pure, so an op is dead exactly when its result reaches no graph output.
Invariant kept: the remaining ops keep their order; graph inputs are never removed.
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler.ir.graph import Graph
from compiler.ir.passes import Pass


def eliminate_dead_ops(graph: Graph) -> list[str]:
    """Remove dead ops in place; returns the names of the removed results, in op order."""
    live = set(graph.outputs)
    kept = []
    for op in reversed(graph.ops):
        if op.result not in live:
            continue
        live.update(op.operands)
        kept.append(op)
    removed = [op.result.name for op in graph.ops if op.result not in live]
    graph.ops = kept[::-1]
    graph.refresh_names()
    return removed


@dataclass(frozen=True)
class DeadCodeElimination(Pass):
    """Remove ops whose results no graph output depends on."""

    name = "dce"

    def apply(self, graph: Graph) -> None:
        removed = eliminate_dead_ops(graph)
        for name in removed:
            self.log.debug("removed %%%s", name)
        self.log.debug("removed %d of %d ops", len(removed), len(removed) + len(graph.ops))
