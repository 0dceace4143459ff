"""`fuse-elementwise`: marks the chains of ops that run tile by tile on chip, as `chain` attributes.

The decision is `compiler.codegen.fusion.plan_chains` (a qmatmul or vector op followed by the
same-shape vector ops that can consume its tiles on chip, results other ops read too being
stored as well, while the matmul still tiles with them) for the hardware configuration `hw` (a built-in name, a TOML path, or a
configuration hash the driver registered, see `compiler.codegen.target`). Chain heads are
numbered from 0 in graph order; the head and every op fused after it get `chain = number`.

Invariants: the attribute changes no value (the reference interpreter ignores it); existing
`chain` attributes are dropped first, so running the pass twice, or for another `hw`, leaves
exactly the chains of the last run.
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler.codegen.fusion import plan_chains
from compiler.codegen.layout_plan import plan_layout
from compiler.codegen.target import resolve_target
from compiler.ir.graph import Graph
from compiler.ir.passes import Pass


@dataclass(frozen=True)
class FuseElementwise(Pass):
    """Mark the ops that run on chip in the tile loop of the op before them (`chain` attributes)."""

    name = "fuse-elementwise"
    hw: str = "default"

    def apply(self, graph: Graph) -> None:
        for op in graph.ops:
            op.attrs.pop("chain", None)
        chains = plan_chains(graph, plan_layout(graph), resolve_target(self.hw))
        for number, (head, chain) in enumerate(chains.items()):
            for op in (head, *chain):
                op.attrs["chain"] = number
            self.log.debug("chain %d: %s", number, " + ".join(op.describe() for op in (head, *chain)))
