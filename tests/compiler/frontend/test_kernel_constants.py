"""The kernel constants the frontend stores reproduce onnxruntime's QLinearAdd / QLinearMul exactly.

Each case runs the com.microsoft kernel on every pair of codes (65536 elements) and compares it,
element by element, with the formula of docs/architecture.md / NUMERICS.md evaluated in numpy
with the frontend's constants. fma(x, r, t) is computed in float64, where x * r (8-bit by
24-bit) is exact, then rounded once to float32.
"""

import numpy as np
import onnxruntime as ort
import pytest
from onnx import helper, numpy_helper

from compiler.frontend.kernel_constants import qadd_constants, qmul_multiplier

CASES = [  # (dtype, sa, za, sb, zb, sc, zc)
    (np.uint8, 0.0213, 131, 0.00041, 7, 0.0219, 128),
    (np.uint8, 0.05, 0, 0.05, 255, 0.1, 100),
    (np.int8, 0.0335, -3, 0.0298, 12, 0.0412, -8),
    (np.uint8, 0.00392157, 0, 0.0784, 77, 0.0431, 9),
]


def _run(op: str, dtype, sa, za, sb, zb, sc, zc):
    codes = np.arange(256, dtype=np.uint8).view(dtype)
    a, b = np.meshgrid(codes, codes, indexing="ij")
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    inits = [numpy_helper.from_array(np.array(v, dtype=t), n) for n, v, t in
             [("sa", sa, np.float32), ("za", za, dtype), ("sb", sb, np.float32), ("zb", zb, dtype),
              ("sc", sc, np.float32), ("zc", zc, dtype)]]
    node = helper.make_node(op, ["a", "sa", "za", "b", "sb", "zb", "sc", "zc"], ["c"], domain="com.microsoft")
    graph = helper.make_graph([node], "k", [helper.make_tensor_value_info("a", elem, a.shape),
                                            helper.make_tensor_value_info("b", elem, b.shape)],
                              [helper.make_tensor_value_info("c", elem, a.shape)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return a, b, session.run(None, {"a": a, "b": b})[0]


def _fma(x, r, t):
    return (x.astype(np.float64) * np.float64(r) + np.asarray(t, dtype=np.float64)).astype(np.float32)


def _saturate(v, dtype):
    info = np.iinfo(dtype)
    return np.clip(np.rint(v), info.min, info.max).astype(dtype)


def _assert_equal(got, expected, what):
    bad = np.flatnonzero(got.ravel() != expected.ravel())
    assert bad.size == 0, (f"{what}: element {bad[0]} formula {got.ravel()[bad[0]]}, onnxruntime "
                           f"{expected.ravel()[bad[0]]} ({bad.size} of {got.size} differ)")


@pytest.mark.parametrize("case", CASES)
def test_qlinear_add_constants(case):
    dtype, sa, za, sb, zb, sc, zc = case
    a, b, expected = _run("QLinearAdd", *case)
    k = qadd_constants(np.float32(sa), za, np.float32(sb), zb, np.float32(sc), zc)
    got = _saturate(_fma(a, k["ra"], _fma(b, k["rb"], np.float32(k["fixed"]))), dtype)
    _assert_equal(got, expected, f"QLinearAdd {case}")


@pytest.mark.parametrize("case", CASES)
def test_qlinear_mul_multiplier(case):
    dtype, sa, za, sb, zb, sc, zc = case
    a, b, expected = _run("QLinearMul", *case)
    m = np.float32(qmul_multiplier(np.float32(sa), np.float32(sb), np.float32(sc)))
    product = ((a.astype(np.int64) - za) * (b.astype(np.int64) - zb)).astype(np.float32)
    got = _saturate((product * m) + np.float32(zc), dtype)
    _assert_equal(got, expected, f"QLinearMul {case}")
