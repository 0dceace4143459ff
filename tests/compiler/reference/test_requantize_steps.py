"""The unfused matmul steps (`matmul_int`, `bias_add`, `requantize`) run by the interpreter from IR
text, against onnxruntime's fused kernels (QGemm with bias, QLinearMatMul per channel) and
MatMulInteger with a per-column zero point: every element equal.
"""

import numpy as np
import pytest
from onnx import helper

from compiler.ir.parser import parse_graph
from compiler.reference.interpreter import run_graph
from tests.compiler.reference.onnxruntime_runner import assert_exact, ms_node, run_nodes

F32 = np.float32


def _dense(array: np.ndarray) -> str:
    return "dense<[" + ", ".join(str(int(v)) for v in array.ravel()) + "]>"


def _q(scales, zeros, axis=None) -> str:
    if axis is None:
        return f"q<{float(scales)!r} : {int(zeros)}>"
    return f"q<axis={axis}, [{', '.join(repr(float(s)) for s in scales)}] : [{', '.join(str(int(z)) for z in zeros)}]>"


def _steps_text(m, k, n, a_q, b_type, b, bias, multiplier, y_q) -> str:
    acc = f"tensor<{m}x{n}xi32>"
    a_t, b_t, y_t = f"tensor<{m}x{k}xu8, {a_q}>", f"tensor<{k}x{n}x{b_type}>", f"tensor<{m}x{n}xu8, {y_q}>"
    biased = "%acc"
    lines = [f"  %b = const {_dense(b)} : {b_t}",
             f"  %acc = matmul_int %a, %b : {a_t}, {b_t} -> {acc}"]
    if bias is not None:
        lines = [f"  %bias = const {_dense(bias)} : tensor<{n}xi32>"] + lines
        lines.append(f"  %biased = bias_add %acc, %bias : {acc}, tensor<{n}xi32> -> {acc}")
        biased = "%biased"
    mult = ", ".join(repr(float(v)) for v in np.atleast_1d(multiplier))
    lines.append(f"  %y = requantize {biased} {{multiplier = [{mult}]}} : {acc} -> {y_t}")
    return f"graph @g(%a: {a_t}) -> (%y) {{\n" + "\n".join(lines) + "\n}\n"


@pytest.mark.parametrize("per_channel", [False, True], ids=["per-tensor", "per-channel"])
def test_qgemm_with_bias_as_three_steps(per_channel):
    rng = np.random.default_rng(4)
    m, k, n = 17, 64, 24
    a = rng.integers(0, 256, (m, k)).astype(np.uint8)
    b = rng.integers(-127, 128, (k, n)).astype(np.int8)
    bias = rng.integers(-40000, 40000, n).astype(np.int32)
    sa, alpha = F32(0.02), 0.5
    sb = rng.uniform(0.002, 0.01, n if per_channel else ()).astype(F32)
    sy, zy = F32(0.05), np.uint8(121)
    zb = np.zeros(n, np.int8) if per_channel else np.int8(0)
    (want,) = run_nodes([ms_node("QGemm", ["a", "sa", "za", "b", "sb", "zb", "c", "sy", "zy"], ["y"], alpha=alpha)],
                        {"a": a}, {"y": np.uint8},
                        {"sa": sa, "za": np.uint8(133), "b": b, "sb": sb, "zb": zb, "c": bias, "sy": sy, "zy": zy})
    multiplier = (F32(F32(alpha) * sa) * sb / sy).astype(F32)  # onnxruntime's QGemm order
    b_q = _q(sb, zb, axis=1) if per_channel else _q(sb, 0)
    text = _steps_text(m, k, n, _q(sa, 133), f"i8, {b_q}", b, bias, multiplier, _q(sy, 121))
    got = run_graph(parse_graph(text), {"a": a}, threads=1)["y"]
    assert_exact(f"QGemm {'per channel' if per_channel else 'per tensor'} as matmul_int -> bias_add -> requantize",
                 got, want)


def test_qlinear_matmul_per_channel_with_uint8_weights_as_two_steps():
    """uint8 weights with per-channel zero points: the accumulator subtracts zb per column."""
    rng = np.random.default_rng(5)
    m, k, n = 9, 48, 12
    a = rng.integers(0, 256, (m, k)).astype(np.uint8)
    b = rng.integers(0, 256, (k, n)).astype(np.uint8)
    zb = rng.integers(100, 150, n).astype(np.uint8)
    sa, sy = F32(0.03), F32(0.2)
    sb = rng.uniform(0.002, 0.01, n).astype(F32)
    (want,) = run_nodes([helper.make_node("QLinearMatMul", ["a", "sa", "za", "b", "sb", "zb", "sy", "zy"], ["y"])],
                        {"a": a}, {"y": np.uint8},
                        {"sa": sa, "za": np.uint8(9), "b": b, "sb": sb, "zb": zb, "sy": sy, "zy": np.uint8(128)})
    multiplier = (sa * sb / sy).astype(F32)
    text = _steps_text(m, k, n, _q(sa, 9), f"u8, {_q(sb, zb, axis=1)}", b, None, multiplier, _q(sy, 128))
    got = run_graph(parse_graph(text), {"a": a}, threads=1)["y"]
    assert_exact("QLinearMatMul per channel, uint8 weights, as matmul_int -> requantize", got, want)


def test_matmul_int_with_per_column_zero_points_matches_matmul_integer():
    rng = np.random.default_rng(6)
    a = rng.integers(0, 256, (5, 40)).astype(np.uint8)
    b = rng.integers(0, 256, (40, 6)).astype(np.uint8)
    zb = rng.integers(0, 256, 6).astype(np.uint8)
    (want,) = run_nodes([helper.make_node("MatMulInteger", ["a", "b", "za", "zb"], ["y"])], {"a": a},
                        {"y": np.int32}, {"b": b, "za": np.uint8(3), "zb": zb})
    text = (f"graph @g(%a: tensor<5x40xu8, q<1.0 : 3>>) -> (%y) {{\n"
            f"  %b = const {_dense(b)} : tensor<40x6xu8, {_q(np.ones(6), zb, axis=1)}>\n"
            f"  %y = matmul_int %a, %b : tensor<5x40xu8, q<1.0 : 3>>, tensor<40x6xu8, {_q(np.ones(6), zb, axis=1)}> "
            f"-> tensor<5x6xi32>\n}}\n")
    assert_exact("MatMulInteger, per-column zb", run_graph(parse_graph(text), {"a": a}, threads=1)["y"], want)


def test_bias_add_wraps_like_int32():
    text = """\
graph @g(%acc: tensor<1x2xi32>) -> (%y) {
  %bias = const dense<[1, -1]> : tensor<2xi32>
  %y = bias_add %acc, %bias : tensor<1x2xi32>, tensor<2xi32> -> tensor<1x2xi32>
}
"""
    acc = np.array([[2 ** 31 - 1, -2 ** 31]], np.int32)
    got = run_graph(parse_graph(text), {"acc": acc})["y"]
    assert got.tolist() == [[-2 ** 31, 2 ** 31 - 1]]
