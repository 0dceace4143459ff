"""Helpers for text-in/text-out tests of passes (the FileCheck of vitc), usable from any area.

`run_pipeline_on_text(text, pipeline)` parses `.vir` text, runs the pipeline with verification
and the text round trip after every pass, and returns the printed result.
`check_lines(output, expected)` requires each expected line, stripped, to occur as a stripped
line of `output`, in order (other lines may come between); `check_no_line` requires a fragment
to be absent. Failures raise AssertionError showing the output and what was looked for.
"""

from __future__ import annotations

from compiler.ir.parser import parse_graph
from compiler.ir.pass_manager import Instrumentation, PassManager
from compiler.ir.pipeline import parse_pipeline
from compiler.ir.printer import print_graph


def run_pipeline_on_text(text: str, pipeline: str) -> str:
    graph = parse_graph(text, "<test input>")
    PassManager(parse_pipeline(pipeline), Instrumentation(verify_each=True)).run(graph)
    return print_graph(graph)


def check_lines(output: str, expected: list[str]) -> None:
    lines = [line.strip() for line in output.splitlines()]
    position = 0
    for want in expected:
        want = want.strip()
        try:
            position = lines.index(want, position) + 1
        except ValueError:
            raise AssertionError(f"expected line not found (in order):\n  {want}\nin output:\n{output}") from None


def check_no_line(output: str, fragment: str) -> None:
    for number, line in enumerate(output.splitlines(), start=1):
        if fragment in line:
            raise AssertionError(f"line {number} contains {fragment!r} but should not:\n  {line}\nin output:\n{output}")
