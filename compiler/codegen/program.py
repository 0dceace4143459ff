"""The instruction list a compilation builds, with what each instruction touches.

Lowerings append instructions in a valid sequential order (as if one unit ran them all) and
declare, for each, the on-chip rows and DRAM bytes it reads and writes. They never set `wait`
or `signal`: `tokens.py` derives those from the declared accesses, so ordering between units
is computed in one place from one rule. Every instruction carries the layer id of the IR op it
was emitted for (`begin_layer`).

Most instructions repeat one met before up to the tile they work on (the other copy of a double
buffer, the next row tile of the same shapes): a lowering may `prepare` such instructions once,
as `Prepared` (fields and accesses already computed), and `replay` them for every tile.

Invariants: the declared accesses cover (over-approximate) everything the instruction touches
(a smaller declaration would let `tokens.py` miss an ordering); an `Emitted`'s accesses are
tuples, never changed after emission (instructions replayed from one `Prepared` share them),
and each has its own fields dict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from compiler.codegen.dram_view import DramView
from compiler.codegen.region import Region
from isa.encoding import Instruction
from isa.table import load_table

Access = tuple[str, int, int]  # (space "spad" | "acc" | "dram", first, one past last)
Accesses = tuple[Access, ...]
_UNIT_OF = {spec.mnemonic: spec.unit for spec in load_table().instructions}  # asked for every instruction, often
_TOKEN_FIELDS = ("wait", "signal", "layer")  # set by later stages, never by a lowering


@dataclass(slots=True)  # one per instruction (~120k on vit-base): no per-object dict
class Emitted:
    mnemonic: str
    fields: dict
    layer: int
    reads: Accesses = ()
    writes: Accesses = ()

    @property
    def unit(self) -> str:
        return _UNIT_OF[self.mnemonic]

    def instruction(self, wait: int = 0, signal: int = 0) -> Instruction:
        return Instruction(self.mnemonic, {**self.fields, "wait": wait, "signal": signal, "layer": self.layer})


class Prepared(NamedTuple):
    """An instruction ready to append to any layer: its fields (no token fields, no layer) and
    its declared accesses."""

    mnemonic: str
    fields: dict
    reads: Accesses
    writes: Accesses


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
        self.items.append(Emitted(mnemonic, dict(fields), self.layer, self.accesses(reads), self.accesses(writes)))

    def prepare(self, mnemonic: str, fields: dict, reads=(), writes=()) -> Prepared:
        """The instruction `emit` would append, to `replay` (in any layer, any number of times)."""
        return Prepared(mnemonic, dict(fields), self.accesses(reads), self.accesses(writes))

    def prepare_all(self, instructions: list[Instruction], reads=(), writes=()) -> list[Prepared]:
        """Instructions of one unit that together read `reads` and write `writes`, each given the
        whole envelope (conservative, never wrong), their token fields and layer dropped."""
        reads, writes = self.accesses(reads), self.accesses(writes)  # once for all
        prepared = []
        for instr in instructions:
            fields = dict(instr.fields)
            for name in _TOKEN_FIELDS:
                fields.pop(name, None)
            prepared.append(Prepared(instr.mnemonic, fields, reads, writes))
        return prepared

    def replay(self, prepared: list[Prepared]) -> None:
        """Append the prepared instructions to the current layer (each with its own fields dict)."""
        layer, append = self.layer, self.items.append
        for mnemonic, fields, reads, writes in prepared:
            append(Emitted(mnemonic, dict(fields), layer, reads, writes))

    def accesses(self, what) -> Accesses:
        """Regions, DramViews or Access tuples as Access tuples (this runs for every access of
        every instruction not replayed: computing a Region's or DramView's is cheaper than
        hashing it for a cache)."""
        return tuple(map(self._access, what))

    def _access(self, what) -> Access:
        kind = type(what)
        if kind is tuple:
            return what
        if kind is Region:
            return region_access(what, self.dim)
        if kind is DramView:
            return view_access(what)
        return what
