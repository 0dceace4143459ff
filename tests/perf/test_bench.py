"""bench/run_bench.py: its table on vit-micro (each figure checked against an independent run of
the emulator and onnxruntime in this test), failures reported as rows, the output comparison."""

import json

import numpy as np
import onnxruntime
import pytest

from bench.run_bench import Row, compare_outputs, format_table, main, run_bench, run_step
from isa.config import load_config

MODEL, VARIANT, BUILD = "vit-micro", "qdq-u8-pt", {"layernorm": "none"}  # the smallest build: fast


@pytest.fixture(scope="module")
def micro_row():
    (row,) = run_bench([MODEL], ["default"], VARIANT, BUILD, seed=0, repeats=1)
    if row.status == "compile":
        pytest.skip(f"vit-micro does not compile yet: {row.error}")
    return row


def test_vit_micro_figures_match_an_independent_run(micro_row):
    from compiler.codegen.driver import compile_graph
    from compiler.frontend import import_model
    from isa.container import write_vitb
    from models.zoo import quantized_model_path, sample_input
    from runtime_emulator import run_binary

    config = load_config("default")
    path = quantized_model_path(MODEL, VARIANT, **BUILD)
    binary = compile_graph(import_model(path), config)
    inputs = sample_input(MODEL, 0)
    result = run_binary(write_vitb(binary), inputs, config)
    stats = result.stats
    assert micro_row.status == "ok", micro_row.error
    assert (micro_row.cycles, micro_row.roofline_cycles) == (stats.cycles, stats.roofline_cycles)
    assert micro_row.matrix_utilisation == stats.matrix_utilisation
    assert micro_row.busy_cycles == stats.busy
    assert micro_row.dram_bytes == stats.dram_bytes_read + stats.dram_bytes_written
    io_bytes = sum(entry.nbytes for entry in binary.io)
    assert micro_row.compulsory_bytes == len(binary.constants) + io_bytes
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    expected = dict(zip([o.name for o in session.get_outputs()], session.run(None, inputs)))
    exact = all(np.array_equal(result.outputs[name], value) for name, value in expected.items())
    assert micro_row.exact == exact
    assert micro_row.mismatched_elements == sum(int(np.count_nonzero(result.outputs[n] != v)) for n, v in expected.items())
    assert all(value > 0 for value in (micro_row.compile_seconds, micro_row.emulate_seconds, micro_row.onnxruntime_seconds,
                                       micro_row.compile_rss_mb, micro_row.run_rss_mb))


def test_vit_micro_table_and_json(micro_row):
    lines = format_table([micro_row]).splitlines()
    assert lines[0].split()[:4] == ["model", "config", "compile", "s"]
    cells = lines[2].split()
    assert cells[:2] == ["vit-micro", "default"]
    assert f"{micro_row.cycles:,}" in cells and f"{micro_row.roofline_cycles:,}" in cells
    assert ("yes" if micro_row.exact else "NO") in cells
    busy = "/".join(f"{100 * micro_row.busy_cycles[u] / micro_row.cycles:.0f}" for u in ("load", "store", "matrix", "vector"))
    assert busy in cells
    data = micro_row.to_dict()
    assert data["roofline_ratio"] == micro_row.cycles / micro_row.roofline_cycles
    assert json.loads(json.dumps(data)) == data


def test_a_model_that_cannot_be_built_is_a_row_with_its_reason(capsys):
    assert main(["--models", "no-such-model", "--configs", "default,large", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [(r["model"], r["config"], r["status"]) for r in rows] == [("no-such-model", "default", "build"),
                                                                     ("no-such-model", "large", "build")]
    assert "unknown model 'no-such-model'" in rows[0]["error"]


def test_failed_rows_show_dashes_and_a_numbered_reason():
    rows = [Row("deit-tiny", "default", status="compile", error="layernorm: not lowered"),
            Row("vit-base", "large", status="emulate", error="out of memory")]
    lines = format_table(rows).splitlines()
    assert lines[2].split()[:4] == ["deit-tiny", "default", "-", "-"] and lines[2].endswith("compile failed [1]")
    assert lines[3].endswith("emulate failed [2]")
    assert lines[-2:] == ["[1] deit-tiny on default: compile: layernorm: not lowered",
                          "[2] vit-base on large: emulate: out of memory"]


def test_compare_outputs(tmp_path):
    a, b, c = tmp_path / "a.npz", tmp_path / "b.npz", tmp_path / "c.npz"
    np.savez(a, logits=np.arange(10, dtype=np.float32))
    np.savez(b, logits=np.arange(10, dtype=np.float32) * np.array([1] * 9 + [2], np.float32))
    np.savez(c, other=np.arange(10, dtype=np.float32))
    assert compare_outputs(a, a) == (True, 0)
    assert compare_outputs(a, b) == (False, 1)
    assert compare_outputs(a, c) == (False, -1)


def test_a_failing_step_reports_an_error_not_a_traceback(tmp_path):
    result = run_step(["emulate", tmp_path / "missing.vitb", "default", MODEL, 0, tmp_path / "out.npz"], timeout=120)
    assert set(result) == {"error"} and result["error"].endswith("missing.vitb: cannot read: No such file or directory")
    assert run_step(["no-such-step"], timeout=120) == {"error": "usage: steps.py compile|emulate|onnxruntime ARGS..."}


def test_cold_repeats_report_the_median_time_and_the_largest_peak(monkeypatch, tmp_path):
    import bench.run_bench as run_bench_module

    timings = {"compile": iter([3.0, 1.0, 2.0]), "emulate": iter([0.5, 0.9, 0.7])}
    peaks = {"compile": iter([100.0, 300.0, 200.0]), "emulate": iter([50.0, 40.0, 60.0])}

    def fake_step(args, timeout):
        step = args[0]
        if step == "onnxruntime":
            return {"seconds": 0.1, "peak_rss_mb": 10.0}
        if step == "compile":
            return {"seconds": next(timings[step]), "peak_rss_mb": next(peaks[step])}
        return {"seconds": next(timings[step]), "peak_rss_mb": next(peaks[step]), "cycles": 10, "roofline_cycles": 8,
                "roofline_bound": "compute", "matrix_utilisation": 0.5, "dram_bytes": 1, "compulsory_bytes": 1,
                "instructions": 3, "busy_cycles": {"load": 1, "store": 1, "matrix": 5, "vector": 2}}

    monkeypatch.setattr(run_bench_module, "run_step", fake_step)
    monkeypatch.setattr(run_bench_module, "compare_outputs", lambda emulated, reference: (True, 0))
    (row,) = run_bench_module.bench_model("m", tmp_path / "m.onnx", ["default"], 0, 1, 60.0, tmp_path, cold_repeats=3)
    assert (row.compile_seconds, row.compile_rss_mb) == (2.0, 300.0)
    assert (row.emulate_seconds, row.run_rss_mb) == (0.7, 60.0)
