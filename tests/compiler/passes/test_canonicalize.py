"""canonicalize: each rewrite rule, text in and text out, and that outputs keep their names."""

import numpy as np
import pytest

from compiler.ir.graph import Graph
from compiler.ir.layout_eval import evaluate_layout
from compiler.ir.parser import parse_graph
from compiler.ir.printer import print_graph
from compiler.ir.testing import check_lines, check_no_line, run_pipeline_on_text
from compiler.ir.types import Quant, TensorType

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
