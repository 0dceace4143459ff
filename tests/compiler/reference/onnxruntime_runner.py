"""Run one small ONNX graph in onnxruntime (CPU, default session options unless told otherwise).

The kernel tests build single-node (or DQ -> op -> Q) models here and compare the kernels of
`compiler.reference.kernels` with what onnxruntime computes on the same arrays.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ELEMENT_TYPE = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.uint8): TensorProto.UINT8,
                np.dtype(np.int8): TensorProto.INT8, np.dtype(np.int32): TensorProto.INT32,
                np.dtype(np.int64): TensorProto.INT64}


def run_nodes(nodes: list[onnx.NodeProto], feeds: dict[str, np.ndarray], outputs: dict[str, type],
              constants: dict[str, np.ndarray] | None = None, opset: int = 21,
              optimize: bool = True, threads: int | None = None) -> list[np.ndarray]:
    """Run `nodes` on `feeds`; `outputs` maps output names to numpy dtypes; `constants` become
    initializers. `optimize=False` runs the graph exactly as written (ORT_DISABLE_ALL);
    `threads` fixes onnxruntime's intra-op thread count (default: onnxruntime's choice)."""
    inputs = [helper.make_tensor_value_info(k, ELEMENT_TYPE[np.asarray(v).dtype], np.shape(v)) for k, v in feeds.items()]
    outs = [helper.make_tensor_value_info(k, ELEMENT_TYPE[np.dtype(t)], None) for k, t in outputs.items()]
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in (constants or {}).items()]
    graph = helper.make_graph(nodes, "kernel_test", inputs, outs, inits)
    opsets = [helper.make_opsetid("", opset), helper.make_opsetid("com.microsoft", 1)]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 10
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(list(outputs), {k: np.asarray(v) for k, v in feeds.items()})


def ms_node(op_type: str, inputs: list[str], outputs: list[str], **attrs) -> onnx.NodeProto:
    """A com.microsoft node (QLinearAdd, QLinearMul, QLinearSoftmax, QGemm)."""
    return helper.make_node(op_type, inputs, outputs, domain="com.microsoft", **attrs)


def assert_exact(what: str, mine: np.ndarray, theirs: np.ndarray) -> None:
    """Equal dtype, shape and bits; otherwise fail naming the first differing element."""
    mine, theirs = np.asarray(mine), np.asarray(theirs)
    assert mine.dtype == theirs.dtype and mine.shape == theirs.shape, \
        f"{what}: reference {mine.dtype}{list(mine.shape)} vs onnxruntime {theirs.dtype}{list(theirs.shape)}"
    bits = np.dtype(f"u{mine.dtype.itemsize}") if mine.dtype.kind == "f" else mine.dtype
    differs = mine.view(bits) != theirs.view(bits)
    if differs.any():
        index = tuple(int(i) for i in np.argwhere(differs)[0])
        raise AssertionError(f"{what}: {int(differs.sum())} of {differs.size} elements differ; first at index "
                             f"{list(index)}: reference {mine[index]!r}, onnxruntime {theirs[index]!r}")


def count_differences(mine: np.ndarray, theirs: np.ndarray) -> int:
    mine, theirs = np.asarray(mine), np.asarray(theirs)
    bits = np.dtype(f"u{mine.dtype.itemsize}") if mine.dtype.kind == "f" else mine.dtype
    return int(np.count_nonzero(mine.view(bits) != theirs.astype(mine.dtype).view(bits)))


def all_code_pairs(dtype) -> tuple[np.ndarray, np.ndarray]:
    """Every (a, b) pair of 8-bit codes, as two flat arrays of 65536 elements."""
    info = np.iinfo(dtype)
    a, b = np.meshgrid(np.arange(info.min, info.max + 1), np.arange(info.min, info.max + 1))
    return a.ravel().astype(dtype), b.ravel().astype(dtype)
