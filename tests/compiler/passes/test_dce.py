"""dce: text in, pipeline, expected lines out."""

from compiler.ir.testing import check_lines, check_no_line, run_pipeline_on_text

INPUT = """\
graph @g(%x: tensor<2x3xf32>, %unused_input: tensor<4xf32>) -> (%y, %c) {
  %dead1 = sqrt %x : tensor<2x3xf32> -> tensor<2x3xf32>
  %dead2 = exp %dead1 : tensor<2x3xf32> -> tensor<2x3xf32>
  %a = tanh %x : tensor<2x3xf32> -> tensor<2x3xf32>
  %c = const dense<[1, 2]> : tensor<2xi8>
  %dead_const = const dense<[7]> : tensor<1xi64>
  %y = add %a, %x : tensor<2x3xf32>, tensor<2x3xf32> -> tensor<2x3xf32> loc("Add")
}
"""


def test_dce_removes_exactly_the_ops_no_output_needs():
    out = run_pipeline_on_text(INPUT, "dce")
    check_lines(out, [
        "graph @g(%x: tensor<2x3xf32>, %unused_input: tensor<4xf32>) -> (%y, %c) {",
        "%a = tanh %x : tensor<2x3xf32> -> tensor<2x3xf32>",
        "%c = const dense<[1, 2]> : tensor<2xi8>",
        '%y = add %a, %x : tensor<2x3xf32>, tensor<2x3xf32> -> tensor<2x3xf32> loc("Add")',
        "}",
    ])
    for name in ("%dead1", "%dead2", "%dead_const"):
        check_no_line(out, name)
    assert len(out.splitlines()) == 5


def test_dce_is_idempotent():
    once = run_pipeline_on_text(INPUT, "dce")
    assert run_pipeline_on_text(once, "dce") == once
