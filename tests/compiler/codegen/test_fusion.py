"""Fusion: ops chained after a matmul or a vector op run on chip tile by tile; the results are
the same as unfused (checked against numpy), and a chain whose whole-row tiles do not fit falls
back to storing the matmul result first."""

import numpy as np
import pytest

from compiler.codegen.driver import compile_graph_full
from compiler.codegen.fusion import plan_chains
from compiler.codegen.layout_plan import plan_layout
from compiler.ir.graph import Graph
from isa.config import load_config
from tests.compiler.codegen.programs import (
    assert_equal_tensors, f32, q, qmatmul_reference, random_codes, run_graph_on_emulator, tensor_type,
)

SHIFT = ((np.arange(256) * 7 + 3) % 256).astype(np.uint8)  # a permutation of the codes


def _matmul_then_tables(rows, n, tables=2):
    rng = np.random.default_rng(rows + n)
    g = Graph("chain")
    x = g.add_input("x", tensor_type("u8", (1, rows, 32), q(0.02, 128)))
    w = random_codes(rng, (32, n), np.int8)
    mult = (f32(0.02 * 0.003 / 0.05),)
    value = g.add_op("qmatmul", [x, g.add_const(w, q(0.003, 0), name="w")], tensor_type("u8", (1, rows, n), q(0.05, 128)),
                     {"multiplier": mult}, name="mm")
    for i in range(tables):
        value = g.add_op("table", [value], tensor_type("u8", (1, rows, n), q(0.05, 128)), {"table": SHIFT}, name=f"t{i}")
    g.set_outputs([value])
    xin = random_codes(rng, (1, rows, 32), np.uint8)
    expected = qmatmul_reference(xin, 128, w, 0, None, np.asarray(mult, np.float32), 128, np.uint8)
    for _ in range(tables):
        expected = SHIFT[expected]
    return g, xin, expected


def test_a_matmul_and_its_element_wise_consumers_form_one_chain():
    g, _, _ = _matmul_then_tables(17, 64)
    chains = plan_chains(g, plan_layout(g), load_config("default"))
    ((head, chain),) = chains.items()
    assert head.kind == "qmatmul" and [op.result.name for op in chain] == ["t0", "t1"]


@pytest.mark.parametrize("config_name", ["default", "large"])
@pytest.mark.parametrize("rows,n", [(17, 64), (197, 48)])
def test_fused_chain_is_exact_and_stores_only_its_last_result(config_name, rows, n):
    g, xin, expected = _matmul_then_tables(rows, n)
    config = load_config(config_name)
    compiled = compile_graph_full(g, config)
    assert compiled.binary.layers == ["mm + t0 + t1"]
    outputs, _, _ = run_graph_on_emulator(g, config, {"x": xin})
    assert_equal_tensors("t1", outputs["t1"], expected)


def test_chain_that_does_not_fit_whole_rows_falls_back_and_stays_exact():
    g, xin, expected = _matmul_then_tables(40, 4096, tables=1)
    outputs, _, _ = run_graph_on_emulator(g, load_config("default"), {"x": xin})
    assert_equal_tensors("t0", outputs["t0"], expected)
