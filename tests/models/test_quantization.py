"""Quantisation variants of vit-micro: each builds, is valid, runs in onnxruntime and stays near
the float model; and what quantize_static emits matches the summary in models/quantization.py."""

import tempfile

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper
from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

from isa.errors import VitcError
from models import zoo
from models.quantization import VARIANTS, QuantVariant, _Images

DEPTH = zoo.config_for("vit-micro").depth


def session(path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


class Graph:
    """A quantised model with its initializers as arrays and each tensor's producer."""

    def __init__(self, model: onnx.ModelProto):
        self.nodes = list(model.graph.node)
        self.init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        self.producer = {o: n for n in self.nodes for o in n.output}

    def of_type(self, op_type):
        return [n for n in self.nodes if n.op_type == op_type]

    def dequantized_constant(self, tensor):
        """(codes, scale, zero point, axis) when `tensor` is DequantizeLinear of an initializer."""
        dq = self.producer.get(tensor)
        if dq is None or dq.op_type != "DequantizeLinear" or dq.input[0] not in self.init:
            return None
        axis = next((a.i for a in dq.attribute if a.name == "axis"), None)
        return self.init[dq.input[0]], self.init[dq.input[1]], self.init[dq.input[2]], axis


def load(tag) -> Graph:
    return Graph(onnx.load(zoo.quantized_model_path("vit-micro", tag)))


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.tag)
def test_every_variant_quantizes_runs_and_tracks_float(variant):
    path = zoo.quantized_model_path("vit-micro", variant)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    quantized, reference = session(path), session(zoo.float_model_path("vit-micro"))
    for seed in range(4):
        feeds = zoo.sample_input("vit-micro", seed)
        got, want = quantized.run(None, feeds)[0], reference.run(None, feeds)[0]
        assert got.shape == want.shape == (1, 10) and got.dtype == np.float32
        # int8 error on logits spanning ~0.5: generous bound, catches a broken graph, not noise.
        assert np.abs(got - want).max() < 0.1 * (want.max() - want.min()) + 0.02, (variant.tag, seed, got, want)


def test_variant_tags_are_unique_and_parse_back():
    assert len({v.tag for v in VARIANTS}) == len(VARIANTS) == 16
    for variant in VARIANTS:
        assert QuantVariant.parse(variant.tag) == variant
    assert QuantVariant().tag == "qdq-s8-pt"
    with pytest.raises(VitcError, match="unknown quantisation variant 'qdq-s4-pt'"):
        zoo.quantized_model_path("vit-micro", "qdq-s4-pt")


@pytest.mark.parametrize("tag", ["qdq-s8-pt", "qdq-u8-pc", "qop-s8-pc", "qop-u8-pt-pp"])
def test_weights_are_symmetric_int8(tag):
    graph, per_channel = load(tag), "-pc" in tag
    qdq = tag.startswith("qdq")
    expected_axis = {"Conv": 0, "MatMul": 1, "Gemm": 0, "QLinearConv": 0, "QGemm": 0}
    weight_nodes = [n for n in graph.nodes if n.op_type in expected_axis]
    assert weight_nodes
    for node in weight_nodes:
        if qdq:
            found = graph.dequantized_constant(node.input[1])
            if found is None:  # attention MatMul: both operands are activations
                assert node.op_type == "MatMul"
                continue
            codes, scale, zero_point, axis = found
        else:
            codes, scale, zero_point = (graph.init[t] for t in node.input[3:6])
            axis = expected_axis[node.op_type] if scale.size > 1 else None
        assert codes.dtype == np.int8 and codes.min() >= -127 and codes.max() <= 127, node.name
        assert not zero_point.any(), node.name
        channels = codes.shape[expected_axis[node.op_type]]
        assert scale.size == (channels if per_channel else 1), node.name
        if qdq and per_channel:
            assert axis == expected_axis[node.op_type], node.name


QDQ_WRAPPED = ("Conv", "MatMul", "Gemm", "Add", "Mul", "Softmax", "Concat", "Gather", "Reshape", "Transpose", "LayerNormalization")


@pytest.mark.parametrize("tag", ["qdq-s8-pt", "qdq-u8-pc-pp"])
def test_qdq_wraps_every_registry_op_in_quantize_dequantize(tag):
    graph = load(tag)
    consumers: dict[str, list[str]] = {}
    for node in graph.nodes:
        for name in node.input:
            consumers.setdefault(name, []).append(node.op_type)
    for node in graph.nodes:
        if node.op_type not in QDQ_WRAPPED:
            continue
        activations = [i for i in node.input if i and i not in graph.init]
        assert all(graph.producer[i].op_type == "DequantizeLinear" for i in activations), node.name
        assert consumers[node.output[0]] == ["QuantizeLinear"], node.name
    for erf in graph.of_type("Erf"):
        assert consumers[erf.output[0]] == ["QuantizeLinear"]


def test_qdq_layernorm_gamma_int8_per_tensor_beta_int32():
    graph = load("qdq-u8-pc")
    for node in graph.of_type("LayerNormalization"):
        gamma, gamma_scale, _, _ = graph.dequantized_constant(node.input[1])
        beta, beta_scale, beta_zp, _ = graph.dequantized_constant(node.input[2])
        x_scale = graph.init[graph.producer[node.input[0]].input[1]]
        assert gamma.dtype == np.int8 and gamma_scale.size == 1
        assert beta.dtype == np.int32 and not beta_zp.any()
        assert beta_scale.item() == np.float32(x_scale * gamma_scale), node.name


def test_qdq_float_islands_and_constants():
    graph = load("qdq-s8-pt")
    for erf in graph.of_type("Erf"):
        assert graph.producer[erf.input[0]].op_type == "Div"  # GELU's x / sqrt2 is never quantised
    linear_biases = [graph.dequantized_constant(n.input[0]) for n in graph.of_type("Add") if n.name.endswith("dense/Add") or "query" in n.name]
    assert linear_biases and all(b is not None and b[0].dtype == np.int8 for b in linear_biases)
    for softmax in graph.of_type("Softmax"):
        q = next(n for n in graph.nodes if n.op_type == "QuantizeLinear" and n.input[0] == softmax.output[0])
        assert graph.init[q.input[1]] == np.float32(1 / 255) and graph.init[q.input[2]] == -128


def test_qoperator_ops():
    graph = load("qop-u8-pt")
    counts = {op: len(graph.of_type(op)) for op in ("QLinearConv", "QLinearMatMul", "QGemm", "QLinearAdd", "QLinearMul", "QLinearSoftmax", "QLinearConcat", "LayerNormalization", "Erf")}
    assert counts == {
        "QLinearConv": 1, "QLinearMatMul": 8 * DEPTH, "QGemm": 1, "QLinearAdd": 1 + 9 * DEPTH, "QLinearMul": 2 * DEPTH,
        "QLinearSoftmax": DEPTH, "QLinearConcat": 1, "LayerNormalization": 2 * DEPTH + 1, "Erf": DEPTH,
    }
    for softmax in graph.of_type("QLinearSoftmax"):
        assert graph.init[softmax.input[3]] == np.float32(1 / 256) and graph.init[softmax.input[4]] == 0
    for layernorm in graph.of_type("LayerNormalization"):
        assert graph.producer[layernorm.input[0]].op_type == "DequantizeLinear"
        assert graph.init[layernorm.input[1]].dtype == np.float32


@pytest.mark.parametrize("fmt", ["qdq", "qop"])
def test_preprocess_turns_linears_into_gemm(fmt):
    plain, pre = load(f"{fmt}-s8-pt"), load(f"{fmt}-s8-pt-pp")
    gemm, matmul = ("Gemm", "MatMul") if fmt == "qdq" else ("QGemm", "QLinearMatMul")
    assert (len(plain.of_type(gemm)), len(plain.of_type(matmul))) == (1, 8 * DEPTH)
    assert (len(pre.of_type(gemm)), len(pre.of_type(matmul))) == (6 * DEPTH + 1, 2 * DEPTH)
    bias_types = {pre.init[n.input[6 if fmt == "qop" else 2]].dtype if fmt == "qop" else pre.dequantized_constant(n.input[2])[0].dtype for n in pre.of_type(gemm)}
    assert bias_types == {np.dtype(np.int32)}


def test_activation_types_follow_the_variant():
    for tag, dtype in (("qdq-s8-pt", np.int8), ("qdq-u8-pt", np.uint8)):
        graph = load(tag)
        zero_points = {graph.init[n.input[2]].dtype for n in graph.of_type("QuantizeLinear")}
        assert zero_points == {np.dtype(dtype)}, tag


def _quantize_with(extra_options) -> Graph:
    with tempfile.TemporaryDirectory() as work:
        target = f"{work}/q.onnx"
        quantize_static(str(zoo.float_model_path("vit-micro")), target, _Images(zoo.calibration_inputs("vit-micro")[:2]),
                        quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                        extra_options=extra_options)
        return Graph(onnx.load(target))


def test_documented_extra_options():
    symmetric = _quantize_with({"ActivationSymmetric": True})
    assert not any(symmetric.init[n.input[2]].any() for n in symmetric.of_type("QuantizeLinear"))
    # MatMulConstBOnly changes nothing visible in QDQ here: the neighbours (Transpose, Div,
    # Softmax) quantise the attention matmuls' inputs and outputs anyway.
    const_b_only, default = _quantize_with({"MatMulConstBOnly": True}), _quantize_with({})
    assert [n.op_type for n in const_b_only.nodes] == [n.op_type for n in default.nodes]


OTHER_PATTERNS = [
    {"opset": 14, "gelu": "tanh", "attention_scale": "mul"},
    {"opset": 18, "layernorm": "decomposed", "qkv": "fused", "classifier": "matmul"},
    {"opset": 21, "qkv": "fused", "gelu": "tanh"},
]


@pytest.mark.parametrize("options", OTHER_PATTERNS, ids=lambda o: "-".join(f"{v}" for v in o.values()))
@pytest.mark.parametrize("tag", ["qdq-u8-pc-pp", "qop-s8-pt"])
def test_other_exporter_patterns_quantize_and_run(options, tag):
    path = zoo.quantized_model_path("vit-micro", tag, **options)
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == options["opset"]
    feeds = zoo.sample_input("vit-micro", 1)
    got = session(path).run(None, feeds)[0]
    want = session(zoo.float_model_path("vit-micro", **options)).run(None, feeds)[0]
    assert np.abs(got - want).max() < 0.1 * (want.max() - want.min()) + 0.02, (tag, options, got, want)
