"""`tile-matmul`: chooses every qmatmul's tiling and records it as attributes.

The choice is `compiler.codegen.matmul.plan_tiling`: the feasible tile sizes and resident
operand with the fewest estimated cycles, in the on-chip memory one op gets on the hardware
configuration `hw` (see `compiler.codegen.target`). A qmatmul heading a chain (`chain`
attributes of `fuse-elementwise`, which must run first) gets output tiles the chain can run on
(whole rows when it reduces along them, else any width dividing the row) that leave the chain
its on-chip rows. Recorded: `tile_m`, `tile_n` (output tile rows, columns), `tile_k`
(K step), `resident` (`none`, `a`, `b`, `ab`: the operand kept on chip across tiles; `b-all`:
every N panel of B kept at once and the output tiles taken row tile by row tile, each row tile
of A loaded once; `a-rows`: the same order with B streamed, for an A gathered on chip). Options
`m`, `n`, `k`, when non-zero, force that tile size (capped at the extent), for experiments.

Invariants: the attributes change no value (the reference interpreter ignores them); every
qmatmul gets all four, overwriting earlier ones; a forced size that does not fit is an error
naming the op, never a tiling that overflows the on-chip memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler.codegen.fusion import chain_epilogue, recorded_chains
from compiler.codegen.layout_plan import plan_layout
from compiler.codegen.matmul import MatmulShape, plan_tiling, tiling_attrs
from compiler.codegen.target import resolve_target
from compiler.ir.graph import Graph
from compiler.ir.passes import Pass
from isa.errors import VitcError


@dataclass(frozen=True)
class TileMatmul(Pass):
    """Choose each qmatmul's tile sizes and resident operand (tile_m/tile_n/tile_k/resident)."""

    name = "tile-matmul"
    hw: str = "default"
    m: int = 0
    n: int = 0
    k: int = 0

    def apply(self, graph: Graph) -> None:
        forced = {"m": self.m, "n": self.n, "k": self.k}
        negative = [f"{name}={size}" for name, size in forced.items() if size < 0]
        if negative:
            raise VitcError(f"tile sizes must be positive, or 0 to let the cost model choose: {', '.join(negative)}")
        config = resolve_target(self.hw)
        plan = plan_layout(graph)
        chains = recorded_chains(graph, plan)
        for op in graph.ops:
            if op.kind != "qmatmul":
                continue
            chain = chains.get(op)
            try:
                shape = MatmulShape.of(op, plan[op.operands[0]].view, plan[op.operands[1]].view, config.dim)
                epilogue = chain_epilogue(op, chain, plan, config) if chain else None
                tiling = plan_tiling(op, shape, config, epilogue, (self.m, self.n, self.k))
            except VitcError as err:
                raise VitcError(f"{op.describe()}: {err}") from None
            op.attrs.update(tiling_attrs(tiling))
            self.log.debug("%s: %s", op.describe(), tiling)
