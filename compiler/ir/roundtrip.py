"""The text round-trip check: print a graph, parse the text back, require an equal graph.

Used by tests and by the pass manager's `--verify-each`; a failure is an `IRError` naming the
first difference, because it means the printer or the parser lost information.
"""

from __future__ import annotations

from compiler.ir.equality import graph_difference
from compiler.ir.errors import IRError
from compiler.ir.graph import Graph
from compiler.ir.parser import parse_graph
from compiler.ir.printer import print_graph


def assert_roundtrip(graph: Graph) -> str:
    """Check print -> parse -> equal; returns the printed text (so callers need not print twice)."""
    text = print_graph(graph)
    parsed = parse_graph(text, filename=f"<printed @{graph.name}>")
    difference = graph_difference(graph, parsed)
    if difference is not None:
        raise IRError(f"graph @{graph.name} does not survive the text round trip: {difference}")
    return text
