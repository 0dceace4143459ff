"""The per-layer profile, `vitc profile` and the roofline chart, on the hand-written matmul
program (tests/perf/programs.py), whose timeline follows by hand from docs/architecture.md:

  pc  instruction      layer     cycles                          runs
  0   dma.load x       input     64 + 1536 / 16 = 160            [0, 160)
  1   dma.load w       matmul    64 + 3072 / 16 = 256            [160, 416)   (load unit in order)
  2   mm               matmul    3 * 4 * max(32, 16) + 32 = 416  [416, 832)   (waits for pc 1)
  3   requant          epilogue  8 + 2048 / 16 = 136             [832, 968)
  4   dma.store y      epilogue  64 + 2048 / 16 = 192            [968, 1160)
"""

import json
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest

from compiler.cli.main import main
from compiler.perf.profile import layer_bound, profile_run
from compiler.perf.roofline_chart import roofline_chart
from compiler.perf.svg import svg_document
from isa.config import load_config
from isa.container import save_vitb, write_vitb
from runtime_emulator import run_binary
from tests.perf.programs import MACS, matmul_binary

DEFAULT = load_config("default")
SVG = "{http://www.w3.org/2000/svg}"
TOTAL = 1160
# name, start, span, busy (load, store, matrix, vector), bound
EXPECTED_LAYERS = [
    ("input", 0, 160, (160, 0, 0, 0), "memory"),
    ("matmul", 160, 672, (256, 0, 416, 0), "compute"),
    ("epilogue", 832, 328, (0, 192, 0, 136), "memory"),
]


def _profile():
    binary = matmul_binary(DEFAULT)
    inputs = {"x": np.random.default_rng(0).integers(0, 256, (32, 48), dtype=np.uint8)}
    return profile_run(binary, run_binary(write_vitb(binary), inputs, DEFAULT).stats, DEFAULT)


def test_layers_by_hand():
    profile = _profile()
    assert profile.cycles == TOTAL
    got = [(layer.name, layer.start, layer.cycles, tuple(layer.busy[u] for u in ("load", "store", "matrix", "vector")), layer.bound)
           for layer in profile.layers]
    assert got == EXPECTED_LAYERS
    shares = [layer.share for layer in profile.layers]
    assert shares == [160 / TOTAL, 672 / TOTAL, 328 / TOTAL]
    assert [layer.matrix_utilisation for layer in profile.layers] == [0.0, MACS / (672 * 256), 0.0]
    assert profile.roofline.cycles == 384 and profile.roofline_ratio == TOTAL / 384


def test_table_text():
    table = _profile().format_table()
    lines = table.splitlines()
    assert lines[0].split() == ["layer", "cycles", "share", "matrix", "util", "bound", "MACs", "DRAM", "bytes"]
    assert lines[2].split() == ["input", "160", "13.8%", "0.0%", "memory", "0", "1,536"]
    assert lines[3].split() == ["matmul", "672", "57.9%", "57.1%", "compute", "98,304", "3,072"]
    assert lines[4].split() == ["epilogue", "328", "28.3%", "0.0%", "memory", "0", "2,048"]
    assert "cycles / roofline = 3.02" in table and "compute bound: compute 384, memory 288, vector 128" in table
    summary = {line.split()[0] + " " + line.split()[1]: line.split()[2:] for line in lines[6:]}
    assert summary["DRAM read"] == ["4,608", "bytes", "(compulsory", "4,608)"]
    assert summary["DRAM written"] == ["2,048", "bytes", "(compulsory", "2,048)"]


def test_layer_bound_takes_the_busiest_unit_and_the_busier_dma_engine():
    assert layer_bound({"load": 5, "store": 9, "matrix": 8, "vector": 1}) == "memory"
    assert layer_bound({"load": 5, "store": 0, "matrix": 5, "vector": 5}) == "compute"  # ties: compute first
    assert layer_bound({"load": 0, "store": 3, "matrix": 0, "vector": 3}) == "memory"
    assert layer_bound({"load": 0, "store": 0, "matrix": 2, "vector": 3}) == "vector"


def test_roofline_chart_is_well_formed_svg_with_one_point_per_plotted_layer():
    profile = _profile()
    text = svg_document([roofline_chart(profile, DEFAULT, title='a <title> & "quotes"')])
    root = ElementTree.fromstring(text)
    assert root.tag == f"{SVG}svg"
    # Only "matmul" does matrix work and moves DRAM bytes; plus the whole-model point.
    tooltips = [c.find(f"{SVG}title").text for c in root.iter(f"{SVG}circle") if c.find(f"{SVG}title") is not None]
    assert tooltips == ["matmul: 672 cycles, 57.1% matrix", f"model: {TOTAL:,} cycles"]
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert 'a <title> & "quotes"' in texts
    assert "1 of 3 layers plotted; the others do no matrix work or move no DRAM bytes." in texts
    assert text == svg_document([roofline_chart(profile, DEFAULT, title='a <title> & "quotes"')])  # deterministic


@pytest.fixture
def binary_file(tmp_path):
    path = tmp_path / "matmul.vitb"
    save_vitb(path, matmul_binary(DEFAULT))
    return path


def test_cli_writes_table_chart_and_trace(binary_file, tmp_path, capsys):
    chart, trace = tmp_path / "roofline.svg", tmp_path / "trace.json"
    assert main(["profile", str(binary_file), "--seed", "3", "--chart", str(chart), "--trace", str(trace)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[3].split()[:2] == ["matmul", "672"]
    assert ElementTree.parse(chart).getroot().tag == f"{SVG}svg"
    events = json.loads(trace.read_text())["traceEvents"]
    assert sorted(e["name"] for e in events if e["ph"] == "X") == ["dma.load", "dma.load", "dma.store", "mm", "requant"]


def test_cli_json_with_an_input_file(binary_file, tmp_path, capsys):
    x = tmp_path / "x.npy"
    np.save(x, np.full((32, 48), 7, np.uint8))
    assert main(["profile", str(binary_file), "--input", f"x={x}", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["cycles"] == TOTAL and report["roofline"]["cycles"] == 384
    assert [(layer["name"], layer["cycles"], layer["bound"]) for layer in report["layers"]] == \
        [(name, span, bound) for name, _, span, _, bound in EXPECTED_LAYERS]


def test_cli_refuses_a_binary_for_another_configuration(binary_file, capsys):
    assert main(["profile", str(binary_file), "--hw", "large"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("vitc: error:") and "pass the matching --hw" in err and "Traceback" not in err


def test_cli_reports_a_wrong_input(binary_file, tmp_path, capsys):
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((2, 2), np.uint8))
    assert main(["profile", str(binary_file), "--input", f"x={x}"]) == 1
    assert "input 'x': got uint8 [2, 2], the binary expects uint8 [32, 48]" in capsys.readouterr().err
