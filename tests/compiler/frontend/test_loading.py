"""Loading a model: from a file, from a ModelProto, and from a file whose tensors are stored
beside it (ONNX external data) the frontend imports the same IR."""

import onnx

from compiler.frontend import import_model
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
