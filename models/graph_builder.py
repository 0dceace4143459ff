"""A small helper that writes an ONNX graph node by node, naming things the way exporters do.

Node names follow PyTorch's exporter (`/encoder/layer.0/attention/MatMul`), output names are the
node name plus `_output_0`, and every constant (weights and small shape/scalar operands) is an
initializer. Names are unique by construction (a per-scope counter), so two builds with the same
calls give the same graph, byte for byte.
"""

import contextlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# IR version 10 covers every supported opset (up to 21) and loads in onnxruntime >= 1.18; fixing it
# keeps the bytes independent of which onnx package wrote them.
IR_VERSION = 10


class GraphBuilder:
    def __init__(self, opset: int):
        self.opset = opset
        self._scope: list[str] = []
        self._nodes: list[onnx.NodeProto] = []
        self._initializers: list[onnx.TensorProto] = []
        self._used_names: dict[str, int] = {}

    @contextlib.contextmanager
    def scope(self, name: str):
        """Prefix the names of nodes and parameters made inside (`layer.0`, `attention`, ...)."""
        self._scope.append(name)
        try:
            yield
        finally:
            self._scope.pop()

    def _unique(self, base: str) -> str:
        count = self._used_names.get(base, 0)
        self._used_names[base] = count + 1
        return base if count == 0 else f"{base}_{count}"

    def scoped(self, name: str) -> str:
        """The full parameter name of `name` here (`encoder.layer.0.attention.query.weight`)."""
        return ".".join([*self._scope, name])

    def parameter(self, full_name: str, value: np.ndarray) -> str:
        """A named weight, as exporters name parameters."""
        full_name = self._unique(full_name)
        self._initializers.append(numpy_helper.from_array(np.ascontiguousarray(value, dtype=np.float32), full_name))
        return full_name

    def constant(self, value, dtype=np.float32) -> str:
        """An anonymous operand (a shape, an axis list, a scalar such as sqrt(2))."""
        name = self._unique("onnx::Const")
        self._initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def node(self, op_type: str, inputs: list[str], output: str | None = None, **attributes) -> str:
        """Add one node with one output (named after the node unless given); returns its name."""
        name = self._unique("/" + "/".join([*self._scope, op_type]))
        output = output or f"{name}_output_0"
        self._nodes.append(helper.make_node(op_type, inputs, [output], name=name, **attributes))
        return output

    def model(self, graph_name: str, inputs: list[tuple[str, tuple]], outputs: list[tuple[str, tuple]]) -> onnx.ModelProto:
        graph = helper.make_graph(
            self._nodes,
            graph_name,
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in inputs],
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in outputs],
            initializer=self._initializers,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)], producer_name="vitc.models")
        model.ir_version = IR_VERSION
        return model
