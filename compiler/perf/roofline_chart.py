"""The roofline chart of a profile (log-log SVG): the machine's roofs and one point per layer.

- x: arithmetic intensity, MACs per DRAM byte on the busier DMA direction
  (`macs / max(bytes read, bytes written)`: the two directions run in parallel, see
  `roofline.py`);
- y: performance, MACs per cycle over the layer's span;
- roofs: compute, `dim * dim` MACs per cycle; bandwidth, `dma_bytes_per_cycle * intensity`.
  They meet at the ridge point, `dim * dim / dma_bytes_per_cycle` MACs per byte.
Each layer is coloured by its bound (compute / memory / vector, see `profile.py`); the whole
model is one larger point. Layers with no MACs (vector or copy work only) or no DRAM traffic
have no place on these axes: a note under the chart counts them.
"""

from compiler.perf.profile import Profile
from compiler.perf.roofline import BOUNDS
from compiler.perf.svg import PALETTE, Axis, Chart, range_of
from isa.config import HardwareConfig
from isa.errors import VitcError

BOUND_COLOURS = dict(zip(BOUNDS, PALETTE[1:]))
MODEL_COLOUR = PALETTE[4]


def _intensity(macs: int, read: int, written: int) -> float:
    return macs / max(read, written)


def roofline_chart(profile: Profile, config: HardwareConfig, title: str = "") -> Chart:
    peak = config.dim * config.dim
    bandwidth = config.dma_bytes_per_cycle
    plotted = [layer for layer in profile.layers
               if layer.work.macs and layer.cycles and max(layer.work.dram_read, layer.work.dram_written)]
    stats = profile.stats
    if not stats.macs or not max(stats.dram_bytes_read, stats.dram_bytes_written):
        raise VitcError("roofline chart: the program does no matrix work or moves no DRAM bytes; nothing to plot")
    model_point = (_intensity(stats.macs, stats.dram_bytes_read, stats.dram_bytes_written), stats.macs / profile.cycles)
    points = {layer.name: (_intensity(layer.work.macs, layer.work.dram_read, layer.work.dram_written),
                           layer.work.macs / layer.cycles) for layer in plotted}
    ridge = peak / bandwidth
    xs = [x for x, _ in points.values()] + [model_point[0], ridge]
    ys = [y for _, y in points.values()] + [model_point[1], peak]
    x_axis = Axis("arithmetic intensity (MACs per DRAM byte, busier DMA direction)", *range_of(xs, log=True), log=True)
    y_axis = Axis("performance (MACs per cycle)", *range_of(ys, log=True), log=True)
    chart = Chart(title or f"Roofline on {config.name!r} (dim {config.dim}, {bandwidth} B/cycle DMA)", x_axis, y_axis,
                  legend_at_bottom=True)
    chart.line([(x_axis.lo, bandwidth * x_axis.lo), (ridge, peak)], PALETTE[0], f"memory roof: {bandwidth} B/cycle", dashed=True)
    chart.line([(ridge, peak), (x_axis.hi, peak)], PALETTE[0], f"compute roof: {peak} MACs/cycle")
    for bound in BOUNDS:
        mine = [layer for layer in plotted if layer.bound == bound]
        if mine:
            chart.points([points[layer.name] for layer in mine], BOUND_COLOURS[bound], f"{bound}-bound layers",
                         names=[f"{layer.name}: {layer.cycles:,} cycles, {layer.matrix_utilisation:.1%} matrix" for layer in mine])
    chart.points([model_point], MODEL_COLOUR, "whole model", names=[f"model: {profile.cycles:,} cycles"], radius=7)
    chart.note(f"{len(plotted)} of {len(profile.layers)} layers plotted; the others do no matrix work or move no DRAM bytes.")
    chart.note(f"cycles {profile.cycles:,}, roofline {profile.roofline.cycles:,} ({profile.roofline.bound} bound), "
               f"ratio {profile.roofline_ratio:.2f}, matrix utilisation {stats.matrix_utilisation:.1%}")
    return chart
