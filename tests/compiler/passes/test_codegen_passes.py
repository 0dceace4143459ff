"""The machine level of the pipeline: `select-instructions`, `schedule`, `emit`.

Through `vitc opt` on hand-written IR: the machine code prints as the disassembler's syntax under
the layer names, the levels are checked (IR passes, lowering, machine passes), `--dump-dir`
writes `.s` files, and `--list-passes` lists every pass. On the program itself: what `emit`
writes is what the disassembler reads back from the binary; `verify` catches an unpaired token;
a smaller token queue still runs bit-exactly and hazard-free on the emulator.
"""

import numpy as np
import pytest

from compiler.cli.main import main as vitc_main
from compiler.codegen.driver import compile_graph_full
from compiler.ir.parser import parse_graph
from compiler.ir.pass_manager import PassManager
from compiler.ir.pipeline import parse_pipeline
from compiler.ir.testing import check_lines, check_no_line
from compiler.reference.interpreter import run_graph
from isa.config import load_config
from isa.container import write_vitb
from isa.disassembler import disassemble_binary
from isa.errors import VitcError
from runtime_emulator import run_binary
from tests.compiler.passes.backend_graphs import matmul_then_tables, vitc_opt_on_text
from tests.e2e.test_backend_pipeline import FRONT_PASSES

PLANNED = "fold-layout,fuse-elementwise,tile-matmul,plan-memory"


def opt(tmp_path, capsys, pipeline: str, *flags: str) -> tuple[int, str, str]:
    return vitc_opt_on_text(tmp_path, capsys, matmul_then_tables(17, 32, 64, tables=1), pipeline, *flags)


def _listing(text: str) -> tuple[str, list[str], list[str]]:
    """The header line, the layer comment lines and the instruction lines of machine code text;
    checks that instructions are numbered 0, 1, ... and end with halt."""
    lines = text.splitlines()
    instructions = [line for line in lines if line.startswith("    ")]
    assert [int(line.rsplit("#", 1)[1]) for line in instructions] == list(range(len(instructions)))
    assert instructions[-1].split("#")[0].strip() == "halt"
    return lines[0], [line for line in lines[1:] if line.startswith("# layer ")], instructions


def test_select_instructions_prints_unscheduled_machine_code_under_layer_names(tmp_path, capsys):
    code, out, err = opt(tmp_path, capsys, f"{PLANNED},select-instructions", "--verify-each")
    assert code == 0, err
    header, layers, instructions = _listing(out)
    # 2048 weight bytes, then the 256-byte table, each at a 64-byte boundary
    assert header == f"# machine code for hw 'default': {len(instructions)} instructions, 1 layers, 2304 constant bytes, not scheduled"
    assert layers == ["# layer 0: mm + t0"]  # the chain mm -> t0 is one layer
    assert any(line.strip().startswith("mm ") and "m=17," in line and "k=32," in line for line in instructions)
    check_no_line(out, "wait=")
    check_no_line(out, "signal=")


def test_schedule_adds_the_tokens(tmp_path, capsys):
    code, out, err = opt(tmp_path, capsys, f"{PLANNED},select-instructions,schedule",
                         "--print-ir-after=select-instructions")
    assert code == 0, err
    assert err.startswith("// ----- machine code dump after select-instructions ----- //\n") and "wait=" not in err
    header, _, instructions = _listing(out)
    assert header.endswith(", scheduled")
    # the first matmul waits for its operand loads, the first requantisation for the matmul
    first = {mnemonic: next(line for line in instructions if line.strip().startswith(mnemonic + " "))
             for mnemonic in ("mm", "requant")}
    assert "wait=load" in first["mm"] and "wait=matrix" in first["requant"]


def test_emitted_code_is_what_the_disassembler_reads_back(tmp_path, capsys):
    graph = parse_graph(matmul_then_tables(197, 64, 96, tables=2))
    compiled = compile_graph_full(graph, load_config("default"))
    printed = [line.split("#")[0].strip() for line in graph.machine.to_text().splitlines() if line.startswith("    ")]
    listing = disassemble_binary(compiled.binary, with_data=False).split("# code:")[1].split("# constants")[0]
    disassembled = [line.split("#")[0].strip() for line in listing.splitlines() if line.startswith("    ")]
    assert printed == disassembled


@pytest.mark.parametrize("pipeline, message", [
    ("schedule", "pass 'schedule' (#1 of the pipeline) works on machine code: run select-instructions before it"),
    (f"{PLANNED},select-instructions,dce", "pass 'dce' (#6 of the pipeline) works on the IR graph, which "
                                           "select-instructions already lowered to machine code"),
    (f"{PLANNED},select-instructions,emit", "run schedule before emit"),
    (f"{PLANNED},select-instructions,schedule{{queue-depth=99}}", "queue-depth=99 exceeds the"),
    ("schedule{queue-depth=-1}", "queue-depth must be >= 1"),
])
def test_out_of_order_or_impossible_machine_passes_are_clear_errors(tmp_path, capsys, pipeline, message):
    code, out, err = opt(tmp_path, capsys, pipeline)
    assert code == 1 and message in err and "Traceback" not in err, err


def test_dump_dir_writes_machine_code_as_assembly(tmp_path, capsys):
    dumps = tmp_path / "dumps"
    code, out, err = opt(tmp_path, capsys, f"{PLANNED},select-instructions,schedule,emit", "--dump-dir", str(dumps))
    assert code == 0, err
    assert sorted(p.name for p in dumps.iterdir()) == [
        "00-input.vir", "01-fold-layout.vir", "02-fuse-elementwise.vir", "03-tile-matmul.vir", "04-plan-memory.vir",
        "05-select-instructions.s", "06-schedule.s", "07-emit.s"]
    assert (dumps / "07-emit.s").read_text() == out
    assert "not scheduled" in (dumps / "05-select-instructions.s").read_text()


def test_list_passes_names_every_pass_with_its_level_and_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        vitc_main(["opt", "--list-passes"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    check_lines(out, ["emit (machine): Encode the scheduled machine program into the .vitb container (graph.machine.binary).",
                      "fold-layout (graph): Decide each value's DRAM placement; layout ops become views (`layout` attributes).",
                      "schedule (machine): Set every instruction's dependency tokens (wait/signal) from the declared accesses.",
                      "queue-depth: int = 0",
                      "select-instructions (lowering): Lower each op (or chain) to instructions, one layer each: the machine program (graph.machine).",
                      "hw: str = default"])


def _scheduled(text: str, pipeline: str = f"{PLANNED},select-instructions,schedule"):
    graph = parse_graph(text)
    PassManager(parse_pipeline(pipeline)).run(graph)
    return graph.machine


def test_verify_catches_an_unpaired_token():
    text = matmul_then_tables(17, 32, 64, tables=1)
    machine = _scheduled(text)
    machine.verify()
    waiting = next(pc for pc, w in enumerate(machine.waits) if w)
    machine.waits[waiting] = 0
    with pytest.raises(VitcError, match="token.* signalled on queue .* never waited for"):
        machine.verify()
    machine = _scheduled(text)
    signalling = next(pc for pc, s in enumerate(machine.signals) if s)
    machine.signals[signalling] = 0
    with pytest.raises(VitcError, match=r"instruction \d+ \(\S+\) waits for \w+, but no earlier \w+ instruction signalled"):
        machine.verify()


@pytest.mark.parametrize("depth", [1, 2])
def test_a_shallow_token_queue_still_runs_exactly_and_hazard_free(depth):
    text = matmul_then_tables(197, 64, 96, tables=2)
    config = load_config("default")
    compiled = compile_graph_full(parse_graph(text), config, passes=PassManager(parse_pipeline(
        f"{PLANNED},select-instructions,schedule{{queue-depth={depth}}},emit")))
    assert compiled.machine.queue_depth == depth
    x = np.random.default_rng(depth).integers(0, 256, (1, 197, 64), dtype=np.uint8)
    got = run_binary(write_vitb(compiled.binary), {"x": x}, config, check_hazards=True).outputs["t1"]
    want = run_graph(parse_graph(text), {"x": x}, threads=1)["t1"]
    bad = np.flatnonzero(got.reshape(-1) != want.reshape(-1))
    assert not bad.size, f"t1[{bad[0]}]: emulator {got.reshape(-1)[bad[0]]}, interpreter {want.reshape(-1)[bad[0]]}"


@pytest.mark.parametrize("config_name", ["default", "large"])
def test_canonicalize_changes_no_binary_of_a_model_not_pre_processed(config_name):
    # canonicalize collapses the patch embedding's layout chain: views emit nothing and take no
    # turn in the alternation of on-chip halves, so the code is the same
    from compiler.frontend import import_model
    from models import zoo

    path = zoo.quantized_model_path("vit-micro", "qdq-s8-pt")
    binaries, sizes = [], []
    for pipeline in (f"{FRONT_PASSES},dce,{PLANNED}", f"{FRONT_PASSES},dce,canonicalize,{PLANNED}"):
        graph = import_model(path)
        binaries.append(write_vitb(compile_graph_full(graph, load_config(config_name),
                                                      passes=PassManager(parse_pipeline(pipeline))).binary))
        sizes.append(len(graph.ops))
    assert sizes[1] < sizes[0], "canonicalize simplified something"
    assert binaries[0] == binaries[1]


def test_canonicalize_lets_the_gemms_of_a_pre_processed_model_chain_with_what_follows():
    # quant_pre_process puts each Gemm between a reshape to rows and one back; once the reshapes
    # sink and vanish, the residual add, GELU's table and LayerNorm's quantize join the chains
    from compiler.frontend import import_model
    from models import zoo

    path = zoo.quantized_model_path("vit-micro", "qop-u8-pt-pp")
    chained, between = [], []
    for pipeline in (f"{FRONT_PASSES},dce,cse,fold-layout,fuse-elementwise",
                     f"{FRONT_PASSES},dce,cse,canonicalize,fold-layout,fuse-elementwise"):
        graph = import_model(path)
        PassManager(parse_pipeline(pipeline)).run(graph)
        chained.append(sorted(op.kind for op in graph.ops if "chain" in op.attrs))
        between.append(_reshapes_between_matmul_and_elementwise(graph))
    without, with_ = chained
    for kind in ("qmatmul", "table", "quantize"):  # matmuls heading chains; GELU, LayerNorm's quantize in one
        assert with_.count(kind) > without.count(kind), f"chained {kind} ops: {without.count(kind)} -> {with_.count(kind)}"
    # one stays: the last residual add's, which meets no reshape back (a gather takes the class token)
    assert len(between[1]) == 1 < len(between[0]), between[1]


def _reshapes_between_matmul_and_elementwise(graph) -> list[str]:
    producers, users = graph.producers(), graph.users()
    return [op.describe() for op in graph.ops
            if op.kind == "reshape" and getattr(producers.get(op.operands[0]), "kind", None) == "qmatmul"
            and any(user.kind in ("qadd", "table", "dequantize") for user in users[op.result])]
