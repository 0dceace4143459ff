"""The hand-written SVG chart writer: axes, ticks, ranges, escaping, well-formed output."""

import xml.etree.ElementTree as ElementTree

import pytest

from compiler.perf.svg import Axis, Chart, range_of, svg_document, write_svg
from isa.errors import VitcError

SVG = "{http://www.w3.org/2000/svg}"


def test_ticks_linear_and_logarithmic():
    assert Axis("x", 0, 100).ticks() == [0, 20, 40, 60, 80, 100]
    assert Axis("x", 0.5, 2000, log=True).ticks() == [1, 10, 100, 1000]  # more than two decades: powers of ten
    assert Axis("x", 3, 300, log=True).ticks() == [5, 10, 20, 50, 100, 200]  # two decades: 1-2-5


def test_fraction_places_values_on_the_axis():
    assert Axis("x", 10, 1000, log=True).fraction(100) == 0.5
    assert Axis("x", -1, 3).fraction(0) == 0.25


@pytest.mark.parametrize("axis, message", [
    (lambda: Axis("x", 5, 5), "empty or invalid range"),
    (lambda: Axis("cycles", 0, 10, log=True), "a logarithmic axis needs a positive range"),
    (lambda: range_of([0.0, -3.0], log=True), "no value to plot"),
])
def test_bad_axes_are_errors(axis, message):
    with pytest.raises(VitcError, match=message):
        axis()


def test_ranges_hold_every_value_even_a_single_one():
    assert range_of([4.0], log=True) == (2.0, 8.0)
    lo, hi = range_of([0.5], log=False)
    assert lo < 0.5 < hi
    lo, hi = range_of([1, 1000], log=True)
    assert lo < 1 and hi > 1000


def test_document_is_well_formed_escaped_and_stacked(tmp_path):
    top = Chart("a & b <c>", Axis("x <1>", 1, 100, log=True), Axis("y", 0, 1))
    top.line([(1, 0.1), (100, 0.9)], "#123456", label='line "one"')
    top.points([(10, 0.5)], "#654321", "points", names=["p&q"])
    top.note("note <with> markup & more")
    bottom = Chart("second", Axis("x", 0, 1), Axis("y", 0, 1))
    path = tmp_path / "chart.svg"
    write_svg(path, [top, bottom])
    root = ElementTree.parse(path).getroot()
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"a & b <c>", "x <1>", 'line "one"', "note <with> markup & more", "second"} <= set(texts)
    assert [t.text for t in root.iter(f"{SVG}title")] == ["p&q"]
    assert int(root.get("height")) == top.total_height + bottom.total_height
    assert path.read_text() == svg_document([top, bottom])
