"""fold-layout: IR text in through `vitc opt`, `layout` attributes out, and the layout plan every
later stage builds follows them.

Expected decisions follow from the rules `compiler.codegen.layout_plan` documents, worked out by
hand for each graph; a recorded decision is carried out (a forced copy runs bit-exactly on the
emulator) or, when impossible, is an error naming the op; on a real model, the plan built from
the recorded decisions is the plan decided without them (identical binaries).
"""

import hashlib

import numpy as np
import pytest

from compiler.codegen.driver import compile_graph_full
from compiler.frontend import import_model
from compiler.ir.graph import Graph
from compiler.ir.parser import parse_graph
from compiler.ir.pass_manager import PassManager
from compiler.ir.pipeline import parse_pipeline
from compiler.ir.printer import print_graph
from compiler.ir.types import Quant, TensorType
from compiler.reference.interpreter import run_graph
from isa.config import load_config
from isa.container import write_vitb
from isa.errors import VitcError
from models import zoo
from runtime_emulator import run_binary
from tests.compiler.passes.test_fuse_elementwise import vitc_opt
from tests.e2e.test_backend_pipeline import FRONT_PASSES

X = TensorType("u8", (1, 17, 32), Quant.tensor(0.02, 128))
Y = Quant.tensor(0.05, 128)


def _matmul(g: Graph, x, n: int, name: str, seed: int):
    rng = np.random.default_rng(seed)
    k = x.type.shape[-1]
    w = g.add_const(rng.integers(-128, 128, (k, n), dtype=np.int8), Quant.tensor(0.003, 0), name=f"w_{name}")
    shape = (*x.type.shape[:-1], n)
    return g.add_op("qmatmul", [x, w], TensorType("u8", shape, Y), {"multiplier": (np.float32(0.0012).item(),)}, name=name)


def reshape_matmul_slice() -> str:
    """x -> reshape [17, 32] -> qmatmul [17, 64] -> its first 8 rows (a graph output)."""
    g = Graph("layout")
    x = g.add_input("x", X)
    flat = g.add_op("reshape", [x], TensorType("u8", (17, 32), X.quant), name="flat")
    mm = _matmul(g, flat, 64, "mm", 1)
    g.set_outputs([g.add_op("slice", [mm], attrs={"starts": (0, 0), "ends": (8, 64), "steps": (1, 1)}, name="head")])
    return print_graph(g)


def matmul_reshaped_output() -> str:
    """qmatmul [1, 17, 64] -> reshape [17, 64] (a graph output)."""
    g = Graph("layout")
    mm = _matmul(g, g.add_input("x", X), 64, "mm", 2)
    g.set_outputs([g.add_op("reshape", [mm], TensorType("u8", (17, 64), Y), name="out")])
    return print_graph(g)


def matmuls_concatenated() -> str:
    """two qmatmuls of x, concatenated along the tokens (a graph output)."""
    g = Graph("layout")
    x = g.add_input("x", X)
    a, b = _matmul(g, x, 64, "a", 3), _matmul(g, x, 64, "b", 4)
    g.set_outputs([g.add_op("concat", [a, b], attrs={"axis": 1}, name="cat")])
    return print_graph(g)


def layouts(text: str) -> dict[str, str | None]:
    return {op.result.name: op.attrs.get("layout") for op in parse_graph(text).ops if op.kind != "const"}


def test_a_reshape_is_a_view_and_a_sliced_output_a_copy(tmp_path, capsys):
    # flat: a reshape of the input, expressible as addressing; mm: its only use is a slice,
    # which cannot be undone: its own buffer; head: a graph output needs a row-major buffer
    # of its own: a copy
    assert layouts(vitc_opt(tmp_path, capsys, reshape_matmul_slice(), "fold-layout")) == \
        {"flat": "view", "mm": "own", "head": "copy"}


def test_a_result_reshaped_into_the_output_is_written_there(tmp_path, capsys):
    # mm's only use is a reshape (the graph output) that keeps the row-major order: mm is
    # stored straight into the output's buffer, the reshape is a view of it
    assert layouts(vitc_opt(tmp_path, capsys, matmul_reshaped_output(), "fold-layout")) == {"mm": "backward", "out": "view"}


def test_concat_operands_are_written_into_their_slots(tmp_path, capsys):
    assert layouts(vitc_opt(tmp_path, capsys, matmuls_concatenated(), "fold-layout")) == \
        {"a": "backward", "b": "backward", "cat": "own"}


def test_rerunning_decides_afresh(tmp_path, capsys):
    once = vitc_opt(tmp_path, capsys, matmul_reshaped_output(), "fold-layout")
    forced = once.replace('layout = "backward"', 'layout = "own"')
    assert forced != once
    assert vitc_opt(tmp_path, capsys, forced, "fold-layout") == once


def _compile_and_run(text: str) -> tuple[object, dict, dict]:
    graph = parse_graph(text)
    config = load_config("default")
    compiled = compile_graph_full(graph, config, passes=PassManager(parse_pipeline("tile-matmul,plan-memory")))
    x = np.random.default_rng(7).integers(0, 256, X.shape, dtype=np.uint8)
    emulated = run_binary(write_vitb(compiled.binary), {"x": x}, config, check_hazards=True).outputs
    return compiled, emulated, run_graph(parse_graph(text), {"x": x}, threads=1)


def test_a_recorded_copy_is_carried_out_and_runs_exactly():
    # the reshape could be a view; recorded as a copy, it is materialised by a DMA copy
    text = vitc_opt_free(reshape_matmul_slice()).replace('%flat = reshape %x {layout = "view"}',
                                                             '%flat = reshape %x {layout = "copy"}')
    assert 'layout = "copy"} : tensor<1x17x32xu8' in text
    compiled, emulated, expected = _compile_and_run(text)
    assert "flat" in compiled.binary.layers, "the copy is a layer of its own"
    for name, want in expected.items():
        got = emulated[name]
        mismatch = np.flatnonzero(got.reshape(-1) != want.reshape(-1))
        assert not mismatch.size, f"{name}[{mismatch[0]}]: emulator {got.reshape(-1)[mismatch[0]]}, interpreter {want.reshape(-1)[mismatch[0]]}"


def vitc_opt_free(text: str) -> str:
    graph = parse_graph(text)
    PassManager(parse_pipeline("fold-layout")).run(graph)
    return print_graph(graph)


@pytest.mark.parametrize("edit, message", [
    (('layout = "copy"} : tensor<17x64xu8', 'layout = "view"} : tensor<17x64xu8'),
     "op 'slice' %head: layout 'view' recorded, but a graph output needs a buffer of its own"),
    (('layout = "own"} : tensor<17x32xu8', 'layout = "backward"} : tensor<17x32xu8'),
     "op 'qmatmul' %mm: layout 'backward' recorded, but no single-use layout chain"),
    (('%flat = reshape %x {layout = "view"}', '%flat = reshape %x {layout = "backward"}'),
     "op 'reshape' %flat: layout 'backward' recorded, but this op can only be 'view' or 'copy' here"),
])
def test_a_recorded_decision_that_cannot_be_carried_out_names_the_op(edit, message):
    text = vitc_opt_free(reshape_matmul_slice())
    assert edit[0] in text
    with pytest.raises(VitcError) as err:
        compile_graph_full(parse_graph(text.replace(*edit)), load_config("default"),
                           passes=PassManager(parse_pipeline("tile-matmul,plan-memory")))
    assert message in str(err.value)


@pytest.mark.parametrize("config_name", ["default", "large"])
def test_on_vit_micro_the_recorded_layout_gives_the_binary_of_the_decided_one(config_name):
    path = zoo.quantized_model_path("vit-micro", zoo.VARIANTS[0])
    binaries = []
    for pipeline in (f"{FRONT_PASSES},dce,fuse-elementwise,tile-matmul,plan-memory",
                     f"{FRONT_PASSES},dce,fold-layout,fuse-elementwise,tile-matmul,plan-memory"):
        graph = import_model(path)
        binaries.append(write_vitb(compile_graph_full(graph, load_config(config_name), passes=PassManager(parse_pipeline(pipeline))).binary))
    recorded = [op.attrs["layout"] for op in graph.ops if op.kind != "const"]
    assert {"view", "own", "backward"} <= set(recorded)
    assert hashlib.sha256(binaries[0]).hexdigest() == hashlib.sha256(binaries[1]).hexdigest()
