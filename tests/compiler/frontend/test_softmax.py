"""A float Softmax node lowers to one `softmax` op (axis normalized) that the reference
interpreter runs exactly as onnxruntime does (single-node models, opsets 13 and 18)."""

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from compiler.frontend import import_model
from compiler.frontend.errors import FrontendError
from compiler.reference.cpu_features import detect
from compiler.reference.interpreter import run_graph
from tests.compiler.reference.onnxruntime_runner import assert_exact

F32 = np.float32


def _softmax_model(shape, opset, **attrs):
    node = helper.make_node("Softmax", ["x"], ["y"], name="the_softmax", **attrs)
    graph = helper.make_graph([node], "softmax", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


@pytest.mark.parametrize("opset", [13, 18])
@pytest.mark.parametrize("shape, attrs, axis", [((2, 17, 197), {}, 2), ((3, 64), {"axis": -1}, 1),
                                                ((2, 17, 5), {"axis": 1}, 1), ((4, 3), {"axis": 0}, 0)],
                         ids=["default", "axis=-1", "axis=1", "axis=0"])
def test_float_softmax_lowers_and_runs_like_onnxruntime(opset, shape, attrs, axis):
    if not detect().has("avx512f"):
        pytest.skip("the reference reproduces MLAS's AVX-512F softmax kernel")
    model = _softmax_model(shape, opset, **attrs)
    graph = import_model(model)
    (op,) = [op for op in graph.ops if op.kind == "softmax"]
    assert op.attrs == {"axis": axis} and list(op.loc) == ["the_softmax"]
    x = (np.random.default_rng(opset + axis).standard_normal(shape) * 6).astype(F32)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (expected,) = session.run(None, {"x": x})
    assert_exact(f"Softmax {shape} {attrs} opset {opset}", run_graph(graph, {"x": x})["y"], expected)


def test_softmax_axis_out_of_range_names_the_node():
    """onnx shape inference refuses it first, naming the node; the frontend never sees it."""
    model = _softmax_model((2, 3), 13, axis=2)
    with pytest.raises(FrontendError, match=r"the_softmax.*'axis' must be in"):
        import_model(model)
