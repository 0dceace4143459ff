"""The per-layer profile of a timed emulator run: where the cycles go and what bounds them.

`profile_run(binary, stats, config)` joins the emulator's statistics (`RunStats`: total cycles,
per-layer start/end and per-unit busy cycles) with the work each layer's instructions do, read
from the binary (`work.py`), and with the binary's roofline (`roofline.py`).

Per layer (a layer is what the compiler marked with one `layer` id; usually one IR op):
- `cycles`: its span, first start to last finish of its instructions. Spans of layers that the
  schedule overlaps overlap too, so the shares can add up to more than 100%;
- `share`: cycles / the run's total cycles;
- matrix utilisation: MACs / (cycles * dim^2);
- `bound`: which unit was busiest within the layer: the matrix engine (compute), a DMA engine
  (memory: the busier of load and store) or the vector unit (vector).

Invariant: layers appear in layer-id order, exactly the layers the emulator reports.
"""

import json
from dataclasses import dataclass

from compiler.perf.roofline import BOUNDS, Roofline, roofline
from compiler.perf.work import Work, layer_work
from isa.config import HardwareConfig
from isa.container import Binary
from isa.errors import VitcError
from runtime_emulator.stats import RunStats

# Which units stand for which bound.
BOUND_UNITS = {"compute": ("matrix",), "memory": ("load", "store"), "vector": ("vector",)}


@dataclass(frozen=True)
class LayerProfile:
    name: str
    start: int
    cycles: int
    share: float
    busy: dict[str, int]
    work: Work
    matrix_utilisation: float
    bound: str


@dataclass(frozen=True)
class Profile:
    config_name: str
    clock_ghz: float
    cycles: int
    roofline: Roofline
    stats: RunStats
    layers: list[LayerProfile]

    @property
    def roofline_ratio(self) -> float:
        return self.cycles / max(self.roofline.cycles, 1)

    @property
    def frames_per_second(self) -> float:
        return self.clock_ghz * 1e9 / self.cycles if self.cycles else 0.0

    def to_dict(self) -> dict:
        stats = self.stats
        return {
            "config": self.config_name,
            "cycles": self.cycles,
            "frames_per_second": self.frames_per_second,
            "roofline": self.roofline.to_dict(),
            "roofline_ratio": self.roofline_ratio,
            "matrix_utilisation": stats.matrix_utilisation,
            "busy_cycles": stats.busy,
            "utilisation": stats.utilisation,
            "dram_bytes_read": stats.dram_bytes_read,
            "dram_bytes_written": stats.dram_bytes_written,
            "layers": [
                {"name": layer.name, "start": layer.start, "cycles": layer.cycles, "share": layer.share,
                 "matrix_utilisation": layer.matrix_utilisation, "bound": layer.bound, "busy_cycles": layer.busy,
                 "macs": layer.work.macs, "vector_elements": layer.work.vector_elements,
                 "dram_bytes_read": layer.work.dram_read, "dram_bytes_written": layer.work.dram_written}
                for layer in self.layers
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def format_table(self, name_width: int = 44) -> str:
        header = f"{'layer':<{name_width}} {'cycles':>10} {'share':>7} {'matrix util':>11}  {'bound':<7} {'MACs':>12} {'DRAM bytes':>11}"
        lines = [header, "-" * len(header)]
        for layer in self.layers:
            name = layer.name if len(layer.name) <= name_width else "..." + layer.name[-(name_width - 3):]
            lines.append(f"{name:<{name_width}} {layer.cycles:>10,} {layer.share:>7.1%} {layer.matrix_utilisation:>11.1%}  "
                         f"{layer.bound:<7} {layer.work.macs:>12,} {layer.work.dram_read + layer.work.dram_written:>11,}")
        return "\n".join(lines + [""] + self.summary_lines())

    def summary_lines(self) -> list[str]:
        stats, roof = self.stats, self.roofline
        busy = ", ".join(f"{unit} {cycles:,} ({stats.utilisation[unit]:.0%})" for unit, cycles in stats.busy.items())
        return [
            f"total cycles       {self.cycles:>14,}  ({self.cycles / (self.clock_ghz * 1e3):,.1f} us, "
            f"{self.frames_per_second:,.0f} frames/s at {self.clock_ghz:g} GHz on {self.config_name!r})",
            f"roofline cycles    {roof.cycles:>14,}  ({roof.bound} bound: compute {roof.compute_cycles:,}, "
            f"memory {roof.memory_cycles:,}, vector {roof.vector_cycles:,}); cycles / roofline = {self.roofline_ratio:.2f}",
            f"matrix utilisation {stats.matrix_utilisation:>14.1%}  ({roof.macs:,} MACs)",
            f"DRAM read          {stats.dram_bytes_read:>14,}  bytes (compulsory {roof.compulsory_read:,})",
            f"DRAM written       {stats.dram_bytes_written:>14,}  bytes (compulsory {roof.compulsory_written:,})",
            f"busy cycles        {busy}",
        ]


def layer_bound(busy: dict[str, int]) -> str:
    """compute, memory or vector: the bound whose units were busiest (ties: in BOUNDS order)."""
    load = {bound: max(busy[unit] for unit in units) for bound, units in BOUND_UNITS.items()}
    return max(BOUNDS, key=lambda bound: (load[bound], -BOUNDS.index(bound)))


def profile_run(binary: Binary, stats: RunStats, config: HardwareConfig) -> Profile:
    """The profile of a timed run (`stats`) of `binary` on `config`."""
    per_layer = layer_work(binary)
    if len(per_layer) != len(stats.layers):
        raise VitcError(f"profile: the binary has {len(per_layer)} layers with instructions, "
                        f"the run's statistics {len(stats.layers)}: they are not of the same program")
    layers = []
    for work, layer in zip(per_layer.values(), stats.layers):
        span = layer.span
        layers.append(LayerProfile(
            name=layer.name,
            start=layer.start,
            cycles=span,
            share=span / stats.cycles if stats.cycles else 0.0,
            busy=dict(layer.busy),
            work=work,
            matrix_utilisation=work.macs / (span * config.dim * config.dim) if span else 0.0,
            bound=layer_bound(layer.busy),
        ))
    return Profile(config.name, config.clock_ghz, stats.cycles, roofline(binary, config, sum(per_layer.values(), Work())),
                   stats, layers)
