"""Run statistics: cycles, per-unit busy time and utilisation, matrix-engine utilisation, DRAM
traffic, instruction counts and per-layer attribution; as a readable table or a JSON object.

Definitions (cycles are the timing model's, see `isa/costs.py`):
- `cycles`: when the last instruction finishes (the `halt`);
- `busy[unit]`: the sum of its instructions' cycles; utilisation = busy / cycles;
- matrix-engine utilisation: MACs / (cycles * dim^2);
- roofline: the lower bound on cycles for this work (TARGET.md), the largest of MACs / dim^2,
  vector elements / dim lanes, and the compulsory DRAM bytes (constants and inputs read once,
  outputs written once) / DMA bytes per cycle in each direction; `cycles / roofline` measures
  the schedule;
- per layer (the `layer` field of each instruction, named by the binary's layer table):
  `start` and `end` (first start, last finish among its instructions), `span = end - start`
  and busy cycles per unit. Spans of layers overlap when the schedule pipelines them.
"""

import json
from dataclasses import dataclass, field

import numpy as np

from isa.table import load_table
from runtime_emulator.units import CONTROL, UNITS


@dataclass
class LayerStats:
    name: str
    start: int
    end: int
    busy: dict[str, int]

    @property
    def span(self) -> int:
        return self.end - self.start


@dataclass
class RunStats:
    cycles: int
    dim: int
    clock_ghz: float
    busy: dict[str, int]
    macs: int
    vector_elements: int
    dram_bytes_read: int
    dram_bytes_written: int
    compulsory_bytes_read: int
    compulsory_bytes_written: int
    dma_bytes_per_cycle: int
    instruction_counts: dict[str, int]
    layers: list[LayerStats] = field(default_factory=list)

    @property
    def roofline_cycles(self) -> int:
        return max(
            -(-self.macs // (self.dim * self.dim)),
            -(-self.vector_elements // self.dim),
            -(-self.compulsory_bytes_read // self.dma_bytes_per_cycle),
            -(-self.compulsory_bytes_written // self.dma_bytes_per_cycle),
        )

    @property
    def utilisation(self) -> dict[str, float]:
        return {unit: busy / self.cycles if self.cycles else 0.0 for unit, busy in self.busy.items()}

    @property
    def matrix_utilisation(self) -> float:
        return self.macs / (self.cycles * self.dim * self.dim) if self.cycles else 0.0

    @property
    def microseconds(self) -> float:
        return self.cycles / (self.clock_ghz * 1e3)

    def to_dict(self) -> dict:
        return {
            "cycles": self.cycles,
            "microseconds": self.microseconds,
            "busy_cycles": self.busy,
            "utilisation": self.utilisation,
            "macs": self.macs,
            "matrix_utilisation": self.matrix_utilisation,
            "vector_elements": self.vector_elements,
            "roofline_cycles": self.roofline_cycles,
            "dram_bytes_read": self.dram_bytes_read,
            "dram_bytes_written": self.dram_bytes_written,
            "instruction_counts": self.instruction_counts,
            "layers": [
                {"name": layer.name, "start": layer.start, "end": layer.end, "span": layer.span, "busy_cycles": layer.busy}
                for layer in self.layers
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def format_table(self) -> str:
        lines = [
            f"cycles               {self.cycles:>14,}  ({self.microseconds:,.1f} us at {self.clock_ghz:g} GHz)",
            f"roofline             {self.roofline_cycles:>14,}  (cycles / roofline = {self.cycles / max(self.roofline_cycles, 1):.2f})",
            f"matrix utilisation   {self.matrix_utilisation:>14.1%}  ({self.macs:,} MACs)",
            f"DRAM read            {self.dram_bytes_read:>14,} bytes",
            f"DRAM written         {self.dram_bytes_written:>14,} bytes",
            "",
            f"{'unit':<10} {'busy cycles':>14} {'utilisation':>12}",
        ]
        utilisation = self.utilisation
        lines += [f"{unit:<10} {self.busy[unit]:>14,} {utilisation[unit]:>12.1%}" for unit in UNITS]
        lines += ["", f"{'instruction':<12} {'count':>10}"]
        lines += [f"{name:<12} {count:>10,}" for name, count in sorted(self.instruction_counts.items())]
        if self.layers:
            header = f"{'layer':<32} {'start':>12} {'span':>12} " + " ".join(f"{u:>10}" for u in UNITS)
            lines += ["", header]
            for layer in self.layers:
                busy = " ".join(f"{layer.busy[u]:>10,}" for u in UNITS)
                lines.append(f"{layer.name[:32]:<32} {layer.start:>12,} {layer.span:>12,} {busy}")
        return "\n".join(lines)


def collect(program, timeline, binary, config) -> RunStats:
    """Statistics of a timed run of `program` (a `program.Program`) with its
    `scheduler.Timeline`; `binary` (an `isa.container.Binary`) gives the layer names and the
    compulsory traffic. Counted on the program's columns: instructions with the same operands
    share one body, whose work counts once per use."""
    uses = np.bincount(program.body, minlength=len(program.bodies))
    cycles = timeline.end - timeline.start
    on_unit = program.unit != CONTROL
    busy = np.bincount(program.unit[on_unit], weights=cycles[on_unit], minlength=len(UNITS)).astype(np.int64)
    work = program.work
    return RunStats(
        cycles=timeline.cycles,
        dim=config.dim,
        clock_ghz=config.clock_ghz,
        busy={unit: int(busy[u]) for u, unit in enumerate(UNITS)},
        macs=int(work.macs @ uses),
        vector_elements=int(work.vector_elements @ uses),
        dram_bytes_read=int(work.dram_read @ uses),
        dram_bytes_written=int(work.dram_written @ uses),
        compulsory_bytes_read=len(binary.constants) + sum(e.nbytes for e in binary.io if e.kind == "input"),
        compulsory_bytes_written=sum(e.nbytes for e in binary.io if e.kind == "output"),
        dma_bytes_per_cycle=config.dma_bytes_per_cycle,
        instruction_counts=_instruction_counts(program.opcode),
        layers=_layers(program, timeline, cycles, on_unit, binary.layers),
    )


def _instruction_counts(opcodes: np.ndarray) -> dict[str, int]:
    """Instructions per mnemonic, in the order of each mnemonic's first instruction."""
    by_opcode = load_table().by_opcode
    counts = np.bincount(opcodes)
    present = np.flatnonzero(counts)
    first_pcs = np.argmax(opcodes[None, :] == present[:, None], axis=1)
    return {by_opcode[opcode].mnemonic: int(counts[opcode]) for opcode in present[np.argsort(first_pcs)].tolist()}


def _layers(program, timeline, cycles, on_unit, layer_names) -> list[LayerStats]:
    """Per layer present (in id order): first start, last end and busy cycles per unit, from one
    sort of the instructions by layer (no pass over all instructions per layer)."""
    layer_ids = program.layer[on_unit]
    if not len(layer_ids):
        return []
    units = program.unit
    order = np.argsort(layer_ids, kind="stable")
    ids = layer_ids[order]
    firsts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    present = ids[firsts].tolist()
    first_starts = np.minimum.reduceat(timeline.start[on_unit][order], firsts).tolist()
    last_ends = np.maximum.reduceat(timeline.end[on_unit][order], firsts).tolist()
    position = np.repeat(np.arange(len(firsts)), np.diff(np.r_[firsts, len(ids)]))  # layer's rank, per sorted instruction
    busy = np.bincount(position * len(UNITS) + units[on_unit][order], weights=cycles[on_unit][order],
                       minlength=len(firsts) * len(UNITS)).reshape(len(firsts), len(UNITS)).astype(np.int64).tolist()
    return [
        LayerStats(layer_names[layer] if layer < len(layer_names) else f"layer{layer}", start, end,
                   {unit: busy_of_layer[u] for u, unit in enumerate(UNITS)})
        for layer, start, end, busy_of_layer in zip(present, first_starts, last_ends, busy)
    ]
