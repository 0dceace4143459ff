"""Fusion: ops chained after a matmul or a vector op run on chip tile by tile; the results are
the same as unfused (checked against numpy and onnxruntime's QLinearAdd); an elementwise chain
runs on output tiles narrower than the row when whole rows do not fit (or cost more); an identity
table inside a chain emits nothing; a chain with row reductions takes row tiles of whole blocks; a
result other ops read too is stored by the chain and handed on."""

import numpy as np
import pytest
from onnx import helper

from compiler.codegen.driver import compile_graph_full
from compiler.codegen.fusion import plan_chains
from compiler.codegen.layout_plan import plan_layout
from compiler.frontend.kernel_constants import qadd_constants
from compiler.ir.graph import Graph
from isa.config import load_config
from tests.compiler.codegen.programs import (
    assert_equal_tensors, f32, q, qmatmul_reference, random_codes, run_graph_on_emulator, tensor_type,
)
from tests.compiler.codegen.vector import onnxruntime_reference as ort_ref
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


IDENTITY = np.arange(256, dtype=np.uint8)


@pytest.mark.parametrize("config_name", ["default", "large"])
def test_an_identity_table_inside_a_chain_emits_nothing(config_name):
    """mm -> identity table (codes unchanged, another scale, as the attention's division by 8)
    -> table: the identity emits no `lut`, the result is still the second table of the codes."""
    g, xin, expected = _matmul_then_tables(197, 48, tables=0)
    mm = g.outputs[0]
    same = g.add_op("table", [mm], tensor_type("u8", mm.type.shape, q(0.05 / 8, 128)), {"table": IDENTITY}, name="same")
    t = g.add_op("table", [same], tensor_type("u8", mm.type.shape, q(0.05, 128)), {"table": SHIFT}, name="t")
    g.set_outputs([t])
    config = load_config(config_name)
    mnemonics = [i.mnemonic for i in compile_graph_full(g, config).instructions]
    assert mnemonics.count("lut") == mnemonics.count("requant")  # one per output tile: the SHIFT table's
    outputs, _, _ = run_graph_on_emulator(g, config, {"x": xin})
    assert_equal_tensors("t", outputs["t"], SHIFT[expected])


def test_an_identity_table_on_its_own_still_copies_the_codes():
    g = Graph("alone")
    x = g.add_input("x", tensor_type("u8", (1, 40, 64), q(0.05, 128)))
    y = g.add_op("table", [x], tensor_type("u8", (1, 40, 64), q(0.05 / 8, 128)), {"table": IDENTITY}, name="y")
    g.set_outputs([y])
    xin = random_codes(np.random.default_rng(5), (1, 40, 64), np.uint8)
    outputs, _, _ = run_graph_on_emulator(g, load_config("large"), {"x": xin})
    assert_equal_tensors("y", outputs["y"], xin)


def test_a_chain_with_row_reductions_takes_row_tiles_of_as_few_blocks_as_possible():
    """dequantize -> layernorm -> quantize over 197 rows on `large` (dim 32): a row reduction
    costs ceil(rows / dim) * cols, so the tiles cover the rows in as few blocks of 32 as the
    rows need (7 per reduction, not e.g. 12 for tiles of 38); exact against onnxruntime."""
    rng = np.random.default_rng(9)
    rows, n = 197, 192
    g = Graph("norm")
    x = g.add_input("x", tensor_type("u8", (1, rows, n), q(0.0087, 121)))
    gamma, beta = (rng.standard_normal(n) * 0.5 + 1).astype(np.float32), (rng.standard_normal(n) * 0.1).astype(np.float32)
    d = g.add_op("dequantize", [x], tensor_type("f32", (1, rows, n)), name="d")
    ln = g.add_op("layernorm", [d, g.add_const(gamma, name="g"), g.add_const(beta, name="b")], tensor_type("f32", (1, rows, n)),
                  {"axis": 2, "epsilon": float(np.float32(1e-6))}, name="ln")
    y = g.add_op("quantize", [ln], tensor_type("u8", (1, rows, n), q(0.031, 127)), name="y")
    g.set_outputs([y])
    config = load_config("large")
    tiles = [i.fields["rows"] for i in compile_graph_full(g, config).instructions if i.mnemonic == "rowsum"]
    assert sum(tiles) == 2 * rows and sum(-(-t // config.dim) for t in tiles) == 2 * -(-rows // config.dim), tiles
    codes = random_codes(rng, (1, rows, n), np.uint8)
    outputs, _, _ = run_graph_on_emulator(g, config, {"x": codes})
    nodes = [helper.make_node("DequantizeLinear", ["q", "s", "z"], ["x"]),
             helper.make_node("LayerNormalization", ["x", "g", "b"], ["y"], axis=-1, epsilon=float(np.float32(1e-6))),
             helper.make_node("QuantizeLinear", ["y", "so", "zo"], ["out"])]
    expected = ort_ref.run_nodes(nodes, {"q": codes}, {"s": np.array(f32(0.0087), np.float32), "z": np.array(121, np.uint8),
                                                       "g": gamma, "b": beta, "so": np.array(f32(0.031), np.float32),
                                                       "zo": np.array(127, np.uint8)}, "out", np.uint8)
    assert_equal_tensors("y", outputs["y"], expected)


@pytest.mark.parametrize("config_name", ["default", "large"])
def test_a_result_other_ops_read_too_is_stored_and_handed_on(config_name):
    """mm -> t0 -> t1 with t0 also a graph output: t0 stays in the chain (stored as well as
    handed to t1), one layer; both results exact."""
    g, xin, expected = _matmul_then_tables(197, 48, tables=2)
    t0 = next(op for op in g.ops if op.result.name == "t0").result
    g.set_outputs([g.outputs[0], t0])
    chains = plan_chains(g, plan_layout(g), load_config(config_name))
    ((head, chain),) = chains.items()
    assert [op.result.name for op in chain] == ["t0", "t1"] and [op.result.name for op in chain.stored] == ["t0"]
    config = load_config(config_name)
    assert compile_graph_full(g, config).binary.layers == ["mm + t0 + t1"]
    outputs, _, _ = run_graph_on_emulator(g, config, {"x": xin})
    assert_equal_tensors("t1", outputs["t1"], expected)
    assert_equal_tensors("t0", outputs["t0"], SHIFT.argsort()[expected])  # SHIFT is a permutation: undo the last table
