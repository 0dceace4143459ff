"""The sweep chart (SVG): cycles and matrix utilisation against on-chip memory, one series per
array size, from the feasible points of a sweep.

Top: cycles (log) against on-chip KiB, scratchpad plus accumulator (log). Bottom: matrix-engine
utilisation (linear, %) against the same axis. Infeasible points are counted in a note.
"""

from compiler.perf.svg import PALETTE, Axis, Chart, range_of
from compiler.perf.sweep import SweepPoint
from isa.errors import VitcError


def _series(points: list[SweepPoint]) -> dict[int, list[SweepPoint]]:
    by_dim: dict[int, list[SweepPoint]] = {}
    for point in points:
        by_dim.setdefault(point.dim, []).append(point)
    return {dim: sorted(mine, key=lambda p: (p.onchip_kib, p.spad_kib)) for dim, mine in sorted(by_dim.items())}


def sweep_charts(points: list[SweepPoint], model: str) -> list[Chart]:
    feasible = [p for p in points if p.feasible]
    if not feasible:
        raise VitcError("sweep chart: no point of the sweep compiled and ran; nothing to plot")
    x_axis = Axis("on-chip memory (KiB, scratchpad + accumulator)", *range_of([p.onchip_kib for p in feasible], log=True), log=True)
    cycles = Chart(f"{model}: cycles against on-chip memory",
                   x_axis, Axis("cycles", *range_of([p.cycles for p in feasible], log=True), log=True))
    utilisation = Chart(f"{model}: matrix-engine utilisation against on-chip memory",
                        x_axis, Axis("matrix utilisation (%)", *range_of([100 * p.matrix_utilisation for p in feasible], log=False)))
    for colour, (dim, mine) in zip(PALETTE * 4, _series(feasible).items()):
        label = f"dim {dim}"
        names = [f"dim {p.dim}, spad {p.spad_kib} KiB, acc {p.acc_kib} KiB: {p.cycles:,} cycles, "
                 f"{p.matrix_utilisation:.1%}" for p in mine]
        for chart, values in ((cycles, [p.cycles for p in mine]), (utilisation, [100 * p.matrix_utilisation for p in mine])):
            xy = list(zip([p.onchip_kib for p in mine], values))
            if len(xy) > 1:
                chart.line(xy, colour)
            chart.points(xy, colour, label, names)
    failed = len(points) - len(feasible)
    if failed:
        cycles.note(f"{failed} of {len(points)} points could not be built or run (see the table).")
    return [cycles, utilisation]
