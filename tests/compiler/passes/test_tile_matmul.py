"""tile-matmul: IR text in through `vitc opt`, tile attributes out.

Expected attributes are checked against the configuration's limits and the rules the pass
documents (whole-row tiles under a chain, forced sizes), not against the cost model's output.
"""

import numpy as np
import pytest

from compiler.codegen.driver import compile_graph_full
from compiler.ir.parser import parse_graph
from compiler.ir.pass_manager import PassManager
from compiler.ir.pipeline import parse_pipeline
from compiler.ir.testing import run_pipeline_on_text
from compiler.reference.interpreter import run_graph
from isa.config import load_config
from isa.container import write_vitb
from runtime_emulator import run_binary
from tests.compiler.codegen.programs import assert_equal_tensors
from tests.compiler.passes.backend_graphs import matmul_then_tables, vitc_opt_on_text
from tests.compiler.passes.test_fuse_elementwise import vitc_opt

TILE_ATTRS = ("tile_m", "tile_n", "tile_k", "resident")


def matmul_attrs(text: str) -> dict:
    (op,) = [op for op in parse_graph(text).ops if op.kind == "qmatmul"]
    return {name: op.attrs.get(name) for name in TILE_ATTRS}


@pytest.mark.parametrize("hw", ["default", "large"])
def test_every_qmatmul_gets_a_tiling_that_fits_the_configuration(tmp_path, capsys, hw):
    rows, k, n = 197, 256, 192
    attrs = matmul_attrs(vitc_opt(tmp_path, capsys, matmul_then_tables(rows, k, n, tables=0), f"tile-matmul{{hw={hw}}}"))
    dim = load_config(hw).dim
    assert 1 <= attrs["tile_m"] <= rows and 1 <= attrs["tile_n"] <= n and 1 <= attrs["tile_k"] <= k
    assert attrs["tile_n"] % dim == 0 or attrs["tile_n"] == n
    assert attrs["resident"] in ("none", "a", "b", "ab", "b-all")
    if attrs["resident"] in ("a", "ab"):
        assert attrs["tile_m"] == rows  # A stays on chip only when one tile holds all its rows
    if attrs["resident"] == "b-all":  # every panel of B on chip: row tiles over several panels
        assert attrs["tile_m"] < rows and attrs["tile_n"] < n


def test_an_element_wise_chain_head_takes_output_tiles_that_divide_its_rows(tmp_path, capsys):
    out = vitc_opt(tmp_path, capsys, matmul_then_tables(197, 64, 96), "fuse-elementwise,tile-matmul{n=32}")
    assert matmul_attrs(out)["tile_n"] == 32  # the chain runs on column tiles of 32 of the 96 columns


def test_a_forced_width_the_chain_cannot_run_on_is_an_error(tmp_path, capsys):
    code, _, err = vitc_opt_on_text(tmp_path, capsys, matmul_then_tables(197, 64, 96), "fuse-elementwise,tile-matmul{n=40}")
    assert code == 1
    assert "op 'qmatmul' %mm" in err and "no tiling fits" in err and "Traceback" not in err


def test_forced_tile_sizes_are_recorded(tmp_path, capsys):
    out = vitc_opt(tmp_path, capsys, matmul_then_tables(197, 256, 192, tables=0), "tile-matmul{m=32 n=64 k=128}")
    attrs = matmul_attrs(out)
    assert (attrs["tile_m"], attrs["tile_n"], attrs["tile_k"]) == (32, 64, 128)


def test_rerunning_overwrites_the_recorded_tiling():
    text = matmul_then_tables(197, 256, 192, tables=0)
    forced = run_pipeline_on_text(text, "tile-matmul{m=32}")
    assert run_pipeline_on_text(forced, "tile-matmul") == run_pipeline_on_text(text, "tile-matmul")


def test_a_forced_tiling_that_cannot_fit_is_an_error_naming_the_op(tmp_path, capsys):
    code, _, err = vitc_opt_on_text(tmp_path, capsys, matmul_then_tables(197, 4096, 4096, tables=0), "tile-matmul{m=197 n=4096 k=4096}")
    assert code == 1
    assert "tile-matmul" in err and "op 'qmatmul' %mm" in err and "no tiling fits" in err and "Traceback" not in err


def test_a_tiling_chosen_before_fusion_still_compiles_exactly():
    """tile-matmul before fuse-elementwise: the matmul's tiles are not whole rows, so the driver
    stores its result and runs the chain on its own; the result equals the interpreter's."""
    graph = parse_graph(matmul_then_tables(17, 32, 64))
    x = np.random.default_rng(1).integers(0, 256, (1, 17, 32), dtype=np.uint8)
    want = run_graph(graph, {"x": x})["t1"]
    config = load_config("default")
    compiled = compile_graph_full(graph, config, passes=PassManager(parse_pipeline("tile-matmul{n=16},fuse-elementwise,plan-memory")))
    (mm,) = [op for op in graph.ops if op.kind == "qmatmul"]
    assert mm.attrs["tile_n"] == 16 and mm.attrs["chain"] == 0
    result = run_binary(write_vitb(compiled.binary), {"x": x}, config, check_hazards=True)
    assert_equal_tensors("t1", result.outputs["t1"], want)


def test_a_negative_forced_size_is_a_clear_error(tmp_path, capsys):
    code, _, err = vitc_opt_on_text(tmp_path, capsys, matmul_then_tables(17, 32, 64, tables=0), "tile-matmul{k=-16}")
    assert code == 1
    assert "tile-matmul" in err and "k=-16" in err and "Traceback" not in err
