"""The instruction list a compilation builds, with what each instruction touches.

Lowerings append instructions in a valid sequential order (as if one unit ran them all) and
declare, for each, the on-chip rows and DRAM bytes it reads and writes. They never set `wait`
or `signal`: `tokens.py` derives those from the declared accesses, so ordering between units
is computed in one place from one rule. Every instruction carries the layer id of the IR op it
was emitted for (`begin_layer`).

Invariant: the declared accesses cover (over-approximate) everything the instruction touches;
a smaller declaration would let `tokens.py` miss an ordering.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from compiler.codegen.dram_view import DramView
from compiler.codegen.region import Region
from isa.encoding import Instruction
from isa.table import load_table

Access = tuple[str, int, int]  # (space "spad" | "acc" | "dram", first, one past last)
_UNIT_OF = {spec.mnemonic: spec.unit for spec in load_table().instructions}  # asked for every instruction, often


@dataclass(slots=True)  # one per instruction (~145k on vit-base): no per-object dict
class Emitted:
    mnemonic: str
    fields: dict
    layer: int
    reads: list[Access] = field(default_factory=list)
    writes: list[Access] = field(default_factory=list)

    @property
    def unit(self) -> str:
        return _UNIT_OF[self.mnemonic]

    def instruction(self, wait: int = 0, signal: int = 0) -> Instruction:
        return Instruction(self.mnemonic, {**self.fields, "wait": wait, "signal": signal, "layer": self.layer})


def region_access(region: Region, dim: int) -> Access:
    # `region.end(dim)` written out (its three nested calls cost more than the arithmetic; this
    # runs for ~200k regions on vit-base)
    return region.mem, region.addr, region.addr + (-(-region.cols // dim) - 1) * region.bs + region.rows


def view_access(view: DramView) -> Access:
    return ("dram", *view.byte_span())


class ProgramBuilder:
    """Collects instructions and layer names in program order."""

    def __init__(self, dim: int):
        self.dim = dim
        self.items: list[Emitted] = []
        self.layers: list[str] = []
        self.layer = 0

    def begin_layer(self, name: str) -> None:
        """Instructions emitted from now on belong to the layer `name` (added to the table)."""
        self.layers.append(name)
        self.layer = len(self.layers) - 1

    def emit(self, mnemonic: str, fields: dict, reads=(), writes=()) -> None:
        """Append one instruction; `reads`/`writes` are Regions, DramViews or Access tuples."""
        access = self._access
        self.items.append(Emitted(mnemonic, dict(fields), self.layer, list(map(access, reads)), list(map(access, writes))))

    def emit_all(self, instructions: list[Instruction], reads=(), writes=()) -> None:
        """Append instructions of one unit that together read `reads` and write `writes`
        (each instruction is given the whole envelope: conservative, never wrong)."""
        reads, writes = list(map(self._access, reads)), list(map(self._access, writes))  # once for all
        for instr in instructions:
            fields = dict(instr.fields)
            fields.pop("wait", None), fields.pop("signal", None), fields.pop("layer", None)  # set by later stages
            self.items.append(Emitted(instr.mnemonic, fields, self.layer, list(reads), list(writes)))

    def _access(self, what) -> Access:
        """`what` as an Access (this runs for every access of every instruction, ~500k on
        vit-base: computing a Region's or DramView's is cheaper than hashing it for a cache)."""
        kind = type(what)
        if kind is tuple:
            return what
        if kind is Region:
            return region_access(what, self.dim)
        if kind is DramView:
            return view_access(what)
        return what
