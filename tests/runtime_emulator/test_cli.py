"""`vitc run` end to end: assemble the example, run it from .npy files, check the .npz, the
statistics (table and JSON), the trace file, and that errors exit 1 with one message and leave
no output file behind."""

import json
from pathlib import Path

import numpy as np
import pytest

from compiler.cli.main import main
from tests.runtime_emulator.harness import assert_equal
from tests.runtime_emulator.test_example_matmul256 import EXAMPLE, qlinear_matmul

F32 = np.float32


@pytest.fixture
def example(tmp_path):
    binary = tmp_path / "mm.vitb"
    assert main(["asm", str(EXAMPLE), "-o", str(binary)]) == 0
    rng = np.random.default_rng(7)
    a = rng.integers(0, 256, (256, 256)).astype(np.uint8)
    b = rng.integers(-127, 128, (256, 256)).astype(np.int8)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    return tmp_path, binary, a, b


def test_run_writes_outputs_stats_and_trace(example, capsys):
    folder, binary, a, b = example
    out, trace = folder / "out.npz", folder / "trace.json"
    code = main(["run", str(binary), "--input", f"a={folder / 'a.npy'}", "--input", f"b={folder / 'b.npy'}",
                 "-o", str(out), "--stats", "--json", "--trace", str(trace), "--check-hazards"])
    assert code == 0
    multiplier = F32(F32(F32(0.02) * F32(0.005)) / F32(0.4))
    with np.load(out) as outputs:
        assert_equal("y", outputs["y"], qlinear_matmul(a, 128, b, 0, multiplier, 125))
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split()[:2] == ["cycles", "71,624"]
    assert json.loads(printed[-1])["cycles"] == 71624
    events = json.loads(trace.read_text())["traceEvents"]
    assert sum(e["ph"] == "X" for e in events) == 33


@pytest.mark.parametrize("extra,message", [
    (["--hw", "large"], "built for hardware configuration"),
    (["--input", "a"], "--input 'a': expected NAME=FILE.npy"),
    (["--input", "a=/nonexistent.npy"], "input 'a' /nonexistent.npy: cannot read"),
    (["--functional-only", "--stats"], "need timing"),
])
def test_errors_exit_1_with_one_message_and_no_output(example, capsys, extra, message):
    folder, binary, _, _ = example
    out = folder / "out.npz"
    code = main(["run", str(binary), "--input", f"b={folder / 'b.npy'}", "-o", str(out)] + extra)
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("vitc: error: ") and message in err and "Traceback" not in err
    assert not out.exists()
    assert [p.name for p in folder.iterdir() if p.name.startswith(".out.npz")] == []


def test_not_a_npy_file(example, capsys):
    folder, binary, _, _ = example
    (folder / "bad.npy").write_bytes(b"not numpy")
    assert main(["run", str(binary), "--input", f"a={folder / 'bad.npy'}"]) == 1
    assert "input 'a': " in capsys.readouterr().err


def test_functional_only_run(example):
    folder, binary, a, b = example
    out = folder / "out.npz"
    assert main(["run", str(binary), "--input", f"a={folder / 'a.npy'}", "--input", f"b={folder / 'b.npy'}",
                 "-o", str(out), "--functional-only"]) == 0
    multiplier = F32(F32(F32(0.02) * F32(0.005)) / F32(0.4))
    with np.load(out) as outputs:
        assert_equal("y", outputs["y"], qlinear_matmul(a, 128, b, 0, multiplier, 125))
