"""Single-node onnxruntime models (CPU provider, default session options), the independent
reference the emulator's instruction semantics are cross-checked against."""

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ONNX_TYPES = {np.dtype(np.uint8): TensorProto.UINT8, np.dtype(np.int8): TensorProto.INT8,
              np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int32): TensorProto.INT32}


def run_node(op_type: str, inputs: dict, constants: dict, output_type, output_shape, domain: str = "", input_order=None):
    """Run one node whose inputs are `inputs` (graph inputs) and `constants` (initializers),
    in `input_order` (default: graph inputs first)."""
    names = input_order or list(inputs) + list(constants)
    node = helper.make_node(op_type, names, ["out"], domain=domain)
    graph = helper.make_graph(
        [node], op_type,
        [helper.make_tensor_value_info(name, ONNX_TYPES[value.dtype], value.shape) for name, value in inputs.items()],
        [helper.make_tensor_value_info("out", ONNX_TYPES[np.dtype(output_type)], output_shape)],
        [numpy_helper.from_array(np.asarray(value), name) for name, value in constants.items()],
    )
    opsets = [helper.make_opsetid("", 21)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    model = helper.make_model(graph, opset_imports=opsets)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, inputs)[0]
