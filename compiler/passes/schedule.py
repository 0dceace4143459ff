"""`schedule`: the dependency tokens of the machine program (`wait`/`signal` of every instruction).

The tokens come from the declared accesses (`compiler.codegen.tokens.token_masks`): an
instruction waits for the last instruction of each other unit it conflicts with, and no token
queue ever holds more than `queue-depth` tokens (option; 0, the default, means the hardware
configuration's `token_queue_depth`, the most it may be). A smaller depth is allowed: it only
moves some signals later (less overlap), never loses an ordering.

Invariants: the instruction order and fields are unchanged (only the masks are set); running
the pass again recomputes the masks from scratch.
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler.codegen.tokens import token_masks
from compiler.ir.graph import Graph
from compiler.ir.passes import Pass
from isa.errors import VitcError


@dataclass(frozen=True)
class Schedule(Pass):
    """Set every instruction's dependency tokens (wait/signal) from the declared accesses."""

    name = "schedule"
    level = "machine"
    queue_depth: int = 0

    def __post_init__(self):
        if self.queue_depth < 0:
            raise ValueError(f"queue-depth must be >= 1, or 0 for the configuration's depth, got {self.queue_depth}")

    def apply(self, graph: Graph) -> None:
        machine = graph.machine
        hardware_depth = machine.config.token_queue_depth
        depth = self.queue_depth or hardware_depth
        if depth > hardware_depth:
            raise VitcError(f"queue-depth={depth} exceeds the {hardware_depth} tokens a queue of hw "
                            f"'{machine.config.name}' holds")
        machine.waits, machine.signals = token_masks(machine.items, machine.space_sizes, depth)
        machine.queue_depth = depth
        machine.binary = None  # an earlier emit no longer matches the masks
        self.log.debug("%d instructions, %d waits", len(machine.items), sum(bool(w) for w in machine.waits))
