"""The backend pipeline that `compile_graph` and `vitc compile` run: the whole compile.

Binaries pinned: the sha256 of vit-micro's binaries. Moving a stage into a pass must not change
a byte. Recorded at b1f2629; re-recorded when `fold-layout` and `select-instructions` became
passes, for two changes to the code: the layout plan no longer makes a buffer it then leaves
unused (a layout chain it could not undo left its end's buffer in the arena: the arena shrinks,
addresses move), and layout views take no turn in the alternation of on-chip halves (so
`canonicalize` changes no binary); `bench/verify_zoo.py` exact on every vit-micro variant
(32/32) and on deit-tiny (qdq-s8-pt, qdq-u8-pt, qop-s8-pc, qop-u8-pc-pp on both configurations);
re-recorded when the schedule itself changed: layer interleaving, column-tiled epilogues and the
cycle cost model of the tiling, exactness re-verified with bench/verify_zoo.py; and when the
tiling's cost model changed (row tiles not rounded to blocks, batch-aware, one copy of an
operand loaded once, A's narrow runs gathered on chip) and chains skip identity tables and take
row tiles of whole blocks (verify_zoo 64/64 exact); and when interleaving became the
whole-program `interleave` pass over a window of layers and the on-chip arenas a ring
(verify_zoo 64/64 exact); and when chains stored results other ops read too (LayerNorm fused
after the residual add), kept one copy of intermediate stage outputs, and matmuls could keep
every panel of B and go row tile by row tile (`resident = b-all`) (verify_zoo 64/64 exact); and
when `plan-memory` stopped reusing dead DRAM bytes within a few layers (`reuse-distance`, the
interleaving's window) (verify_zoo 64/64 exact); and when that window went from 3 layers to 2
(verify_zoo 64/64 exact); and when `cse` joined the pipeline (variant 0 dequantizes, and variant
13 quantizes, the same tensor once per consumer; those merge) (verify_zoo 64/64 exact); and when a qmatmul's bias became one int32 `valu` add per output tile instead of a
broadcasting DMA (verify_zoo 64/64 exact); and when `canonicalize` sank the reshapes around
the Gemms of pre-processed models so they chain with what follows (variant 13 only; verify_zoo
64/64 exact); and when LayerNorm's row statistics took one ACC column instead of two (the
arenas after each LayerNorm chain move; verify_zoo 64/64 exact).
The pin applies to one IR: when the frontend changes vit-micro's IR (its own pinned hash
differs), the case is skipped with that reason, and both pins need to be recorded again from a
commit whose driver is trusted. The IR pinned is the one after `fuse-requant,tabulate` (the
frontend imports the unfused steps; those passes fuse them into what the frontend emitted
itself when the pins were recorded).

The CLI: `vitc compile` takes `-p` and the pass manager's flags as `vitc opt` does, completes a
pipeline that stops before code generation, and prints, dumps and verifies the machine code
after `select-instructions`; the code generator needs the tiling `tile-matmul` records.
"""

import hashlib

import pytest

from compiler.cli.commands.compile import progress_printer
from compiler.cli.main import main as vitc_main
from compiler.codegen.driver import backend_pipeline, compile_graph
from compiler.frontend import import_model
from compiler.ir.pass_manager import PassManager
from compiler.ir.pipeline import parse_pipeline
from compiler.ir.printer import print_graph
from isa.config import load_config
from isa.container import write_vitb
from models import zoo

# variant index -> (sha256 prefix of the IR text after FRONT_PASSES, {config: sha256 prefix of the binary})
PINNED = {
    0: ("dad688466f2c840e", {"default": "139ae983f48e9e46", "large": "cecc0c5570c532fe"}),
    6: ("3d195bfa334b99b3", {"default": "5293d3caf8ea8895", "large": "2bdb1b9a88223d4d"}),
    10: ("aa6507f9e72a6d48", {"default": "2081268a3a3f9fea", "large": "5758c3c6c7fe1c72"}),
    13: ("e4f8e7d2a29e7c5c", {"default": "e2c814ed4476705a", "large": "6355895019b462bb"}),
}
FRONT_PASSES = "fuse-requant,tabulate"  # the unfused import -> the IR the pins were recorded from


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


@pytest.mark.parametrize("config_name", ["default", "large"])
@pytest.mark.parametrize("index", sorted(PINNED))
def test_vit_micro_binaries_are_the_pinned_bytes(index, config_name):
    variant = zoo.VARIANTS[index]
    ir_pin, binary_pins = PINNED[index]
    graph = import_model(zoo.quantized_model_path("vit-micro", variant))
    PassManager(parse_pipeline(FRONT_PASSES)).run(graph)
    ir_hash = _sha(print_graph(graph).encode())
    if ir_hash != ir_pin:
        pytest.skip(f"vit-micro {variant} imports to different IR now ({ir_hash}, pinned {ir_pin}): re-pin")
    binary_hash = _sha(write_vitb(compile_graph(graph, load_config(config_name))))
    assert binary_hash == binary_pins[config_name], f"vit-micro {variant} on {config_name}: binary {binary_hash}, pinned {binary_pins[config_name]}"


def _model():
    return str(zoo.quantized_model_path("vit-micro", zoo.VARIANTS[0]))


def test_compile_takes_the_pass_manager_flags(tmp_path, capsys):
    out, dumps = tmp_path / "m.vitb", tmp_path / "dumps"
    pipeline = backend_pipeline(load_config("default"))
    code = vitc_main(["compile", _model(), "-o", str(out), "-p", pipeline, "--print-ir-after=tile-matmul",
                      "--print-ir-after=schedule", "--time-passes", "--dump-dir", str(dumps), "--verify-each"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "// ----- IR dump after tile-matmul ----- //" in printed.err and "tile_m = " in printed.err
    assert "// ----- machine code dump after schedule ----- //" in printed.err and ", wait=matrix" in printed.err
    assert "// ----- pass execution timing report ----- //" in printed.err and "%  select-instructions" in printed.err
    names = [p.name for p in parse_pipeline(pipeline)]
    expected = ["00-input.vir"] + [f"{i:02d}-{name}.{'vir' if i <= names.index('plan-memory') + 1 else 's'}"
                                   for i, name in enumerate(names, start=1)]
    assert sorted(p.name for p in dumps.iterdir()) == expected
    assert expected[-4:] == ["10-select-instructions.s", "11-interleave.s", "12-schedule.s", "13-emit.s"]
    assert out.read_bytes() == write_vitb(compile_graph(import_model(_model()), load_config("default")))


def test_a_pipeline_stopping_before_code_generation_is_completed(tmp_path, capsys):
    out, dumps = tmp_path / "m.vitb", tmp_path / "dumps"
    code = vitc_main(["compile", _model(), "-o", str(out), "-p",
                      f"{FRONT_PASSES},dce,cse,canonicalize,fold-layout,fuse-elementwise,tile-matmul,plan-memory",
                      "--dump-dir", str(dumps)])
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in dumps.iterdir())[-4:] == ["10-select-instructions.s", "11-interleave.s", "12-schedule.s",
                                                            "13-emit.s"]
    assert out.read_bytes() == write_vitb(compile_graph(import_model(_model()), load_config("default")))


def test_compile_help_shows_the_default_pipeline(capsys):
    with pytest.raises(SystemExit):
        vitc_main(["compile", "--help"])
    help_text = "".join(capsys.readouterr().out.split())  # argparse wraps lines anywhere
    assert backend_pipeline(load_config("default")) in help_text


def test_compile_with_an_unknown_pass_is_a_clear_error(tmp_path, capsys):
    out = tmp_path / "m.vitb"
    code = vitc_main(["compile", _model(), "-o", str(out), "-p", "dce,no-such-pass"])
    printed = capsys.readouterr()
    assert code == 1
    assert "no-such-pass" in printed.err and "Traceback" not in printed.err
    assert not out.exists()


def test_a_pipeline_without_plan_memory_is_a_clear_error(tmp_path, capsys):
    out = tmp_path / "m.vitb"
    assert vitc_main(["compile", _model(), "-o", str(out), "-p", f"{FRONT_PASSES},dce,tile-matmul"]) == 1
    err = capsys.readouterr().err
    assert "no DRAM offset recorded" in err and "plan-memory" in err and "Traceback" not in err
    assert not out.exists()


def test_a_pipeline_without_tile_matmul_is_a_clear_error(tmp_path, capsys):
    out = tmp_path / "m.vitb"
    assert vitc_main(["compile", _model(), "-o", str(out), "-p", f"{FRONT_PASSES},dce,plan-memory"]) == 1
    err = capsys.readouterr().err
    assert "no tiling recorded" in err and "tile-matmul" in err and "Traceback" not in err
    assert not out.exists()


def test_emit_ir_writes_the_annotated_ir_after_the_pipeline(tmp_path, capsys):
    out = tmp_path / "m.vir"
    assert vitc_main(["compile", _model(), "-o", str(out), "--emit", "ir", "--hw", "large"]) == 0
    capsys.readouterr()
    graph = import_model(_model())
    PassManager(parse_pipeline(backend_pipeline(load_config("large")))).run(graph)
    assert out.read_text() == print_graph(graph)
    assert "chain = 0" in out.read_text() and "{dram_offset = 0}) -> (" in out.read_text()


def test_compile_progress_goes_to_the_stderr_of_the_moment(capsys):
    # a slow compile (> 1 s, e.g. on a loaded machine) prints progress: to the stderr in place
    # when it prints, not a stream captured (and perhaps closed) when the module was imported
    # (imported with this file, before capsys replaced stderr)
    report = progress_printer(every_seconds=0.0)
    report(1, 2, "%x")
    assert capsys.readouterr().err.startswith("vitc compile: 1/2 ops (")
