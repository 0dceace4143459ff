"""`vitc opt` and `vitc import`: through `main()` and once through the installed `vitc` command."""

import subprocess
import sys
from pathlib import Path

import onnx
import pytest

from compiler.cli.main import main
from compiler.ir.parser import parse_graph
from compiler.ir.printer import print_graph

TEXT = """\
graph @g(%x: tensor<2x3xf32>) -> (%y) {
  %c = const dense<[1, 2, 3, 4, 5, 6]> : tensor<2x3xi8>
  %t = transpose %c {perm = [1, 0]} : tensor<2x3xi8> -> tensor<3x2xi8>
  %y = sqrt %x : tensor<2x3xf32> -> tensor<2x3xf32> loc("Sqrt_0")
}
"""


@pytest.fixture
def vir(tmp_path):
    path = tmp_path / "in.vir"
    path.write_text(TEXT)
    return path


def test_opt_prints_the_result_to_stdout(vir, capsys):
    assert main(["opt", str(vir), "-p", "fold-constants,dce", "--verify-each"]) == 0
    out = capsys.readouterr().out
    assert out == ('graph @g(%x: tensor<2x3xf32>) -> (%y) {\n'
                   '  %y = sqrt %x : tensor<2x3xf32> -> tensor<2x3xf32> loc("Sqrt_0")\n}\n')


def test_opt_writes_output_file_and_dumps(vir, tmp_path, capsys):
    out_path = tmp_path / "out.vir"
    args = ["opt", str(vir), "-p", "fold-constants", "-o", str(out_path), "--dump-dir", str(tmp_path / "d"),
            "--print-ir-after=fold-constants", "--time-passes", "--debug-only=fold-constants"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "// ----- IR dump after fold-constants ----- //" in captured.err
    assert "[vitc.fold-constants] folded op 'transpose' %t" in captured.err
    assert "pass execution timing report" in captured.err
    result = out_path.read_text()
    assert "%t = const dense<[1, 4, 2, 5, 3, 6]> : tensor<3x2xi8>" in result
    assert print_graph(parse_graph(result)) == result
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["00-input.vir", "01-fold-constants.vir"]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize("args, message", [
    (["-p", "dce,tiling"], "vitc: error: pipeline 'dce,tiling', column 5: unknown pass 'tiling'"),
    (["-p", "dce", "--print-ir-after=dcx"], "vitc: error: --print-ir-after: unknown pass 'dcx'"),
    (["-p", "dce", "--debug-only=dce,nope"], "vitc: error: --debug-only: unknown pass 'nope'"),
])
def test_opt_flag_errors(vir, capsys, args, message):
    assert main(["opt", str(vir)] + args) == 1
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_opt_bad_input_is_one_line_and_no_output_file(tmp_path, capsys):
    bad = tmp_path / "bad.vir"
    bad.write_text(TEXT.replace("sqrt %x", "sqrt %z"))
    out_path = tmp_path / "out.vir"
    assert main(["opt", str(bad), "-o", str(out_path)]) == 1
    assert capsys.readouterr().err == f"vitc: error: {bad}:4:13: %z is used before it is defined (or never defined)\n"
    assert not out_path.exists()
    assert main(["opt", str(tmp_path / "missing.vir")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_import_of_a_missing_model(tmp_path, capsys):
    assert main(["import", str(tmp_path / "none.onnx")]) == 1
    assert capsys.readouterr().err == f"vitc: error: {tmp_path / 'none.onnx'}: no such model file\n"


def test_installed_command_reads_stdin(vir):
    result = subprocess.run([sys.executable, "-m", "compiler.cli.main", "opt", "-", "-p", "canonicalize"],
                            input=TEXT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "%t =" not in result.stdout and "%y = sqrt %x" in result.stdout


FIXTURES = Path(__file__).resolve().parents[3] / "models" / "fixtures"


@pytest.mark.parametrize("fixture", ["deit-style-torchscript-opset17-qdq-u8-pt", "hf-vit-torchscript-opset17-qdq-u8-pc-pp"])
def test_import_a_real_model(fixture, tmp_path, capsys):
    model_path = FIXTURES / f"{fixture}.onnx"
    model = onnx.load(model_path)
    out_path = tmp_path / "model.vir"
    assert main(["import", str(model_path), "-o", str(out_path), "-p", "canonicalize,dce", "--verify-each"]) == 0
    text = out_path.read_text()
    graph = parse_graph(text)
    assert print_graph(graph) == text
    assert [v.name for v in graph.inputs] == [i.name for i in model.graph.input]
    assert [v.name for v in graph.outputs] == [o.name for o in model.graph.output]
    assert graph.inputs[0].type.shape == (1, 3, 32, 32) and graph.outputs[0].type.shape == (1, 10)
    assert any(op.kind == "requantize" for op in graph.ops)  # the unfused import (fuse-requant fuses it)
    onnx_nodes = {n.name for n in model.graph.node}
    assert any(loc in onnx_nodes for op in graph.ops for loc in op.loc)
