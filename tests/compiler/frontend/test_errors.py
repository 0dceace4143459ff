"""Bad or unsupported models stop with one FrontendError naming the node, op type and reason."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from compiler.cli.main import main
from compiler.frontend import import_model
from compiler.frontend.errors import FrontendError
from isa.errors import VitcError


def _model(nodes, inputs, outputs, initializers=(), opset=17):
    graph = helper.make_graph(nodes, "t", inputs, outputs, list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _qdq_conv_model(**conv_attrs):
    """Float input -> Q -> DQ -> Conv(DQ(w)) -> Q -> DQ: onnxruntime fuses a QLinearConv."""
    rng = np.random.default_rng(0)
    init = [numpy_helper.from_array(np.float32(0.05), "s"), numpy_helper.from_array(np.uint8(128), "z"),
            numpy_helper.from_array(rng.integers(-127, 128, (4, 3, 3, 3)).astype(np.int8), "w"),
            numpy_helper.from_array(np.float32(0.01), "ws"), numpy_helper.from_array(np.int8(0), "wz")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"], name="q_in"),
             helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"], name="dq_in"),
             helper.make_node("DequantizeLinear", ["w", "ws", "wz"], ["wd"], name="dq_w"),
             helper.make_node("Conv", ["xd", "wd"], ["y"], name="the_conv", **conv_attrs),
             helper.make_node("QuantizeLinear", ["y", "s", "z"], ["yq"], name="q_out"),
             helper.make_node("DequantizeLinear", ["yq", "s", "z"], ["out"], name="dq_out")]
    return _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                  [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 4, None, None])], init)


def test_unsupported_op_names_node_and_op():
    model = _model([helper.make_node("Sin", ["x"], ["y"], name="my_sin")],
                   [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    with pytest.raises(FrontendError, match=r"node 'my_sin' \(Sin\): op type not supported by vitc"):
        import_model(model)


def test_node_onnxruntime_made_is_named_by_the_tensor_it_writes():
    """onnxruntime decomposes HardSwish into nameless HardSigmoid and Mul nodes."""
    model = _model([helper.make_node("HardSwish", ["x"], ["y"], name="my_hardswish")],
                   [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    with pytest.raises(FrontendError, match=r"node writing '.*' \(HardSigmoid\): op type not supported"):
        import_model(model)


def test_overlapping_convolution_is_refused_with_the_reason():
    with pytest.raises(FrontendError, match=r"node 'the_conv' \(QLinearConv\): only the patch-embedding "
                                            r"convolution .* strides \[1, 1\] differ from the kernel \[3, 3\]"):
        import_model(_qdq_conv_model(kernel_shape=[3, 3], pads=[1, 1, 1, 1]))


def test_patch_convolution_is_accepted():
    model = _qdq_conv_model(kernel_shape=[3, 3], strides=[3, 3])
    model.graph.input[0].type.tensor_type.shape.dim[2].dim_value = 9
    model.graph.input[0].type.tensor_type.shape.dim[3].dim_value = 9
    graph = import_model(model)
    assert [op.kind for op in graph.ops if op.kind in ("matmul_int", "bias_add", "requantize")] == \
        ["matmul_int", "requantize"]


def test_malformed_model_is_refused():
    model = _model([helper.make_node("Relu", ["x"], ["y"], name="r")],
                   [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    model.graph.node[0].input[0] = "missing_tensor"
    with pytest.raises(FrontendError, match="not a valid ONNX model.*missing_tensor"):
        import_model(model)


def test_shape_inference_failure_is_refused():
    model = _model([helper.make_node("Add", ["x", "b"], ["y"], name="bad_add")],
                   [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4]),
                    helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 5])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    with pytest.raises(FrontendError, match="shape inference failed"):
        import_model(model)


def test_dynamic_input_shape_is_refused():
    model = _model([helper.make_node("Relu", ["x"], ["y"], name="r")],
                   [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    with pytest.raises(FrontendError, match="graph input 'x' has dynamic dimension\\(s\\) batch"):
        import_model(model)


def test_unsupported_opset_is_refused():
    model = _model([helper.make_node("Relu", ["x"], ["y"], name="r")],
                   [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], opset=11)
    with pytest.raises(FrontendError, match="opset 11 is not supported"):
        import_model(model)


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(FrontendError, match="no such model file"):
        import_model(tmp_path / "absent.onnx")
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07 this is not protobuf \xff\xff")
    with pytest.raises(VitcError, match="corrupt.onnx"):
        import_model(corrupt)


def test_cli_prints_the_error_and_exits_1(tmp_path, capsys):
    model = _model([helper.make_node("Sin", ["x"], ["y"], name="my_sin")],
                   [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    assert main(["import", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("vitc: error: ") and "'my_sin' (Sin)" in err
    assert "Traceback" not in err
