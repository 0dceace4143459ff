"""Pins which kernels onnxruntime 1.32 runs for each vit-micro variant, and that the IR mirrors them.

These are the facts `compiler.frontend.ort_optimizer` documents; if an onnxruntime upgrade
changes them, these tests say which.
"""

import collections

import onnx
import onnxruntime as ort
import pytest

from compiler.frontend import import_model_with_tensors
from compiler.frontend.ort_optimizer import optimized_by_onnxruntime, run_without_optimization
from models import zoo

VARIANTS = {v.tag: v for v in zoo.VARIANTS}


def _kernels(model: onnx.ModelProto) -> collections.Counter:
    return collections.Counter(n.op_type for n in model.graph.node)


BIAS_INPUT = {"QGemm": 6, "QLinearConv": 8}  # the optional int32 bias input of the fused matmul kernels


def _has_bias(node: onnx.NodeProto) -> bool:
    index = BIAS_INPUT.get(node.op_type)
    return index is not None and len(node.input) > index and bool(node.input[index])


def _ir_kinds(graph) -> collections.Counter:
    return collections.Counter(op.kind + (f".{op.attrs['mode']}" if "mode" in op.attrs else "") for op in graph.ops)


def _optimized_at(path, level) -> onnx.ModelProto:
    options = ort.SessionOptions()
    options.graph_optimization_level = level
    options.log_severity_level = 3
    out = path.with_suffix(f".level{int(level)}.test.onnx")
    options.optimized_model_filepath = str(out)
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    try:
        return onnx.load(str(out))
    finally:
        out.unlink()


@pytest.mark.parametrize("tag", list(VARIANTS))
def test_extended_and_all_levels_select_the_same_kernels(tag):
    path = zoo.quantized_model_path("vit-micro", tag)
    extended = _kernels(_optimized_at(path, ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED))
    everything = _kernels(_optimized_at(path, ort.GraphOptimizationLevel.ORT_ENABLE_ALL))
    # ALL only moves QLinearConv to NHWC (com.microsoft QLinearConv between two Transposes)
    extended["Transpose"] += 2
    assert extended == everything


@pytest.mark.parametrize("tag", list(VARIANTS))
def test_optimized_graph_runs_bit_identical_to_the_model(tag):
    path = zoo.quantized_model_path("vit-micro", tag)
    inputs = zoo.sample_input("vit-micro", seed=4)
    expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, inputs)
    got = run_without_optimization(optimized_by_onnxruntime(onnx.load(str(path))), inputs)
    for e, g in zip(expected, got):
        assert (e == g).all()


@pytest.mark.parametrize("tag", list(VARIANTS))
def test_ir_mirrors_the_fusions_onnxruntime_made(tag):
    variant = VARIANTS[tag]
    imported = import_model_with_tensors(zoo.quantized_model_path("vit-micro", tag))
    kernels, kinds = _kernels(imported.optimized), _ir_kinds(imported.graph)
    fused_matmuls = kernels["QLinearMatMul"] + kernels["QGemm"] + kernels["QLinearConv"]
    # each fused matmul kernel is imported as its steps: accumulator, (bias,) requantisation
    assert kinds["requantize"] == kinds["matmul_int"] == fused_matmuls
    assert kinds["bias_add"] == sum(1 for n in imported.optimized.graph.node if _has_bias(n))
    assert kinds["matmul"] == kernels["MatMul"]
    assert kinds["qsoftmax"] == kernels["QLinearSoftmax"] == 2
    assert kinds["layernorm"] == kernels["LayerNormalization"] == 5
    int8_qdq = variant.fmt == "qdq" and variant.activations == "int8"
    if int8_qdq:
        # int8 activations block QLinearAdd: residual and bias Adds run in float between DQ and Q
        assert kernels["QLinearAdd"] == 0 and kinds["qadd.float"] > 0 and kinds["qadd.qlinear"] == 0
    else:
        # every QLinearAdd is a qadd, except GELU's "+ 1" in each of the 2 blocks, inside a table
        assert kernels["Add"] == 0 and kinds["qadd.qlinear"] == kernels["QLinearAdd"] - 2
    if int8_qdq and not variant.preprocess:
        # the Q, K, V projections read an int8 LayerNorm output with three DQ consumers: float MatMul
        assert kernels["MatMul"] == 6
    else:
        assert kernels["MatMul"] == 0
