"""The work a binary's instructions do, per layer, read from the binary itself.

Decodes the code section (nothing from the compiler is used) and counts, per instruction, with
the emulator's own definitions (`runtime_emulator.timing`, the one place that says what work
an instruction does; what it costs in cycles is `isa.costs`):
- MACs: `m * n * k` for the int8 matrix engine's `mm` (`dim * dim` per cycle at best);
- vector elements: `rows * cols` for an elementwise or reducing vector instruction, one fma per
  step for `fmm` (the vector unit has `dim` lanes);
- DRAM bytes: `depth * rows * cols * esize` moved by `dma.load` (read) and `dma.store`
  (written), `esize` 1 for the scratchpad and 4 for the accumulator; a zero-fill load reads
  nothing.

Invariant: the totals over layers equal what the emulator's statistics count for the same
program (tests/perf check it, and check the figures by hand on small programs).
"""

from dataclasses import dataclass

from isa.container import Binary
from isa.encoding import decode_program
from isa.table import load_table
from runtime_emulator import timing


@dataclass(frozen=True)
class Work:
    macs: int = 0
    vector_elements: int = 0
    dram_read: int = 0
    dram_written: int = 0

    def __add__(self, other: "Work") -> "Work":
        return Work(self.macs + other.macs, self.vector_elements + other.vector_elements,
                    self.dram_read + other.dram_read, self.dram_written + other.dram_written)


def instruction_work(mnemonic: str, fields) -> Work:
    """The work of one decoded instruction (see the module docstring)."""
    unit = load_table().by_mnemonic[mnemonic].unit
    moved = timing.dram_bytes_moved(mnemonic, fields)
    return Work(
        macs=timing.macs(mnemonic, fields),
        vector_elements=timing.vector_elements(mnemonic, unit, fields),
        dram_read=moved if mnemonic == "dma.load" else 0,
        dram_written=moved if mnemonic == "dma.store" else 0,
    )


def layer_work(binary: Binary) -> dict[int, Work]:
    """Work per layer id (the instructions' `layer` field), for every layer that has instructions
    on a unit (`halt`, a control instruction, belongs to no layer's work)."""
    table = load_table()
    per_layer: dict[int, Work] = {}
    for instruction in decode_program(binary.code):
        if table.by_mnemonic[instruction.mnemonic].unit == table.control_unit:
            continue
        layer = instruction.fields["layer"]
        per_layer[layer] = per_layer.get(layer, Work()) + instruction_work(instruction.mnemonic, instruction.fields)
    return dict(sorted(per_layer.items()))


def total_work(binary: Binary) -> Work:
    return sum(layer_work(binary).values(), Work())
