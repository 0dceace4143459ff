"""The `interleave` machine pass: on vit-micro its output is a permutation of what
`select-instructions` selected, not the same order, that schedules, encodes and verifies; bad
windows and a pass before instruction selection are clear errors; `--list-passes` shows it
with its option. On vit-micro (both configurations) the programs of windows 1 and 3 compute the
same outputs, hazard-free (vit-micro is too small to gain cycles: tests/compiler/codegen/
test_interleave.py shows the gain on programs made for it, bench/run_bench.py on the zoo)."""

import numpy as np
import pytest

from compiler.cli.main import main as vitc_main
from compiler.codegen.driver import backend_pipeline, compile_graph_full
from compiler.frontend import import_model
from compiler.ir.pass_manager import PassManager
from compiler.ir.pipeline import parse_pipeline
from compiler.ir.testing import check_lines
from isa.config import load_config
from isa.container import write_vitb
from models import zoo
from runtime_emulator import run_binary
from tests.compiler.passes.backend_graphs import matmul_then_tables, vitc_opt_on_text

PLANNED = "fold-layout,tile-matmul,plan-memory"  # no fusion: the matmul and each table are layers


def opt(tmp_path, capsys, pipeline: str, *flags: str) -> tuple[int, str, str]:
    return vitc_opt_on_text(tmp_path, capsys, matmul_then_tables(197, 64, 96, tables=2), pipeline, *flags)


def test_the_pass_reorders_the_selected_instructions_and_they_still_verify():
    config = load_config("default")
    graph = import_model(zoo.quantized_model_path("vit-micro", zoo.VARIANTS[0]))
    selection = backend_pipeline(config).split(",interleave")[0]
    PassManager(parse_pipeline(selection)).run(graph)
    selected = list(graph.machine.items)
    PassManager(parse_pipeline("interleave{window=3},schedule,emit")).run(graph)
    interleaved = graph.machine.items
    assert sorted(map(id, interleaved)) == sorted(map(id, selected)) and interleaved != selected
    graph.machine.verify()


@pytest.mark.parametrize("pipeline, message", [
    ("interleave", "pass 'interleave' (#1 of the pipeline) works on machine code: run select-instructions before it"),
    (f"{PLANNED},select-instructions,interleave{{window=0}}", "window must be >= 1 layers, got 0"),
])
def test_impossible_interleavings_are_clear_errors(tmp_path, capsys, pipeline, message):
    code, out, err = opt(tmp_path, capsys, pipeline)
    assert code == 1 and message in err and "Traceback" not in err, err


def test_list_passes_shows_the_pass_and_its_window(capsys):
    with pytest.raises(SystemExit):
        vitc_main(["opt", "--list-passes"])
    check_lines(capsys.readouterr().out, ["interleave (machine): Re-order the machine program so consecutive layers "
                                          "overlap on the units (list scheduling, conflicts kept in order).",
                                          "window: int = 2"])


@pytest.mark.parametrize("config_name", ["default", "large"])
def test_vit_micro_interleaved_computes_the_same_outputs_hazard_free(config_name):
    config = load_config(config_name)
    inputs = zoo.sample_input("vit-micro", 2)
    results = {}
    for window in (1, 3):
        graph = import_model(zoo.quantized_model_path("vit-micro", zoo.VARIANTS[0]))
        pipeline = backend_pipeline(config).replace(",interleave,", f",interleave{{window={window}}},")
        compiled = compile_graph_full(graph, config, passes=PassManager(parse_pipeline(pipeline)))
        results[window] = run_binary(write_vitb(compiled.binary), inputs, config, check_hazards=True)
    for name, expected in results[1].outputs.items():
        got = results[3].outputs[name]
        differs = np.flatnonzero(got.reshape(-1) != expected.reshape(-1))
        assert differs.size == 0, (f"{name}[{differs[:1]}]: {got.reshape(-1)[differs[:1]]} interleaved, "
                                   f"{expected.reshape(-1)[differs[:1]]} in program order")
