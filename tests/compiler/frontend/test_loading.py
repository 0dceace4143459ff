"""Loading a model: from a file, from a ModelProto, and from a file whose tensors are stored
beside it (ONNX external data) the frontend imports the same IR; without onnx's private
shape-inference binding, the public API gives the same model and the same errors."""

import onnx
import pytest
from onnx import TensorProto, helper

from compiler.frontend import import_model, loading
from compiler.frontend.errors import FrontendError
from compiler.ir.equality import graph_difference
from models import zoo


def test_a_file_a_proto_and_external_data_give_the_same_ir(tmp_path):
    path = zoo.quantized_model_path("vit-micro", "qdq-u8-pt")
    from_file = import_model(path)
    model = onnx.load(str(path))
    from_proto = import_model(model)
    external = tmp_path / "external.onnx"
    onnx.save_model(model, str(external), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="weights.bin", size_threshold=0)
    assert (tmp_path / "weights.bin").stat().st_size > 0
    assert any(t.data_location == onnx.TensorProto.EXTERNAL for t in onnx.load(str(external), load_external_data=False).graph.initializer)
    from_external = import_model(external)
    assert graph_difference(from_file, from_proto) is None
    assert graph_difference(from_file, from_external) is None



def _public_shape_inference_only(monkeypatch) -> list:
    """onnx without the private bytes-to-bytes binding; returns the list of the public API's calls."""
    calls = []
    public = onnx.shape_inference.infer_shapes

    def counted(*args, **kwargs):
        calls.append(args)
        return public(*args, **kwargs)

    monkeypatch.setattr(loading, "infer_shapes_bytes", None)
    monkeypatch.setattr(onnx.shape_inference, "infer_shapes", counted)
    return calls


def test_without_the_private_binding_the_public_api_infers_the_same_model(monkeypatch):
    path = zoo.quantized_model_path("vit-micro", "qdq-u8-pt")
    fast, fast_ir = loading.load_checked_model(path), import_model(path)
    calls = _public_shape_inference_only(monkeypatch)
    fallback = loading.load_checked_model(path)
    assert len(calls) == 1
    assert fallback.model == fast.model
    assert onnx.load_from_string(fallback.serialized) == fallback.model
    assert graph_difference(import_model(path), fast_ir) is None
    assert len(calls) == 2


def test_without_the_private_binding_shape_inference_errors_are_still_refused(monkeypatch):
    graph = helper.make_graph([helper.make_node("Add", ["x", "b"], ["y"], name="bad_add")], "t",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4]),
                               helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    calls = _public_shape_inference_only(monkeypatch)
    with pytest.raises(FrontendError, match="shape inference failed"):
        import_model(model)
    assert len(calls) == 1
