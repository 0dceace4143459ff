"""Fusion: ops chained after a matmul or a vector op run on chip tile by tile; the results are
the same as unfused (checked against numpy and onnxruntime's QLinearAdd); an elementwise chain
runs on output tiles narrower than the row when whole rows do not fit (or cost more)."""

import numpy as np
import pytest

from compiler.codegen.driver import compile_graph_full
from compiler.codegen.fusion import plan_chains
from compiler.codegen.layout_plan import plan_layout
from compiler.frontend.kernel_constants import qadd_constants
from compiler.ir.graph import Graph
from isa.config import load_config
from tests.compiler.codegen.programs import (
    assert_equal_tensors, f32, q, qmatmul_reference, random_codes, run_graph_on_emulator, tensor_type,
)
from tests.compiler.codegen.vector.onnxruntime_reference import qlinear_binary

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


def test_element_wise_chain_wider_than_the_memory_runs_on_column_tiles():
    g, xin, expected = _matmul_then_tables(40, 4096, tables=1)
    config = load_config("default")
    compiled = compile_graph_full(g, config)
    assert compiled.binary.layers == ["mm + t0"]
    assert 4096 % g.ops[-2].attrs["tile_n"] == 0 and g.ops[-2].attrs["tile_n"] < 4096
    outputs, _, _ = run_graph_on_emulator(g, config, {"x": xin})
    assert_equal_tensors("t0", outputs["t0"], expected)


def _linear_bias_residual_table(rows, n):
    """A ViT MLP output: qmatmul, + bias (a row vector as QLinearAdd's A), + residual, table."""
    rng = np.random.default_rng(rows * n)
    g = Graph("mlp_out")
    qx, qw, qy, qbias, qz, qres, qout = (q(0.02, 128), q(0.003, 0), q(0.05, 128), q(0.0004, 128), q(0.06, 125),
                                         q(0.04, 120), q(0.07, 126))
    x = g.add_input("x", tensor_type("u8", (1, rows, 64), qx))
    residual = g.add_input("r", tensor_type("u8", (1, rows, n), qres))
    w, bias = random_codes(rng, (64, n), np.int8), random_codes(rng, (n,), np.uint8)
    mult = (f32(0.02 * 0.003 / 0.05),)
    y = g.add_op("qmatmul", [x, g.add_const(w, qw, name="w")], tensor_type("u8", (1, rows, n), qy), {"multiplier": mult},
                 name="mm")
    z = g.add_op("qadd", [g.add_const(bias, qbias, name="bias"), y], tensor_type("u8", (1, rows, n), qz),
                 {"mode": "qlinear", **qadd_constants(0.0004, 128, 0.05, 128, 0.06, 125)}, name="add_bias")
    s = g.add_op("qadd", [z, residual], tensor_type("u8", (1, rows, n), qout),
                 {"mode": "qlinear", **qadd_constants(0.06, 125, 0.04, 120, 0.07, 126)}, name="add_residual")
    out = g.add_op("table", [s], tensor_type("u8", (1, rows, n), qout), {"table": SHIFT}, name="t")
    g.set_outputs([out])
    inputs = {"x": random_codes(rng, (1, rows, 64), np.uint8), "r": random_codes(rng, (1, rows, n), np.uint8)}
    y_ref = qmatmul_reference(inputs["x"], 128, w, 0, None, np.asarray(mult, np.float32), 128, np.uint8)
    z_ref = qlinear_binary("QLinearAdd", bias, (f32(0.0004), 128), y_ref, (f32(0.05), 128), (f32(0.06), 125), np.uint8)
    s_ref = qlinear_binary("QLinearAdd", z_ref, (f32(0.06), 125), inputs["r"], (f32(0.04), 120), (f32(0.07), 126), np.uint8)
    return g, inputs, SHIFT[s_ref]


@pytest.mark.parametrize("config_name", ["default", "large"])
def test_bias_residual_and_table_fused_on_column_tiles_are_exact(config_name):
    g, inputs, expected = _linear_bias_residual_table(70, 3072)
    config = load_config(config_name)
    compiled = compile_graph_full(g, config)
    head = next(op for op in g.ops if op.kind == "qmatmul")
    assert compiled.binary.layers == ["mm + add_bias + add_residual + t"]
    assert head.attrs["tile_n"] < 3072 and 3072 % head.attrs["tile_n"] == 0
    outputs, _, _ = run_graph_on_emulator(g, config, {name: inputs[name] for name in ("x", "r")})
    assert_equal_tensors("t", outputs["t"], expected)
