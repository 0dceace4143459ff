"""A small SVG chart writer, written by hand so that vitc needs no plotting library.

`Chart(title, x, y)` is one plot: two `Axis` (logarithmic or linear), then `line`, `points`
and `note` calls add series; `svg_document(charts)` stacks charts vertically into one SVG text
and `write_svg` writes it atomically.

Invariants:
- the output is well-formed XML (every text is escaped) and a complete SVG 1.1 document;
- it is deterministic: the same calls give the same bytes (numbers are printed with fixed
  precision, nothing depends on time or dict order beyond insertion order);
- a series is clipped to its plot area, so a roof drawn past the axis range stays inside.
"""

import math
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from isa.container import write_file_atomically
from isa.errors import VitcError

WIDTH = 720
HEIGHT = 460
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 78, 24, 40, 56
NOTE_LINE = 16
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def _number(value: float) -> str:
    """A short tick label: 0.01, 2.5, 300, 4k, 1M, 1e-05."""
    if value == 0:
        return "0"
    magnitude = abs(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            return f"{value / limit:g}{suffix}"
    if magnitude < 1e-3:
        return f"{value:.0e}".replace("e-0", "e-")
    return f"{value:g}"


def _coordinate(value: float) -> str:
    return f"{value:.2f}"


@dataclass(frozen=True)
class Axis:
    label: str
    lo: float
    hi: float
    log: bool = False

    def __post_init__(self):
        if not (math.isfinite(self.lo) and math.isfinite(self.hi)) or self.hi <= self.lo:
            raise VitcError(f"chart axis {self.label!r}: empty or invalid range [{self.lo}, {self.hi}]")
        if self.log and self.lo <= 0:
            raise VitcError(f"chart axis {self.label!r}: a logarithmic axis needs a positive range, got [{self.lo}, {self.hi}]")

    def fraction(self, value: float) -> float:
        """Where `value` lies along the axis, 0 at `lo` and 1 at `hi`."""
        if self.log:
            return (math.log10(value) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo))
        return (value - self.lo) / (self.hi - self.lo)

    def ticks(self) -> list[float]:
        if self.log:
            first, last = math.floor(math.log10(self.lo)), math.ceil(math.log10(self.hi))
            steps = (1, 2, 5) if math.log10(self.hi / self.lo) <= 2.5 else (1,)  # 1-2-5 unless it crowds
            candidates = [m * 10.0 ** e for e in range(first, last + 1) for m in steps]
        else:
            raw = (self.hi - self.lo) / 5
            unit = 10.0 ** math.floor(math.log10(raw))
            step = next(m * unit for m in (1, 2, 5, 10) if m * unit >= raw)
            candidates = [i * step for i in range(math.ceil(self.lo / step), math.floor(self.hi / step) + 1)]
        return [t for t in candidates if -1e-9 <= self.fraction(t) <= 1 + 1e-9]


def range_of(values, log: bool, pad: float = 0.08) -> tuple[float, float]:
    """An axis range holding every value with some room: a factor on log axes, a fraction of
    the span on linear ones. Raises when there is nothing to show."""
    values = [v for v in values if math.isfinite(v) and (v > 0 or not log)]
    if not values:
        raise VitcError("chart: no value to plot on this axis")
    lo, hi = min(values), max(values)
    if log:
        factor = (hi / lo) ** pad if hi > lo else 2.0
        return lo / max(factor, 1.5), hi * max(factor, 1.5)
    span = hi - lo if hi > lo else (abs(hi) or 1.0)
    return lo - pad * span, hi + pad * span


@dataclass
class Chart:
    title: str
    x: Axis
    y: Axis
    width: int = WIDTH
    height: int = HEIGHT
    legend_at_bottom: bool = False  # legend in the lower-right corner instead of the upper-left
    _series: list[str] = field(default_factory=list, init=False)
    _legend: list[tuple[str, str, bool]] = field(default_factory=list, init=False)  # colour, label, is a line
    _notes: list[str] = field(default_factory=list, init=False)

    @property
    def plot_width(self) -> float:
        return self.width - MARGIN_LEFT - MARGIN_RIGHT

    @property
    def plot_height(self) -> float:
        return self.height - MARGIN_TOP - MARGIN_BOTTOM

    def _xy(self, x: float, y: float) -> tuple[str, str]:
        return (_coordinate(MARGIN_LEFT + self.x.fraction(x) * self.plot_width),
                _coordinate(MARGIN_TOP + (1 - self.y.fraction(y)) * self.plot_height))

    def line(self, points, colour: str, label: str | None = None, dashed: bool = False) -> None:
        """A polyline through (x, y) points (at least two)."""
        coordinates = " ".join(",".join(self._xy(x, y)) for x, y in points)
        dash = ' stroke-dasharray="6,4"' if dashed else ""
        self._series.append(f'<polyline points="{coordinates}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        if label:
            self._legend.append((colour, label, True))

    def points(self, points, colour: str, label: str | None = None, names=None, radius: float = 4) -> None:
        """One marker per (x, y) point; `names` (same length) become hover tooltips."""
        names = list(names) if names is not None else [None] * len(points)
        for (x, y), name in zip(points, names):
            cx, cy = self._xy(x, y)
            tooltip = f"<title>{escape(name)}</title>" if name else ""
            self._series.append(f'<circle cx="{cx}" cy="{cy}" r="{radius:g}" fill="{colour}" fill-opacity="0.75">{tooltip}</circle>')
        if label:
            self._legend.append((colour, label, False))

    def note(self, text: str) -> None:
        """A line of text under the chart."""
        self._notes.append(text)

    @property
    def total_height(self) -> int:
        return self.height + NOTE_LINE * len(self._notes)

    def render(self, clip_id: str) -> str:
        """The chart as an SVG group at the origin (the caller translates it)."""
        left, top, width, height = MARGIN_LEFT, MARGIN_TOP, self.plot_width, self.plot_height
        parts = [
            f'<clipPath id="{clip_id}"><rect x="{left}" y="{top}" width="{_coordinate(width)}" height="{_coordinate(height)}"/></clipPath>',
            f'<text x="{self.width / 2:g}" y="24" text-anchor="middle" font-size="15" font-weight="bold">{escape(self.title)}</text>',
            f'<rect x="{left}" y="{top}" width="{_coordinate(width)}" height="{_coordinate(height)}" fill="none" stroke="#333"/>',
        ]
        parts += self._grid()
        parts.append(f'<g clip-path="url(#{clip_id})">' + "".join(self._series) + "</g>")
        parts += self._legend_items()
        parts.append(f'<text x="{left + width / 2:g}" y="{top + height + 40:g}" text-anchor="middle" font-size="13">{escape(self.x.label)}</text>')
        parts.append(f'<text transform="translate(18,{top + height / 2:g}) rotate(-90)" text-anchor="middle" font-size="13">{escape(self.y.label)}</text>')
        for i, text in enumerate(self._notes):
            parts.append(f'<text x="{left}" y="{self.height + NOTE_LINE * i + 4}" font-size="12" fill="#444">{escape(text)}</text>')
        return "".join(parts)

    def _grid(self) -> list[str]:
        parts = []
        bottom = MARGIN_TOP + self.plot_height
        for tick in self.x.ticks():
            x, _ = self._xy(tick, self.y.lo)
            parts.append(f'<line x1="{x}" y1="{MARGIN_TOP}" x2="{x}" y2="{_coordinate(bottom)}" stroke="#ddd"/>')
            parts.append(f'<text x="{x}" y="{_coordinate(bottom + 18)}" text-anchor="middle" font-size="11">{escape(_number(tick))}</text>')
        for tick in self.y.ticks():
            _, y = self._xy(self.x.lo, tick)
            parts.append(f'<line x1="{MARGIN_LEFT}" y1="{y}" x2="{_coordinate(MARGIN_LEFT + self.plot_width)}" y2="{y}" stroke="#ddd"/>')
            parts.append(f'<text x="{MARGIN_LEFT - 6}" y="{y}" text-anchor="end" dominant-baseline="middle" font-size="11">{escape(_number(tick))}</text>')
        return parts

    def _legend_items(self) -> list[str]:
        parts = []
        x = MARGIN_LEFT + self.plot_width - 300 if self.legend_at_bottom else MARGIN_LEFT + 10
        first = MARGIN_TOP + self.plot_height - 16 * len(self._legend) + 8 if self.legend_at_bottom else MARGIN_TOP + 16
        for i, (colour, label, is_line) in enumerate(self._legend):
            y = first + 16 * i
            mark = (f'<line x1="{x}" y1="{y - 4}" x2="{x + 18}" y2="{y - 4}" stroke="{colour}" stroke-width="2"/>' if is_line
                    else f'<circle cx="{x + 9}" cy="{y - 4}" r="4" fill="{colour}"/>')
            parts.append(mark + f'<text x="{x + 24}" y="{y}" font-size="12">{escape(label)}</text>')
        return parts


def svg_document(charts: list[Chart]) -> str:
    """One SVG document with `charts` stacked top to bottom."""
    width = max(chart.width for chart in charts)
    height = sum(chart.total_height for chart in charts)
    body, offset = [], 0
    for i, chart in enumerate(charts):
        body.append(f'<g transform="translate(0,{offset})">{chart.render(f"plot{i}")}</g>')
        offset += chart.total_height
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="sans-serif">'
            f'<rect width="{width}" height="{height}" fill="white"/>' + "".join(body) + "</svg>\n")


def write_svg(path, charts: list[Chart]) -> None:
    write_file_atomically(path, svg_document(charts).encode())


