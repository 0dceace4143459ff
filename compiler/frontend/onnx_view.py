"""A read-only index over one ONNX graph: producers, consumers, constants and attributes.

The lowering and the pattern finders ask the same questions of the graph again and again
(who produces this tensor, who reads it, is it a constant and what is its value); this module
answers them from dictionaries built once. Constants are initializers and `Constant` nodes;
their numpy arrays are read once and never modified.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

from compiler.frontend.errors import node_error


class OnnxView:
    """Index of an ONNX `GraphProto` (nodes assumed in topological order, as onnx requires)."""

    def __init__(self, graph: onnx.GraphProto):
        self.graph = graph
        self.nodes = list(graph.node)
        self.constants: dict[str, np.ndarray] = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
        for node in self.nodes:
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
                self.constants[node.output[0]] = _constant_node_value(node)
        self.producer: dict[str, onnx.NodeProto] = {o: n for n in self.nodes for o in n.output if o}
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for node in self.nodes:
            for name in node.input:
                if name:
                    self.consumers.setdefault(name, []).append(node)
        self.output_names = [o.name for o in graph.output]
        self.input_names = [i.name for i in graph.input if i.name not in self.constants]

    def is_constant(self, name: str) -> bool:
        return name in self.constants

    def constant(self, node: onnx.NodeProto, name: str) -> np.ndarray:
        """The value of input `name` of `node`, which must be a constant."""
        if name not in self.constants:
            raise node_error(node, f"input '{name}' must be a constant (an initializer), it is computed")
        return self.constants[name]

    def optional_input(self, node: onnx.NodeProto, index: int) -> str | None:
        """The name of input `index`, or None when it is absent or empty."""
        return node.input[index] if index < len(node.input) and node.input[index] else None

    def users(self, name: str) -> list[onnx.NodeProto]:
        return self.consumers.get(name, [])

    def is_graph_output(self, name: str) -> bool:
        return name in self.output_names


def attribute(node: onnx.NodeProto, name: str, default=None):
    """The value of attribute `name` of `node` (numpy/python form), or `default`."""
    for attr in node.attribute:
        if attr.name == name:
            return onnx.helper.get_attribute_value(attr)
    return default


def _constant_node_value(node: onnx.NodeProto) -> np.ndarray:
    attr = node.attribute[0]
    if attr.name == "value":
        return numpy_helper.to_array(attr.t)
    scalars = {"value_float": np.float32, "value_int": np.int64}
    lists = {"value_floats": np.float32, "value_ints": np.int64}
    value = onnx.helper.get_attribute_value(attr)
    if attr.name in scalars:
        return np.array(value, dtype=scalars[attr.name])
    if attr.name in lists:
        return np.array(value, dtype=lists[attr.name])
    raise node_error(node, f"Constant with attribute '{attr.name}' is not supported")
