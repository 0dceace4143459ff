"""fold-constants: layout ops on constants become constants with hand-computed values."""

import pytest

from compiler.ir.testing import check_lines, check_no_line, run_pipeline_on_text
from isa.errors import VitcError

INPUT = """\
graph @g(%x: tensor<2xi64>) -> (%t, %g, %s, %cat, %sq, %r, %chain, %not_const) {
  %m = const dense<[1, 2, 3, 4, 5, 6]> : tensor<3x2xi8, q<0.5 : 3>>
  %idx = const dense<[2, 0]> : tensor<2xi64>
  %t = transpose %m {perm = [1, 0]} : tensor<3x2xi8, q<0.5 : 3>> -> tensor<2x3xi8, q<0.5 : 3>>
  %g = gather %m, %idx {axis = 0} : tensor<3x2xi8, q<0.5 : 3>>, tensor<2xi64> -> tensor<2x2xi8, q<0.5 : 3>>
  %s = slice %m {starts = [2, 1], ends = [-1, 2], steps = [-2, 1]} : tensor<3x2xi8, q<0.5 : 3>> -> tensor<2x1xi8, q<0.5 : 3>>
  %f = const dense<[0.5, -0.0, 1e-45]> : tensor<1x3xf32>
  %cat = concat %f, %f {axis = 0} : tensor<1x3xf32>, tensor<1x3xf32> -> tensor<2x3xf32>
  %sq = squeeze %f {axes = [0]} : tensor<1x3xf32> -> tensor<3xf32>
  %r = reshape %m : tensor<3x2xi8, q<0.5 : 3>> -> tensor<6xi8, q<0.5 : 3>>
  %u = unsqueeze %r {axes = [0]} : tensor<6xi8, q<0.5 : 3>> -> tensor<1x6xi8, q<0.5 : 3>>
  %chain = flatten %u {axis = 2} : tensor<1x6xi8, q<0.5 : 3>> -> tensor<6x1xi8, q<0.5 : 3>>
  %not_const = gather %m, %x {axis = 0} : tensor<3x2xi8, q<0.5 : 3>>, tensor<2xi64> -> tensor<2x2xi8, q<0.5 : 3>>
}
"""


def test_layout_ops_on_constants_fold_to_hand_computed_values():
    out = run_pipeline_on_text(INPUT, "fold-constants")
    check_lines(out, [
        "%t = const dense<[1, 3, 5, 2, 4, 6]> : tensor<2x3xi8, q<0.5 : 3>>",
        "%g = const dense<[5, 6, 1, 2]> : tensor<2x2xi8, q<0.5 : 3>>",
        "%s = const dense<[6, 2]> : tensor<2x1xi8, q<0.5 : 3>>",
        "%cat = const dense<[0.5, -0.0, 1e-45, 0.5, -0.0, 1e-45]> : tensor<2x3xf32>",
        "%sq = const dense<[0.5, -0.0, 1e-45]> : tensor<3xf32>",
        "%r = const dense<[1, 2, 3, 4, 5, 6]> : tensor<6xi8, q<0.5 : 3>>",
        "%u = const dense<[1, 2, 3, 4, 5, 6]> : tensor<1x6xi8, q<0.5 : 3>>",
        "%chain = const dense<[1, 2, 3, 4, 5, 6]> : tensor<6x1xi8, q<0.5 : 3>>",
        "%not_const = gather %m, %x {axis = 0} : tensor<3x2xi8, q<0.5 : 3>>, tensor<2xi64> -> tensor<2x2xi8, q<0.5 : 3>>",
    ])


def test_dce_after_folding_drops_the_unused_sources():
    out = run_pipeline_on_text(INPUT.replace("%not_const)", "%t)").replace(", %not_const", ""), "fold-constants,dce")
    check_no_line(out, "%idx")
    check_no_line(out, "%not_const")
    check_lines(out, ["%t = const dense<[1, 3, 5, 2, 4, 6]> : tensor<2x3xi8, q<0.5 : 3>>"])


def test_per_axis_quantization_follows_the_folded_transpose():
    text = """\
graph @g() -> (%t) {
  %w = const dense<[1, 2, 3, 4, 5, 6]> : tensor<2x3xi8, q<axis=1, [0.5, 0.25, 0.125] : [0, 0, 0]>>
  %t = transpose %w {perm = [1, 0]} : tensor<2x3xi8, q<axis=1, [0.5, 0.25, 0.125] : [0, 0, 0]>> -> tensor<3x2xi8, q<axis=0, [0.5, 0.25, 0.125] : [0, 0, 0]>>
}
"""
    out = run_pipeline_on_text(text, "fold-constants")
    check_lines(out, ["%t = const dense<[1, 4, 2, 5, 3, 6]> : tensor<3x2xi8, q<axis=0, [0.5, 0.25, 0.125] : [0, 0, 0]>>"])


def test_max_elements_limits_folding():
    out = run_pipeline_on_text(INPUT, "fold-constants{max-elements=4}")
    check_lines(out, ["%g = const dense<[5, 6, 1, 2]> : tensor<2x2xi8, q<0.5 : 3>>",
                      "%s = const dense<[6, 2]> : tensor<2x1xi8, q<0.5 : 3>>"])
    check_lines(out, ["%t = transpose %m {perm = [1, 0]} : tensor<3x2xi8, q<0.5 : 3>> -> tensor<2x3xi8, q<0.5 : 3>>"])


def test_out_of_range_gather_index_names_pass_and_op():
    text = INPUT.replace("dense<[2, 0]> : tensor<2xi64>", "dense<[3, 0]> : tensor<2xi64>")
    with pytest.raises(VitcError, match=r"^pass 'fold-constants' \(#1 of the pipeline\): op 'gather' %g: "
                                        r"gather index 3 at \[0\] is outside \[0, 3\) along axis 0$"):
        run_pipeline_on_text(text, "fold-constants")
