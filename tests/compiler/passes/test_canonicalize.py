"""canonicalize: each rewrite rule, text in and text out, and that outputs keep their names."""

import base64

import numpy as np
import pytest

from compiler.ir.graph import Graph
from compiler.ir.layout_eval import evaluate_layout
from compiler.ir.parser import parse_graph
from compiler.ir.printer import print_graph
from compiler.ir.testing import check_lines, check_no_line, run_pipeline_on_text
from compiler.ir.types import Quant, TensorType
from compiler.reference.interpreter import run_graph

T = "tensor<2x3x4xu8, q<0.5 : 7>>"


def test_transposes_compose_and_identity_transposes_vanish():
    text = f"""\
graph @g(%x: {T}) -> (%b, %d) {{
  %a = transpose %x {{perm = [1, 2, 0]}} : {T} -> tensor<3x4x2xu8, q<0.5 : 7>>
  %b = transpose %a {{perm = [2, 0, 1]}} : tensor<3x4x2xu8, q<0.5 : 7>> -> {T}
  %c = transpose %x {{perm = [0, 1, 2]}} : {T} -> {T}
  %d = transpose %c {{perm = [0, 2, 1]}} : {T} -> tensor<2x4x3xu8, q<0.5 : 7>>
}}
"""
    out = run_pipeline_on_text(text, "canonicalize")
    # %b = transpose(transpose(x, [1,2,0]), [2,0,1]) keeps the element order: a reshape of %x to
    # its own type, which stays because it is a graph output
    check_lines(out, [
        f"%b = reshape %x : {T} -> {T}",
        f"%d = transpose %x {{perm = [0, 2, 1]}} : {T} -> tensor<2x4x3xu8, q<0.5 : 7>>",
    ])
    check_no_line(out, "%a =")
    check_no_line(out, "%c =")


def test_chains_that_keep_element_order_become_one_reshape():
    # the patch embedding's layout dance after its matmul: rows -> NHWC -> NCHW -> (C, HW) -> (HW, C)
    text = """\
graph @g(%rows: tensor<16x64xu8, q<0.5 : 7>>) -> (%tokens, %not_identity) {
  %nhwc = reshape %rows : tensor<16x64xu8, q<0.5 : 7>> -> tensor<1x4x4x64xu8, q<0.5 : 7>>
  %nchw = transpose %nhwc {perm = [0, 3, 1, 2]} : tensor<1x4x4x64xu8, q<0.5 : 7>> -> tensor<1x64x4x4xu8, q<0.5 : 7>>
  %flat = reshape %nchw : tensor<1x64x4x4xu8, q<0.5 : 7>> -> tensor<1x64x16xu8, q<0.5 : 7>>
  %tokens = transpose %flat {perm = [0, 2, 1]} : tensor<1x64x16xu8, q<0.5 : 7>> -> tensor<1x16x64xu8, q<0.5 : 7>>
  %not_identity = transpose %nhwc {perm = [0, 2, 1, 3]} : tensor<1x4x4x64xu8, q<0.5 : 7>> -> tensor<1x4x4x64xu8, q<0.5 : 7>>
}
"""
    out = run_pipeline_on_text(text, "canonicalize")
    check_lines(out, [
        "%nhwc = reshape %rows : tensor<16x64xu8, q<0.5 : 7>> -> tensor<1x4x4x64xu8, q<0.5 : 7>>",
        "%tokens = reshape %rows : tensor<16x64xu8, q<0.5 : 7>> -> tensor<1x16x64xu8, q<0.5 : 7>>",
        "%not_identity = transpose %nhwc {perm = [0, 2, 1, 3]} : tensor<1x4x4x64xu8, q<0.5 : 7>> -> "
        "tensor<1x4x4x64xu8, q<0.5 : 7>>",
    ])
    check_no_line(out, "%nchw")
    check_no_line(out, "%flat")


def test_a_transpose_moving_only_size_one_axes_is_a_reshape():
    text = """\
graph @g(%x: tensor<1x5x1x3xf32>) -> (%y) {
  %t = transpose %x {perm = [2, 1, 0, 3]} : tensor<1x5x1x3xf32> -> tensor<1x5x1x3xf32>
  %y = transpose %x {perm = [1, 0, 3, 2]} : tensor<1x5x1x3xf32> -> tensor<5x1x3x1xf32>
}
"""
    out = run_pipeline_on_text(text, "canonicalize")
    check_lines(out, ["%y = reshape %x : tensor<1x5x1x3xf32> -> tensor<5x1x3x1xf32>"])
    check_no_line(out, "%t =")


def test_reshape_chains_merge_and_noop_reshapes_vanish():
    text = """\
graph @g(%x: tensor<2x3x4xf32>) -> (%z, %w) {
  %a = reshape %x : tensor<2x3x4xf32> -> tensor<6x4xf32>
  %b = unsqueeze %a {axes = [0]} : tensor<6x4xf32> -> tensor<1x6x4xf32>
  %z = flatten %b {axis = 1} : tensor<1x6x4xf32> -> tensor<1x24xf32>
  %n = reshape %x : tensor<2x3x4xf32> -> tensor<2x3x4xf32>
  %w = sqrt %n : tensor<2x3x4xf32> -> tensor<2x3x4xf32>
}
"""
    out = run_pipeline_on_text(text, "canonicalize")
    check_lines(out, [
        "%z = reshape %x : tensor<2x3x4xf32> -> tensor<1x24xf32>",
        "%w = sqrt %x : tensor<2x3x4xf32> -> tensor<2x3x4xf32>",
    ])
    assert len(out.splitlines()) == 4


def test_canonicalize_folds_constant_chains_to_one_constant():
    text = """\
graph @g(%x: tensor<3x2xi8>) -> (%y) {
  %c = const dense<[1, 2, 3, 4, 5, 6]> : tensor<2x3xi8>
  %t = transpose %c {perm = [1, 0]} : tensor<2x3xi8> -> tensor<3x2xi8>
  %y = concat %x, %t {axis = 1} : tensor<3x2xi8>, tensor<3x2xi8> -> tensor<3x4xi8>
}
"""
    out = run_pipeline_on_text(text, "canonicalize")
    check_lines(out, ["%t = const dense<[1, 4, 2, 5, 3, 6]> : tensor<3x2xi8>",
                      "%y = concat %x, %t {axis = 1} : tensor<3x2xi8>, tensor<3x2xi8> -> tensor<3x4xi8>"])
    check_no_line(out, "%c =")


def test_a_rewrite_the_op_table_rejects_is_not_made():
    # merging would reshape a per-axis quantized tensor in a way that moves its channel axis
    text = """\
graph @g(%x: tensor<2x3xi8, q<axis=1, [0.5, 0.25, 0.125] : [0, 0, 0]>>) -> (%b) {
  %a = unsqueeze %x {axes = [0]} : tensor<2x3xi8, q<axis=1, [0.5, 0.25, 0.125] : [0, 0, 0]>> -> tensor<1x2x3xi8, q<axis=2, [0.5, 0.25, 0.125] : [0, 0, 0]>>
  %b = squeeze %a {axes = [0]} : tensor<1x2x3xi8, q<axis=2, [0.5, 0.25, 0.125] : [0, 0, 0]>> -> tensor<2x3xi8, q<axis=1, [0.5, 0.25, 0.125] : [0, 0, 0]>>
}
"""
    out = run_pipeline_on_text(text, "canonicalize")
    check_lines(out, ["%b = reshape %x : tensor<2x3xi8, q<axis=1, [0.5, 0.25, 0.125] : [0, 0, 0]>> -> "
                      "tensor<2x3xi8, q<axis=1, [0.5, 0.25, 0.125] : [0, 0, 0]>>"])


def _evaluate(graph, inputs):
    """Run a graph of layout ops and constants with numpy (compiler.ir.layout_eval)."""
    env = dict(zip(graph.inputs, inputs))
    for op in graph.ops:
        if op.kind == "const":
            env[op.result] = op.attrs["value"]
        else:
            env[op.result] = evaluate_layout(op.kind, [env[v] for v in op.operands], op.attrs, op.result.type)
    return [env[v] for v in graph.outputs]


def _random_layout_chain(seed):
    rng = np.random.default_rng(seed)
    g = Graph("chain")
    x = g.add_input("x", TensorType("u8", (2, 1, 3, 4), Quant.tensor(0.5, 7)))
    values = [x]
    for _ in range(int(rng.integers(2, 9))):
        v = values[-1] if rng.random() < 0.8 else values[int(rng.integers(len(values)))]
        kind = rng.choice(["transpose", "reshape", "squeeze", "unsqueeze", "flatten"])
        shape = v.type.shape
        if kind == "transpose":
            values.append(g.add_op("transpose", [v], attrs={"perm": tuple(int(p) for p in rng.permutation(len(shape)))}))
        elif kind == "reshape":
            dims = [d for d in shape if d != 1]
            rng.shuffle(dims)
            values.append(g.add_op("reshape", [v], v.type.with_shape(tuple(dims) + (1,))))
        elif kind == "squeeze" and 1 in shape:
            values.append(g.add_op("squeeze", [v], attrs={"axes": (shape.index(1),)}))
        elif kind == "unsqueeze" and len(shape) < 6:
            values.append(g.add_op("unsqueeze", [v], attrs={"axes": (int(rng.integers(len(shape) + 1)),)}))
        elif kind == "flatten":
            values.append(g.add_op("flatten", [v], attrs={"axis": int(rng.integers(len(shape) + 1))}))
    g.set_outputs([values[-1]] + ([values[2]] if len(values) > 2 else []))
    return g


@pytest.mark.parametrize("seed", range(60))
def test_canonicalize_keeps_the_values_of_random_layout_chains(seed):
    graph = _random_layout_chain(seed)
    data = np.random.default_rng(seed).integers(0, 256, size=(2, 1, 3, 4), dtype=np.uint8)
    expected = _evaluate(graph, [data])
    simplified = parse_graph(run_pipeline_on_text(print_graph(graph), "canonicalize"))
    assert len(simplified.ops) <= len(graph.ops)
    for name, want, got in zip([v.name for v in graph.outputs], expected, _evaluate(simplified, [data])):
        assert got.shape == want.shape, name
        mismatch = np.argwhere(got != want)
        assert mismatch.size == 0, f"output %{name} element {tuple(mismatch[0])}: {got[tuple(mismatch[0])]} != {want[tuple(mismatch[0])]}"


IDENTITY = 'dense<"' + base64.b64encode(bytes(range(256))).decode() + '"> : tensor<256xu8>'
# The Gemm of a model pre-processed by quant_pre_process, between a reshape to rows and one back:
# bias and residual add, LayerNorm with its quantize, and the reshape to rows for the next Gemm.
PRE_PROCESSED = """\
graph @g(%x: tensor<3x8xu8, q<0.5 : 7>>, %residual: tensor<1x3x8xu8, q<0.25 : 3>>) -> (%rows) {
  %w = const dense<[-15, -8, -1, 6, 13, -11, -4, 3, 10, -14, -7, 0, 7, 14, -10, -3, 4, 11, -13, -6, 1, 8, 15, -9, -2, 5, 12, -12, -5, 2, 9, -15, -8, -1, 6, 13, -11, -4, 3, 10, -14, -7, 0, 7, 14, -10, -3, 4, 11, -13, -6, 1, 8, 15, -9, -2, 5, 12, -12, -5, 2, 9, -15, -8]> : tensor<8x8xi8, q<0.5 : 0>>
  %gamma = const dense<[1.5, -0.5, 2.0, 0.25, 1.0, 0.75, -1.25, 3.0]> : tensor<8xf32>
  %beta = const dense<[0.0, 1.0, -1.0, 0.5, 0.125, -0.25, 2.0, 0.0]> : tensor<8xf32>
  %gemm = qmatmul %x, %w {multiplier = [0.125]} : tensor<3x8xu8, q<0.5 : 7>>, tensor<8x8xi8, q<0.5 : 0>> -> tensor<3x8xu8, q<0.5 : 120>>
  %tokens = reshape %gemm : tensor<3x8xu8, q<0.5 : 120>> -> tensor<1x3x8xu8, q<0.5 : 120>>
  %sum = qadd %tokens, %residual {mode = "float"} : tensor<1x3x8xu8, q<0.5 : 120>>, tensor<1x3x8xu8, q<0.25 : 3>> -> tensor<1x3x8xu8, q<0.75 : 100>>
  %f = dequantize %sum : tensor<1x3x8xu8, q<0.75 : 100>> -> tensor<1x3x8xf32>
  %n = layernorm %f, %gamma, %beta {axis = 2, epsilon = 0.0009765625} : tensor<1x3x8xf32>, tensor<8xf32>, tensor<8xf32> -> tensor<1x3x8xf32>
  %q = quantize %n : tensor<1x3x8xf32> -> tensor<1x3x8xu8, q<0.03125 : 128>>
  %rows = reshape %q : tensor<1x3x8xu8, q<0.03125 : 128>> -> tensor<3x8xu8, q<0.03125 : 128>>
}
"""


def test_reshapes_sink_below_elementwise_ops_and_meet_the_reshape_back():
    out = run_pipeline_on_text(PRE_PROCESSED, "canonicalize")
    check_lines(out, [
        "%gemm = qmatmul %x, %w {multiplier = [0.125]} : tensor<3x8xu8, q<0.5 : 7>>, tensor<8x8xi8, q<0.5 : 0>> "
        "-> tensor<3x8xu8, q<0.5 : 120>>",
        "%residual_3x8 = reshape %residual : tensor<1x3x8xu8, q<0.25 : 3>> -> tensor<3x8xu8, q<0.25 : 3>>",
        "%sum_3x8 = qadd %gemm, %residual_3x8 {mode = \"float\"} : tensor<3x8xu8, q<0.5 : 120>>, "
        "tensor<3x8xu8, q<0.25 : 3>> -> tensor<3x8xu8, q<0.75 : 100>>",
        "%f_3x8 = dequantize %sum_3x8 : tensor<3x8xu8, q<0.75 : 100>> -> tensor<3x8xf32>",
        "%n_3x8 = layernorm %f_3x8, %gamma, %beta {axis = 1, epsilon = 0.0009765625} : tensor<3x8xf32>, "
        "tensor<8xf32>, tensor<8xf32> -> tensor<3x8xf32>",
        "%q_3x8 = quantize %n_3x8 : tensor<3x8xf32> -> tensor<3x8xu8, q<0.03125 : 128>>",
        # a graph output keeps its name: the reshape of a value to its own type stays
        "%rows = reshape %q_3x8 : tensor<3x8xu8, q<0.03125 : 128>> -> tensor<3x8xu8, q<0.03125 : 128>>",
    ])
    assert sum(line.split(" = ")[1].startswith("reshape") for line in out.splitlines() if " = " in line) == 2


def test_sinking_reshapes_keeps_every_output_value():
    rng = np.random.default_rng(5)
    inputs = {"x": rng.integers(0, 256, (3, 8), dtype=np.uint8), "residual": rng.integers(0, 256, (1, 3, 8), dtype=np.uint8)}
    want = run_graph(parse_graph(PRE_PROCESSED), inputs, threads=1)["rows"]
    got = run_graph(parse_graph(run_pipeline_on_text(PRE_PROCESSED, "canonicalize")), inputs, threads=1)["rows"]
    assert np.unique(want).size > 4, "the test data exercises the chain"
    bad = np.argwhere(got != want)
    assert bad.size == 0, f"rows{tuple(bad[0])}: {got[tuple(bad[0])]} after canonicalize, {want[tuple(bad[0])]} before"


@pytest.mark.parametrize("case, ops", [
    # read by two ops: sinking below one would keep both shapes alive
    ("shared", """\
  %r = reshape %old : tensor<3x8xu8, q<0.5 : 7>> -> tensor<1x3x8xu8, q<0.5 : 7>>
  %d = dequantize %r : tensor<1x3x8xu8, q<0.5 : 7>> -> tensor<1x3x8xf32>
  %y = reshape %d : tensor<1x3x8xf32> -> tensor<3x8xf32>
  %z = table %r {table = IDENTITY} : tensor<1x3x8xu8, q<0.5 : 7>> -> tensor<1x3x8xu8, q<0.5 : 7>>
  %out = qadd %t, %z {mode = "float"} : tensor<1x3x8xu8, q<0.5 : 7>>, tensor<1x3x8xu8, q<0.5 : 7>> -> tensor<1x3x8xu8, q<0.5 : 7>>
"""),
    # no reshape back after it: sinking would only move the reshape (and change what fuses)
    ("no-reshape-back", """\
  %r = reshape %old : tensor<3x8xu8, q<0.5 : 7>> -> tensor<1x3x8xu8, q<0.5 : 7>>
  %d = dequantize %r : tensor<1x3x8xu8, q<0.5 : 7>> -> tensor<1x3x8xf32>
  %y = concat %d, %d {axis = 1} : tensor<1x3x8xf32>, tensor<1x3x8xf32> -> tensor<1x6x8xf32>
"""),
    # a softmax along an axis the reshape does not keep (the operand's rows are 8 long)
    ("softmax-axis", """\
  %r = reshape %old_f : tensor<3x8xf32> -> tensor<2x3x4xf32>
  %s = softmax %r {axis = 1} : tensor<2x3x4xf32> -> tensor<2x3x4xf32>
  %y = reshape %s : tensor<2x3x4xf32> -> tensor<3x8xf32>
"""),
    # the other operand is computed after the reshape's operand: its reshape could sink back
    ("newer-operand", """\
  %r = reshape %old : tensor<3x8xu8, q<0.5 : 7>> -> tensor<1x3x8xu8, q<0.5 : 7>>
  %e = qadd %r, %new {mode = "float"} : tensor<1x3x8xu8, q<0.5 : 7>>, tensor<1x3x8xu8, q<0.5 : 7>> -> tensor<1x3x8xu8, q<0.5 : 7>>
  %y = reshape %e : tensor<1x3x8xu8, q<0.5 : 7>> -> tensor<3x8xu8, q<0.5 : 7>>
"""),
    # a per-axis quantization axis would move
    ("per-axis", """\
  %r = reshape %p : tensor<3x8xi8, q<axis=1, [0.5, 0.25, 0.125, 1.0, 0.5, 0.25, 0.125, 1.0] : [0, 0, 0, 0, 0, 0, 0, 0]>> -> tensor<1x3x8xi8, q<axis=2, [0.5, 0.25, 0.125, 1.0, 0.5, 0.25, 0.125, 1.0] : [0, 0, 0, 0, 0, 0, 0, 0]>>
  %d = dequantize %r : tensor<1x3x8xi8, q<axis=2, [0.5, 0.25, 0.125, 1.0, 0.5, 0.25, 0.125, 1.0] : [0, 0, 0, 0, 0, 0, 0, 0]>> -> tensor<1x3x8xf32>
  %y = reshape %d : tensor<1x3x8xf32> -> tensor<3x8xf32>
"""),
])
def test_reshapes_stay_where_sinking_is_not_allowed(case, ops):
    ops = ops.replace("IDENTITY", IDENTITY)
    outputs = "%y, %out" if case == "shared" else "%y"
    text = f"""\
graph @g(%x: tensor<3x8xu8, q<0.5 : 7>>, %t: tensor<1x3x8xu8, q<0.5 : 7>>, %p: tensor<3x8xi8, q<axis=1, [0.5, 0.25, 0.125, 1.0, 0.5, 0.25, 0.125, 1.0] : [0, 0, 0, 0, 0, 0, 0, 0]>>) -> ({outputs}) {{
  %old = table %x {{table = {IDENTITY}}} : tensor<3x8xu8, q<0.5 : 7>> -> tensor<3x8xu8, q<0.5 : 7>>
  %old_f = dequantize %old : tensor<3x8xu8, q<0.5 : 7>> -> tensor<3x8xf32>
  %new = table %t {{table = {IDENTITY}}} : tensor<1x3x8xu8, q<0.5 : 7>> -> tensor<1x3x8xu8, q<0.5 : 7>>
{ops}}}
"""
    out = run_pipeline_on_text(text, "canonicalize")
    reshape, reader = ops.splitlines()[:2]
    check_lines(out, [reshape, reader])
