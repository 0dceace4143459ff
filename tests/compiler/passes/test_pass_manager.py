"""The pass manager's instrumentation: dumps, printing, verification after each pass, timing, logs."""

import io
import logging
from dataclasses import dataclass

import pytest

from compiler.ir.errors import IRError
from compiler.ir.graph import Graph
from compiler.ir.parser import parse_graph
from compiler.ir.pass_manager import Instrumentation, PassManager
from compiler.ir.passes import Pass
from compiler.ir.pipeline import parse_pipeline
from compiler.ir.printer import print_graph
from compiler.ir.types import TensorType
from compiler.ir.vir_io import read_vir

TEXT = """\
graph @g(%x: tensor<2x3xf32>) -> (%y) {
  %c = const dense<"AAAAAAAAgD8AAABAAABAQAAAgEAAAKBAAADAQAAA4EAAAABBAAAQQQAAIEEAADBBAABAQQAAUEEAAGBBAABwQQAAgEE="> : tensor<17xf32>
  %dead = sqrt %x : tensor<2x3xf32> -> tensor<2x3xf32>
  %t = transpose %x {perm = [1, 0]} : tensor<2x3xf32> -> tensor<3x2xf32>
  %y = transpose %t {perm = [1, 0]} : tensor<3x2xf32> -> tensor<2x3xf32>
}
"""


def run(pipeline, **options):
    stream = io.StringIO()
    graph = parse_graph(TEXT)
    PassManager(parse_pipeline(pipeline), Instrumentation(stream=stream, **options)).run(graph)
    return graph, stream.getvalue()


def test_dump_dir_has_numbered_parseable_files(tmp_path):
    graph, _ = run("dce,canonicalize", dump_dir=tmp_path / "dumps")
    names = sorted(p.name for p in (tmp_path / "dumps").iterdir())
    assert names == ["00-input.vir", "01-dce.vir", "02-canonicalize.vir"]
    assert print_graph(read_vir(tmp_path / "dumps" / "00-input.vir")) == TEXT
    assert print_graph(read_vir(tmp_path / "dumps" / "02-canonicalize.vir")) == print_graph(graph)
    assert "%dead" not in (tmp_path / "dumps" / "01-dce.vir").read_text()


def test_print_before_and_after():
    _, out = run("dce,canonicalize", print_ir_before=frozenset({"canonicalize"}), print_ir_after=frozenset({"dce"}))
    assert out.count("// ----- IR dump") == 2
    after_dce = out.index("// ----- IR dump after dce ----- //")
    before_canon = out.index("// ----- IR dump before canonicalize ----- //")
    assert after_dce < before_canon
    dumped = out[after_dce:before_canon].split("\n", 1)[1]
    assert "%dead" not in dumped and "%t = transpose" in dumped


def test_print_after_all_with_elided_constants():
    _, out = run("fold-constants,dce", print_ir_after_all=True, elide_constants=True)
    assert out.count("// ----- IR dump after ") == 2
    assert "%c = const dense<elided 68 bytes> : tensor<17xf32>" in out


def test_time_passes_reports_each_pass():
    _, out = run("dce,canonicalize,dce", time_passes=True)
    report = out[out.index("// ----- pass execution timing report ----- //"):].splitlines()
    assert report[1].startswith("// total: ") and report[1].endswith(" ms")
    assert [line.split()[-1] for line in report[2:]] == ["dce", "canonicalize", "dce"]


@dataclass(frozen=True)
class BreakTypes(Pass):
    """A broken pass (test only): gives an op a wrong result type."""

    name = "break-types"

    def apply(self, graph: Graph) -> None:
        graph.ops[-1].result.type = TensorType("f32", (9,))


def test_verify_each_catches_a_pass_that_breaks_the_ir():
    graph = parse_graph(TEXT)
    manager = PassManager([BreakTypes()], Instrumentation(verify_each=True))
    with pytest.raises(IRError, match=r"^verification after pass 'break-types' \(#1\) failed: op 'transpose' %y: "
                                      r"result type tensor<9xf32> does not match the expected tensor<2x3xf32>$"):
        manager.run(graph)


def test_per_pass_loggers(caplog):
    with caplog.at_level(logging.DEBUG, logger="vitc.dce"):
        run("dce,canonicalize")
    dce_messages = [r.getMessage() for r in caplog.records if r.name == "vitc.dce"]
    assert dce_messages == ["removed %c", "removed %dead", "removed 2 of 4 ops"]
    assert not [r for r in caplog.records if r.name == "vitc.canonicalize"]


def test_the_graph_is_verified_after_the_pipeline_even_without_verify_each():
    graph = parse_graph(TEXT)
    with pytest.raises(IRError, match=r"^verification after the pipeline 'dce,break-types' failed: op 'transpose' %y: "):
        PassManager([parse_pipeline("dce")[0], BreakTypes()]).run(graph)
