"""Float32 elementwise ops, ReduceMean and float MatMul (MLAS SGEMM) against onnxruntime."""

import numpy as np
import pytest
from onnx import helper

from compiler.reference.kernels import float_ops
from compiler.reference.kernels.reduce import reduce_mean_last_axis
from compiler.reference.kernels.sgemm import sgemm
from isa.errors import VitcError
from tests.compiler.reference.onnxruntime_runner import assert_exact, count_differences, run_nodes

F32 = np.float32


@pytest.mark.parametrize("kind, onnx_op", [("add", "Add"), ("sub", "Sub"), ("mul", "Mul"), ("div", "Div")])
def test_binary(kind, onnx_op):
    rng = np.random.default_rng(len(kind))
    a = (rng.standard_normal((64, 197)) * 10).astype(F32)
    b = (rng.standard_normal((197,)) * 3).astype(F32)
    (y,) = run_nodes([helper.make_node(onnx_op, ["a", "b"], ["y"])], {"a": a}, {"y": F32}, {"b": b})
    assert_exact(onnx_op, float_ops.binary(kind, a, b), y)


def test_sqrt_and_square():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((64, 197)) * 5).astype(F32)
    (r,) = run_nodes([helper.make_node("Sqrt", ["x"], ["y"])], {"x": np.abs(x)}, {"y": F32})
    assert_exact("Sqrt", float_ops.sqrt(np.abs(x)), r)
    (p,) = run_nodes([helper.make_node("Pow", ["x", "e"], ["y"])], {"x": x}, {"y": F32}, {"e": F32(2)})
    assert_exact("Pow 2", float_ops.power(x, F32(2)), p)
    with pytest.raises(VitcError, match="exponent"):
        float_ops.power(x, F32(3))


@pytest.mark.parametrize("n", [8, 64, 192, 768])
def test_reduce_mean_last_axis(n):
    rng = np.random.default_rng(n)
    x = (rng.standard_normal((300, n)) * 3 + 1).astype(F32)
    (y,) = run_nodes([helper.make_node("ReduceMean", ["x"], ["y"], axes=[-1], keepdims=1)], {"x": x}, {"y": F32},
                     opset=17)
    assert_exact(f"ReduceMean N={n}", reduce_mean_last_axis(x), y)
    if n >= 64:
        sequential = (np.add.accumulate(x, axis=-1, dtype=F32)[:, -1:] / F32(n)).astype(F32)
        assert count_differences(sequential, y) > 0, "a sequential sum should differ (test power)"


def test_reduce_mean_refuses_unreproduced_lengths():
    with pytest.raises(VitcError, match="multiples of 8"):
        reduce_mean_last_axis(np.ones((2, 197), F32))


MATMUL_SHAPES = [((17, 64), (64, 64)), ((197, 192), (192, 96)), ((1, 197, 192), (192, 192)), ((17, 300), (300, 33)),
                 ((1, 17, 64), (64, 64)), ((2, 17, 64), (2, 64, 17)), ((50, 768), (768, 100)), ((5, 192), (192, 10)),
                 ((65, 129), (129, 200)), ((197, 192), (192, 8)), ((3, 500), (500, 700))]


@pytest.mark.parametrize("b_is_constant", [True, False], ids=["constant-B", "computed-B"])
@pytest.mark.parametrize("a_shape, b_shape", MATMUL_SHAPES, ids=str)
def test_float_matmul(a_shape, b_shape, b_is_constant):
    """A constant B is an initializer (prepacked); a computed B is a graph input here."""
    rng = np.random.default_rng(a_shape[-1] + b_shape[-1])
    a = rng.standard_normal(a_shape).astype(F32)
    b = rng.standard_normal(b_shape).astype(F32)
    feeds, constants = ({"a": a}, {"b": b}) if b_is_constant else ({"a": a, "b": b}, {})
    (y,) = run_nodes([helper.make_node("MatMul", ["a", "b"], ["y"])], feeds, {"y": F32}, constants, opset=17,
                     threads=2)
    assert_exact(f"MatMul {a_shape} x {b_shape}", sgemm(a, b, b_is_constant, threads=2), y)
    if a_shape[-1] > 128:
        wide = np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(F32)
        assert count_differences(wide, y) > 0, "float64 accumulation should differ (test power)"


def test_single_row_by_computed_matrix_is_refused():
    with pytest.raises(VitcError, match="M=1"):
        sgemm(np.ones((1, 192), F32), np.ones((192, 10), F32), False, threads=2)


def test_mlas_approximations_are_refused():
    with pytest.raises(VitcError, match="erf"):
        float_ops.unsupported_unary("erf")
