"""Independent reference: one-node (or DQ -> op -> Q) ONNX models run by onnxruntime.

Every expected value in these tests comes from onnxruntime's CPU provider itself, never from the
code under test. Models use default session options (what the project compares against) unless
a test needs the unfused float path, which runs with graph optimisation disabled.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

MS = "com.microsoft"
ONNX_TYPE = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int8): TensorProto.INT8,
             np.dtype(np.uint8): TensorProto.UINT8}


def run_nodes(nodes, inputs: dict[str, np.ndarray], initializers: dict[str, np.ndarray], output: str,
              output_dtype, *, optimize: bool = True, opset: int = 17) -> np.ndarray:
    """Run a graph of `nodes` on `inputs` and return tensor `output`."""
    graph = helper.make_graph(
        nodes, "reference",
        [helper.make_tensor_value_info(name, ONNX_TYPE[a.dtype], a.shape) for name, a in inputs.items()],
        [helper.make_tensor_value_info(output, ONNX_TYPE[np.dtype(output_dtype)], None)],
        [numpy_helper.from_array(np.asarray(a), name) for name, a in initializers.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid(MS, 1)])
    model.ir_version = 8
    options = ort.SessionOptions()
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run([output], inputs)[0]


def quantize_linear(x: np.ndarray, scale: float, zero_point: int, dtype) -> np.ndarray:
    node = helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"])
    return run_nodes([node], {"x": x}, {"s": np.array(scale, np.float32), "z": np.array(zero_point, dtype)},
                     "y", dtype)


def dequantize_linear(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    node = helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"])
    return run_nodes([node], {"q": q}, {"s": np.array(scale, np.float32), "z": np.array(zero_point, q.dtype)},
                     "y", np.float32)


def qlinear_binary(op_type: str, a, a_q, b, b_q, c_q, c_dtype, *, constant_b: bool = False) -> np.ndarray:
    """com.microsoft QLinearAdd / QLinearMul; `*_q` are (scale, zero point)."""
    node = helper.make_node(op_type, ["a", "sa", "za", "b", "sb", "zb", "sc", "zc"], ["c"], domain=MS)
    inits = {"sa": np.array(a_q[0], np.float32), "za": np.array(a_q[1], a.dtype),
             "sb": np.array(b_q[0], np.float32), "zb": np.array(b_q[1], b.dtype),
             "sc": np.array(c_q[0], np.float32), "zc": np.array(c_q[1], c_dtype)}
    inputs = {"a": a}
    (inits if constant_b else inputs)["b"] = b
    return run_nodes([node], inputs, inits, "c", c_dtype)


def float_path_binary(op_type: str, a, a_q, b, b_q, c_q, c_dtype) -> np.ndarray:
    """DequantizeLinear(a), DequantizeLinear(b) -> Add / Mul -> QuantizeLinear, unfused."""
    nodes = [helper.make_node("DequantizeLinear", ["a", "sa", "za"], ["fa"]),
             helper.make_node("DequantizeLinear", ["b", "sb", "zb"], ["fb"]),
             helper.make_node(op_type, ["fa", "fb"], ["f"]),
             helper.make_node("QuantizeLinear", ["f", "sc", "zc"], ["c"])]
    inits = {"sa": np.array(a_q[0], np.float32), "za": np.array(a_q[1], a.dtype),
             "sb": np.array(b_q[0], np.float32), "zb": np.array(b_q[1], b.dtype),
             "sc": np.array(c_q[0], np.float32), "zc": np.array(c_q[1], c_dtype)}
    return run_nodes(nodes, {"a": a, "b": b}, inits, "c", c_dtype, optimize=False)


def qlinear_softmax(x: np.ndarray, x_q, y_q) -> np.ndarray:
    """com.microsoft QLinearSoftmax over the last axis (opset 13 semantics)."""
    node = helper.make_node("QLinearSoftmax", ["x", "sx", "zx", "sy", "zy"], ["y"], domain=MS,
                            axis=-1, opset=13)
    inits = {"sx": np.array(x_q[0], np.float32), "zx": np.array(x_q[1], x.dtype),
             "sy": np.array(y_q[0], np.float32), "zy": np.array(y_q[1], x.dtype)}
    return run_nodes([node], {"x": x}, inits, "y", x.dtype)


def layer_normalization(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray | None, epsilon: float) -> np.ndarray:
    names = ["x", "gamma"] + (["beta"] if beta is not None else [])
    node = helper.make_node("LayerNormalization", names, ["y"], axis=-1, epsilon=epsilon)
    inits = {"gamma": gamma} | ({"beta": beta} if beta is not None else {})
    return run_nodes([node], {"x": x}, inits, "y", np.float32)


def float_op(op_type: str, inputs: dict[str, np.ndarray], initializers: dict[str, np.ndarray]) -> np.ndarray:
    node = helper.make_node(op_type, list(inputs) + list(initializers), ["y"])
    return run_nodes([node], inputs, initializers, "y", np.float32)
