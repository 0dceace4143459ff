"""The machine level of the pipeline: the instruction program `select-instructions` attaches to
the graph (`graph.machine`), which `schedule` and `emit` then work on, like LLVM's MIR after
instruction selection.

A `MachineProgram` holds the instructions in program order with their declared accesses
(`program.Emitted`), the layer names, the constant section, the DRAM arena and the I/O table;
`schedule` sets the token masks (`waits`, `signals`), `emit` the `.vitb` container (`binary`).
The pass manager prints it (`to_text`: the disassembler's syntax, grouped under the layer
names), dumps it (`.s` files) and, with `--verify-each`, checks it (`verify`).

Invariants checked by `verify`: every instruction encodes, and its words decode and re-encode to
the same bytes; once scheduled, on every token queue the k-th wait comes after the k-th signal
in program order, every signal is waited for, and no queue ever holds more tokens than the
configuration's depth; once emitted, the binary's code is the encoding of the instructions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from compiler.codegen.layout_plan import LayoutPlan
from compiler.codegen.program import Emitted
from compiler.codegen.tokens import check_queue_depth
from isa.container import Binary, IOEntry
from isa.disassembler import format_instruction
from isa.encoding import Instruction, decode_program, encode_program, encode_program_fields
from isa.errors import VitcError
from isa.table import load_table


@dataclass(eq=False)
class MachineProgram:
    config: object  # the HardwareConfig the instructions were selected for
    items: list[Emitted]
    layers: list[str]
    constants: bytes
    arena: int  # activation bytes: DRAM [0, arena) holds inputs, outputs, activations; constants follow
    dram_size: int
    io: list[IOEntry]
    plan: LayoutPlan  # where every IR value lives (debug builds read intermediates back from it)
    waits: list[int] | None = None  # set by `schedule`
    signals: list[int] | None = None
    queue_depth: int | None = None  # the depth `schedule` kept to
    binary: Binary | None = field(default=None)  # set by `emit`

    @property
    def scheduled(self) -> bool:
        return self.waits is not None

    @property
    def space_sizes(self) -> dict[str, int]:
        """What the scheduler tracks: the on-chip memories and the activation arena."""
        return {"spad": self.config.spad_rows, "acc": self.config.acc_rows, "dram": self.arena}

    def instructions(self) -> list[Instruction]:
        """The instructions, with their token masks once scheduled (none before)."""
        if not self.scheduled:
            return [item.instruction() for item in self.items]
        return [item.instruction(w, s) for item, w, s in zip(self.items, self.waits, self.signals)]

    def encode(self) -> bytes:
        """The code section: `encode_program(self.instructions())`, without building them."""
        items, n = self.items, len(self.items)
        waits, signals = (self.waits, self.signals) if self.scheduled else ([0] * n, [0] * n)
        return encode_program_fields([item.mnemonic for item in items], [item.fields for item in items],
                                     {"wait": waits, "signal": signals, "layer": [item.layer for item in items]})

    def to_text(self) -> str:
        """Readable assembly: a header, then each layer's name as a comment over its instructions."""
        state = "emitted" if self.binary is not None else "scheduled" if self.scheduled else "not scheduled"
        lines = [f"# machine code for hw '{self.config.name}': {len(self.items)} instructions, "
                 f"{len(self.layers)} layers, {len(self.constants)} constant bytes, {state}"]
        layer = None
        canonical = decode_program(self.encode())  # enum codes as the disassembler wants them
        for pc, instr in enumerate(canonical):
            item_layer = self.items[pc].layer
            if instr.mnemonic != "halt" and item_layer != layer:
                layer = item_layer
                lines.append(f"# layer {layer}: {self.layers[layer]}")
            lines.append(f"    {format_instruction(instr):<72} # {pc}")
        return "\n".join(lines) + "\n"

    def verify(self) -> None:
        """Check the invariants of the module docstring; a `VitcError` names what broke."""
        code = self.encode()
        if encode_program(decode_program(code)) != code:
            raise VitcError("machine code: the instructions do not survive an encode/decode round trip")
        if self.scheduled:
            _check_token_pairing(self.items, self.waits, self.signals)
            check_queue_depth(self.items, self.waits, self.signals, self.queue_depth)
        if self.binary is not None and self.binary.code != code:
            raise VitcError("machine code: the emitted binary's code is not the encoding of the instructions")


def _check_token_pairing(items: list[Emitted], waits: list[int], signals: list[int]) -> None:
    """On each queue src->dst the k-th wait follows the k-th signal, and every signal is consumed."""
    table = load_table()
    units = table.units
    pending = {(s, d): 0 for s in range(len(units)) for d in range(len(units)) if s != d}
    for pc, item in enumerate(items):
        own = table.unit_index(table.by_mnemonic[item.mnemonic].unit)
        if own is None:
            continue  # control instructions carry no tokens (the encoder checks)
        for s in range(len(units)):
            if waits[pc] >> s & 1:
                if pending[(s, own)] == 0:
                    raise VitcError(f"machine code: instruction {pc} ({item.mnemonic}) waits for {units[s]}, "
                                    f"but no earlier {units[s]} instruction signalled {units[own]}")
                pending[(s, own)] -= 1
        for d in range(len(units)):
            if signals[pc] >> d & 1:
                pending[(own, d)] += 1
    left = {queue: n for queue, n in pending.items() if n}
    if left:
        (s, d), n = next(iter(left.items()))
        raise VitcError(f"machine code: {n} token(s) signalled on queue {units[s]}->{units[d]} are never waited for")
