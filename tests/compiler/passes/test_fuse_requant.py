"""fuse-requant on hand-written IR: matmul_int [-> bias_add] -> requantize becomes one qmatmul.

Checked three ways: the printed IR (FileCheck style, through `vitc opt`), the values (the
reference interpreter before and after, bit-identical), and both against numpy written from the
spec (exact integer accumulator, int32 wrap, then `sat(RNE(clamp(f32(f32(acc) * M))) + zy)`).
"""

import numpy as np
import pytest

from compiler.cli.main import main as vitc_main
from compiler.ir.parser import parse_graph
from compiler.ir.testing import check_lines, check_no_line, run_pipeline_on_text
from compiler.reference.interpreter import run_graph

A = "tensor<3x4xu8, q<0.5 : 7>>"
B_PT = "tensor<4x2xi8, q<0.25 : 0>>"
B_PC = "tensor<4x2xi8, q<axis=1, [0.25, 0.125] : [0, 0]>>"
Y = "tensor<3x2xu8, q<0.1 : 128>>"
WEIGHTS = "dense<[1, -2, 3, -4, 5, -6, 7, -128]>"

PER_TENSOR_WITH_BIAS = f"""\
graph @g(%a: {A}) -> (%y) {{
  %w = const {WEIGHTS} : {B_PT}
  %bias = const dense<[100, -2147483600]> : tensor<2xi32>
  %y_acc = matmul_int %a, %w : {A}, {B_PT} -> tensor<3x2xi32> loc("mm")
  %y_acc_biased = bias_add %y_acc, %bias : tensor<3x2xi32>, tensor<2xi32> -> tensor<3x2xi32> loc("mm")
  %y = requantize %y_acc_biased {{multiplier = [1.25]}} : tensor<3x2xi32> -> {Y} loc("mm")
}}
"""

PER_CHANNEL = f"""\
graph @g(%a: {A}) -> (%y) {{
  %w = const {WEIGHTS} : {B_PC}
  %y_acc = matmul_int %a, %w : {A}, {B_PC} -> tensor<3x2xi32> loc("mm")
  %y = requantize %y_acc {{multiplier = [1.25, 0.625]}} : tensor<3x2xi32> -> {Y} loc("mm")
}}
"""


def _spec(a: np.ndarray, weights: np.ndarray, b_zero, bias, multiplier) -> np.ndarray:
    """numpy from the spec: exact integer accumulator, int32 wrap, float32 requantisation to u8, zy=128."""
    acc = (a.astype(np.int64) - 7) @ (weights.astype(np.int64) - np.asarray(b_zero))
    if bias is not None:
        acc = acc + np.asarray(bias, dtype=np.int64)
    acc = ((acc + 2 ** 31) % 2 ** 32 - 2 ** 31).astype(np.int32)
    scaled = acc.astype(np.float32) * np.asarray(multiplier, dtype=np.float32)
    return (np.rint(np.clip(scaled, np.float32(-128), np.float32(127))) + 128).astype(np.uint8)


def _values(text: str, a: np.ndarray) -> np.ndarray:
    return run_graph(parse_graph(text), {"a": a}, threads=1)["y"]


def _inputs():
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, size=(3, 4), dtype=np.uint8) for _ in range(20)] + [np.full((3, 4), 255, np.uint8)]


WEIGHT_CODES = np.array([1, -2, 3, -4, 5, -6, 7, -128], dtype=np.int8).reshape(4, 2)


def test_per_tensor_chain_with_bias_becomes_one_qmatmul():
    out = run_pipeline_on_text(PER_TENSOR_WITH_BIAS, "fuse-requant")
    check_lines(out, [
        f'%y = qmatmul %a, %w, %bias {{multiplier = [1.25]}} : {A}, {B_PT}, tensor<2xi32> -> {Y} loc("mm")',
    ])
    check_no_line(out, "matmul_int")
    check_no_line(out, "bias_add")
    check_no_line(out, "requantize")


def test_per_channel_chain_becomes_one_qmatmul():
    out = run_pipeline_on_text(PER_CHANNEL, "fuse-requant")
    check_lines(out, [f'%y = qmatmul %a, %w {{multiplier = [1.25, 0.625]}} : {A}, {B_PC} -> {Y} loc("mm")'])
    check_no_line(out, "%y_acc")


@pytest.mark.parametrize("text, b_zero, bias, multiplier", [
    (PER_TENSOR_WITH_BIAS, 0, [100, -2147483600], [1.25]),  # the bias drives the sum past int32: wraps
    (PER_CHANNEL, [0, 0], None, [1.25, 0.625]),
], ids=["per-tensor-bias", "per-channel"])
def test_values_are_bit_identical_before_and_after_and_equal_the_spec(text, b_zero, bias, multiplier):
    fused = run_pipeline_on_text(text, "fuse-requant")
    for index, a in enumerate(_inputs()):
        want = _spec(a, WEIGHT_CODES, b_zero, bias, multiplier)
        for level, got in (("unfused", _values(text, a)), ("fused", _values(fused, a))):
            bad = np.argwhere(got != want)
            assert bad.size == 0, (f"input {index}, {level} %y element {bad[0].tolist()}: "
                                   f"{got[tuple(bad[0])]} != spec {want[tuple(bad[0])]}")


def test_an_accumulator_read_twice_is_not_fused():
    text = PER_CHANNEL.replace("-> (%y)", "-> (%y, %y_acc)")
    out = run_pipeline_on_text(text, "fuse-requant")
    check_lines(out, [f'%y_acc = matmul_int %a, %w : {A}, {B_PC} -> tensor<3x2xi32> loc("mm")',
                      f'%y = requantize %y_acc {{multiplier = [1.25, 0.625]}} : tensor<3x2xi32> -> {Y} loc("mm")'])
    check_no_line(out, "qmatmul")


def test_an_unquantized_accumulator_is_not_fused():
    """MatMulInteger operands may carry no quantization; qmatmul needs it, so the steps stay."""
    text = """\
graph @g(%a: tensor<1x2xu8>) -> (%y) {
  %w = const dense<[1, 2]> : tensor<2x1xu8>
  %acc = matmul_int %a, %w : tensor<1x2xu8>, tensor<2x1xu8> -> tensor<1x1xi32>
  %y = requantize %acc {multiplier = [0.5]} : tensor<1x1xi32> -> tensor<1x1xu8, q<1.0 : 0>>
}
"""
    out = run_pipeline_on_text(text, "fuse-requant")
    check_lines(out, ["%acc = matmul_int %a, %w : tensor<1x2xu8>, tensor<2x1xu8> -> tensor<1x1xi32>"])


def test_a_per_channel_multiplier_over_a_per_tensor_weight_is_not_fused():
    text = PER_CHANNEL.replace(B_PC, B_PT)
    out = run_pipeline_on_text(text, "fuse-requant")
    check_no_line(out, "qmatmul")


def test_fusing_twice_changes_nothing():
    once = run_pipeline_on_text(PER_TENSOR_WITH_BIAS, "fuse-requant")
    assert run_pipeline_on_text(once, "fuse-requant") == once


def test_vitc_opt_runs_the_pass(tmp_path, capsys):
    source = tmp_path / "in.vir"
    source.write_text(PER_TENSOR_WITH_BIAS)
    assert vitc_main(["opt", str(source), "-p", "fuse-requant", "--verify-each"]) == 0
    check_lines(capsys.readouterr().out, [
        f'%y = qmatmul %a, %w, %bias {{multiplier = [1.25]}} : {A}, {B_PT}, tensor<2xi32> -> {Y} loc("mm")'])


def test_a_bias_of_the_wrong_length_is_a_clear_error(tmp_path, capsys):
    source = tmp_path / "bad.vir"
    source.write_text(PER_TENSOR_WITH_BIAS.replace("dense<[100, -2147483600]> : tensor<2xi32>",
                                                   "dense<[100, 1, 2]> : tensor<3xi32>")
                      .replace("tensor<3x2xi32>, tensor<2xi32>", "tensor<3x2xi32>, tensor<3xi32>"))
    assert vitc_main(["opt", str(source), "-p", "fuse-requant"]) == 1
    err = capsys.readouterr().err
    assert "bias_add" in err and "bias shape [3] should be [2]" in err and "Traceback" not in err
