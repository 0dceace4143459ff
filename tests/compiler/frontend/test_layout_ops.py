"""Layout handlers on the ONNX corner cases (negative axes and indices, clamped and reversed
slices, Reshape's 0 and -1, Split's sizes) against onnxruntime, element by element."""

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from compiler.frontend import import_model_with_tensors
from compiler.frontend.errors import FrontendError
from compiler.frontend.ort_optimizer import all_tensors
from compiler.ir.pass_manager import Instrumentation, PassManager
from compiler.ir.pipeline import parse_pipeline

from .spec_numpy import SPEC_OPS

SHAPE = (4, 6, 5)


def _check(node, constants, opset=17):
    """Import x -> node(s) -> y and compare every layout op with onnxruntime's tensor."""
    nodes = node if isinstance(node, list) else [node]
    outputs = [o for n in nodes for o in n.output]
    graph = helper.make_graph(nodes, "layout", [helper.make_tensor_value_info("x", TensorProto.FLOAT, SHAPE)],
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
                              [numpy_helper.from_array(np.asarray(v), k) for k, v in constants.items()])
    # onnx.checker wants a shape on every graph output: let shape inference write them
    model = onnx.shape_inference.infer_shapes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]))
    imported = import_model_with_tensors(model)
    x = np.arange(np.prod(SHAPE), dtype=np.float32).reshape(SHAPE)
    expected = all_tensors(imported.optimized, {"x": x})
    known = {"x": x}
    for op in imported.graph.ops:
        if op.kind == "const":
            known[op.result.name] = op.attrs["value"]
            continue
        got = SPEC_OPS[op.kind](op, [known[v.name] for v in op.operands])
        want = expected[imported.onnx_tensor[op.result.name]]
        np.testing.assert_array_equal(got, want, err_msg=f"{op.describe()} {op.attrs}")
        known[op.result.name] = got


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(-8, 8), st.integers(-9, 9), st.sampled_from([-3, -2, -1, 1, 2, 3])),
                min_size=3, max_size=3),
       st.permutations([0, 1, 2]), st.integers(1, 3))
def test_slice(bounds, axes_order, count):
    axes = [a - 3 if i % 2 else a for i, a in enumerate(axes_order[:count])]  # mix negative axes in
    starts, ends, steps = zip(*bounds[:count])
    _check(helper.make_node("Slice", ["x", "s", "e", "a", "p"], ["y"], name="slice"),
           {"s": np.array(starts, np.int64), "e": np.array(ends, np.int64), "a": np.array(axes, np.int64),
            "p": np.array(steps, np.int64)})


@pytest.mark.parametrize("indices", [np.array(-1), np.array([0, -2, 3]), np.array([[1, -1], [0, 2]])])
@pytest.mark.parametrize("axis", [0, -1, 1])
def test_gather(indices, axis):
    _check(helper.make_node("Gather", ["x", "i"], ["y"], name="gather", axis=axis), {"i": indices.astype(np.int64)})


@pytest.mark.parametrize("shape", [[0, -1], [-1, 5], [2, 0, -1], [120]])
def test_reshape(shape):
    _check(helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape"), {"shape": np.array(shape, np.int64)})


def test_reshape_to_a_wrong_size_names_the_node():
    with pytest.raises(FrontendError, match=r"node 'bad_reshape' \(Reshape\): cannot reshape \[4, 6, 5\]"):
        _check(helper.make_node("Reshape", ["x", "shape"], ["y"], name="bad_reshape"),
               {"shape": np.array([2, 0, 3, 5], np.int64)})


@pytest.mark.parametrize("perm", [None, [2, 0, 1], [0, 2, 1]])
def test_transpose(perm):
    attrs = {} if perm is None else {"perm": perm}
    _check(helper.make_node("Transpose", ["x"], ["y"], name="transpose", **attrs), {})


@pytest.mark.parametrize("axis", [0, 1, -1, 3, -3])
def test_flatten(axis):
    _check(helper.make_node("Flatten", ["x"], ["y"], name="flatten", axis=axis), {})


@pytest.mark.parametrize("axes", [[0], [-1, 1], [3]])
def test_unsqueeze_then_squeeze(axes):
    _check([helper.make_node("Unsqueeze", ["x", "a"], ["u"], name="unsqueeze"),
            helper.make_node("Squeeze", ["u", "a"], ["y"], name="squeeze")], {"a": np.array(axes, np.int64)})


@pytest.mark.parametrize("split", [None, [1, 4, 1], [5, 1]])
def test_split(split):
    outputs = ["y0", "y1"] if split is None or len(split) == 2 else ["y0", "y1", "y2"]
    inputs, constants = (["x"], {}) if split is None else (["x", "sizes"], {"sizes": np.array(split, np.int64)})
    _check(helper.make_node("Split", inputs, outputs, name="split", axis=-2), constants)


def test_concat_negative_axis():
    _check([helper.make_node("Transpose", ["x"], ["t"], name="t", perm=[0, 1, 2]),
            helper.make_node("Concat", ["x", "t"], ["y"], name="concat", axis=-2)], {})


def _qdq_model(op_nodes, constants, code_dtype, outputs=("y",)):
    """x -> Q -> DQ -> op_nodes (reading 'xd', writing 'cat') -> Q -> DQ per output name."""
    constants = {"s": np.float32(0.05), "z": code_dtype(3), **constants}
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"], name="q"),
             helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"], name="dq"), *op_nodes,
             helper.make_node("QuantizeLinear", ["cat", "s2" if "s2" in constants else "s", "z"], ["yq"], name="q2")]
    nodes += [helper.make_node("DequantizeLinear", ["yq", "s2" if "s2" in constants else "s", "z"], [o], name=f"dq_{o}")
              for o in outputs]
    graph = helper.make_graph(nodes, "qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, SHAPE)],
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
                              [numpy_helper.from_array(np.asarray(v), k) for k, v in constants.items()])
    return onnx.shape_inference.infer_shapes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


LAYOUT_NODES = {
    "Slice": ([helper.make_node("Slice", ["xd", "st", "en", "ax"], ["cat"], name="op")],
              {"st": np.array([1]), "en": np.array([-1]), "ax": np.array([1])}),
    "Flatten": ([helper.make_node("Flatten", ["xd"], ["cat"], name="op", axis=1)], {}),
    "Gather": ([helper.make_node("Gather", ["xd", "i"], ["cat"], name="op", axis=1)], {"i": np.array([0, 2])}),
    "Unsqueeze": ([helper.make_node("Unsqueeze", ["xd", "a"], ["cat"], name="op")], {"a": np.array([0])}),
    "Transpose": ([helper.make_node("Transpose", ["xd"], ["cat"], name="op", perm=[2, 0, 1])], {}),
    "Reshape": ([helper.make_node("Reshape", ["xd", "shape"], ["cat"], name="op")], {"shape": np.array([24, 5])}),
}


@pytest.mark.parametrize("code_dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("op", list(LAYOUT_NODES))
def test_onnxruntime_drops_qdq_pairs_around_layout_ops(op, code_dtype):
    nodes, constants = LAYOUT_NODES[op]
    graph = import_model_with_tensors(_qdq_model(nodes, constants, code_dtype)).graph
    assert [o.kind for o in graph.ops if o.kind != "const"] == ["quantize", op.lower(), "dequantize"]


@pytest.mark.parametrize("same_params", [True, False])
def test_qlinear_concat(same_params):
    """Concat of two DQs of one int8 tensor (whose Q feeds two DQs, so it stays int8): onnxruntime
    fuses QLinearConcat; with the output's parameters it is a plain concat of codes, otherwise
    the input is requantized once, by QLinearConcat itself (an `onnx_chain`, a table after `tabulate`)."""
    constants = {} if same_params else {"s2": np.float32(0.07)}
    nodes = [helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd2"], name="dq_again"),
             helper.make_node("Concat", ["xd", "xd2"], ["cat"], name="concat", axis=1)]
    imported = import_model_with_tensors(_qdq_model(nodes, constants, np.int8, outputs=("y", "y2")))
    assert "QLinearConcat" in [n.op_type for n in imported.optimized.graph.node]
    kinds = [op.kind for op in imported.graph.ops if op.kind != "const"]
    middle = ["concat"] if same_params else ["onnx_chain", "concat"]
    assert kinds == ["quantize", *middle, "dequantize", "dequantize"]
    PassManager(parse_pipeline("tabulate"), Instrumentation(verify_each=True)).run(imported.graph)
    x = np.random.default_rng(0).normal(0, 3, SHAPE).astype(np.float32)
    expected = all_tensors(imported.optimized, {"x": x})
    known = {"x": x}
    for op in imported.graph.ops:
        if op.kind == "const":
            known[op.result.name] = op.attrs["value"]
            continue
        known[op.result.name] = SPEC_OPS[op.kind](op, [known[v.name] for v in op.operands])
        if op.result.name in imported.onnx_tensor:
            np.testing.assert_array_equal(known[op.result.name], expected[imported.onnx_tensor[op.result.name]],
                                          err_msg=op.describe())
