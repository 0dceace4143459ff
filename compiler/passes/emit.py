"""`emit`: the `.vitb` container of the scheduled machine program (`graph.machine.binary`).

The code section is the instructions' encoding (`MachineProgram.encode`), followed by the
constant section at the end of the activation arena, the DRAM size, the I/O table and the layer
names (`isa.container.Binary`), stamped with the hash of the configuration the instructions
were selected for.

Invariant: the binary depends only on the machine program (same program, same bytes).
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler.ir.graph import Graph
from compiler.ir.passes import Pass
from isa.container import Binary
from isa.errors import VitcError


@dataclass(frozen=True)
class Emit(Pass):
    """Encode the scheduled machine program into the .vitb container (graph.machine.binary)."""

    name = "emit"
    level = "machine"

    def apply(self, graph: Graph) -> None:
        machine = graph.machine
        if not machine.scheduled:
            raise VitcError("the machine program has no dependency tokens yet: run schedule before emit")
        machine.binary = Binary(
            config_hash=machine.config.hash,
            code=machine.encode(),
            constants=machine.constants,
            constants_addr=machine.arena,
            dram_size=machine.dram_size,
            io=machine.io,
            layers=machine.layers,
        )
        self.log.debug("%d code bytes, %d constant bytes", len(machine.binary.code), len(machine.constants))
