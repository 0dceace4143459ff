"""The design-space sweep: one model compiled and emulated on every configuration of a grid.

`run_sweep(graph, base, dims, spad_kibs, acc_kibs, inputs)` derives one configuration per
(dim, spad KiB, acc KiB) point from `base` (`hw_variants.py`), compiles the IR graph for it,
runs the binary on the emulator with timing (handing it the same configuration, so the hashes
agree) and records cycles, matrix utilisation and the roofline. A point that cannot be built
(an invalid configuration, a model that does not fit, a backend failure) is recorded with its
reason and the sweep goes on: one bad corner of the grid must not hide the rest.

Invariant: points come out in grid order (dim, then spad, then acc), whatever fails.
"""

import itertools
import json
import time
from dataclasses import dataclass

from compiler.codegen import driver
from compiler.perf.hw_variants import derive_config, sweep_overrides
from compiler.perf.roofline import roofline
from isa.config import HardwareConfig
from isa.container import write_vitb
from isa.errors import VitcError
from runtime_emulator import run_binary


@dataclass(frozen=True)
class SweepPoint:
    dim: int
    spad_kib: int
    acc_kib: int
    clock_ghz: float
    cycles: int | None = None
    matrix_utilisation: float | None = None
    roofline_cycles: int | None = None
    compile_seconds: float | None = None
    emulate_seconds: float | None = None
    error: str | None = None  # why the point has no figures

    @property
    def feasible(self) -> bool:
        return self.error is None

    @property
    def onchip_kib(self) -> int:
        return self.spad_kib + self.acc_kib

    @property
    def frames_per_second(self) -> float | None:
        return self.clock_ghz * 1e9 / self.cycles if self.cycles else None

    @property
    def roofline_ratio(self) -> float | None:
        return self.cycles / self.roofline_cycles if self.cycles and self.roofline_cycles else None

    def to_dict(self) -> dict:
        return {"dim": self.dim, "spad_kib": self.spad_kib, "acc_kib": self.acc_kib, "onchip_kib": self.onchip_kib,
                "cycles": self.cycles, "frames_per_second": self.frames_per_second,
                "matrix_utilisation": self.matrix_utilisation, "roofline_cycles": self.roofline_cycles,
                "roofline_ratio": self.roofline_ratio, "compile_seconds": self.compile_seconds,
                "emulate_seconds": self.emulate_seconds, "error": self.error}


def _point(graph, base: HardwareConfig, dim: int, spad_kib: int, acc_kib: int, inputs: dict, compile_graph) -> SweepPoint:
    point = SweepPoint(dim, spad_kib, acc_kib, base.clock_ghz)
    try:
        config = derive_config(base, **sweep_overrides(base, dim, spad_kib, acc_kib))
    except VitcError as err:
        return _failed(point, f"invalid configuration: {err}")
    stage = "does not compile"
    try:
        start = time.perf_counter()
        binary = compile_graph(graph, config)
        compiled = time.perf_counter()
        stage = "does not run"
        stats = run_binary(write_vitb(binary), inputs, config, timing=True).stats
        emulated = time.perf_counter()
        bound = roofline(binary, config).cycles
    except VitcError as err:
        return _failed(point, f"{stage}: {err}")
    except Exception as err:  # a bug at one point must not lose the rest of the sweep
        return _failed(point, f"{stage}: internal error {type(err).__name__}: {err}")
    return SweepPoint(dim, spad_kib, acc_kib, config.clock_ghz, stats.cycles, stats.matrix_utilisation,
                      bound, compiled - start, emulated - compiled)


def _failed(point: SweepPoint, reason: str) -> SweepPoint:
    return SweepPoint(point.dim, point.spad_kib, point.acc_kib, point.clock_ghz, error=reason)


def run_sweep(graph, base: HardwareConfig, dims, spad_kibs, acc_kibs, inputs: dict, *, compile_graph=None,
              progress=None) -> list[SweepPoint]:
    """Every point of the grid, in grid order. `compile_graph(graph, config) -> Binary` defaults to
    the backend's; `progress(point)` is called after each point."""
    compile_graph = compile_graph or driver.compile_graph
    points = []
    for dim, spad_kib, acc_kib in itertools.product(dims, spad_kibs, acc_kibs):
        point = _point(graph, base, dim, spad_kib, acc_kib, inputs, compile_graph)
        points.append(point)
        if progress:
            progress(point)
    return points


TABLE_HEADER = (f"{'dim':>4} {'spad KiB':>9} {'acc KiB':>8} {'cycles':>12} {'fps':>9} {'matrix util':>11} "
                f"{'on-chip KiB':>11} {'/roofline':>9}")


def format_row(point: SweepPoint) -> str:
    head = f"{point.dim:>4} {point.spad_kib:>9,} {point.acc_kib:>8,}"
    if not point.feasible:
        return f"{head}  {point.error}"
    return (f"{head} {point.cycles:>12,} {point.frames_per_second:>9,.0f} {point.matrix_utilisation:>11.1%} "
            f"{point.onchip_kib:>11,} {point.roofline_ratio:>9.2f}")


def to_json(points: list[SweepPoint]) -> str:
    return json.dumps({"points": [p.to_dict() for p in points]}, sort_keys=True)
