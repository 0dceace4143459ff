"""The float ViT builder: valid ONNX in each exporter pattern, the expected node patterns, and
the same numbers as a ViT forward pass written in numpy from the architecture (not from the
builder), reading only the weights out of the model."""

import math

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from isa.errors import VitcError
from models.vit_builder import TrainedWeights, build_vit
from models.vit_config import SIZES, BuildOptions
from models.zoo import sample_input
from tests.models.compare import assert_close

MICRO = SIZES["vit-micro"]
OPTION_SETS = [
    BuildOptions(),
    BuildOptions(opset=13),
    BuildOptions(opset=14, gelu="tanh", attention_scale="mul"),
    BuildOptions(opset=18, layernorm="decomposed", qkv="fused", classifier="matmul"),
    BuildOptions(opset=21, gelu="tanh", qkv="fused"),
    BuildOptions(layernorm="none"),
]


def op_counts(model: onnx.ModelProto) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in model.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


def run(model: onnx.ModelProto, feeds: dict) -> np.ndarray:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)[0]


# ---- an independent numpy ViT (pre-norm encoder, as in the ViT paper / timm / HF) ----

def _layernorm(x, gamma, beta, eps=1e-6):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def _gelu(x, form):
    if form == "erf":
        return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def numpy_vit(weights: dict, cfg, options: BuildOptions, image: np.ndarray) -> np.ndarray:
    def norm(x, prefix):
        if options.layernorm == "none":
            return x
        return _layernorm(x, weights[f"{prefix}.weight"], weights[f"{prefix}.bias"])

    x = image.astype(np.float64)[0]
    p, d, h = cfg.patch_size, cfg.width, cfg.heads
    grid = cfg.image_size // p
    patches = x.reshape(cfg.channels, grid, p, grid, p).transpose(1, 3, 0, 2, 4).reshape(grid * grid, -1)
    conv_w = weights["embeddings.patch_embeddings.projection.weight"].reshape(d, -1)
    tokens = patches @ conv_w.T + weights["embeddings.patch_embeddings.projection.bias"]
    x = np.concatenate([weights["embeddings.cls_token"][0], tokens]) + weights["embeddings.position_embeddings"][0]
    for i in range(cfg.depth):
        layer = f"encoder.layer.{i}"
        w = {k[len(layer) + 1:]: v for k, v in weights.items() if k.startswith(layer + ".")}
        y = norm(x, f"{layer}.layernorm_before")
        if options.qkv == "fused":
            q, k, v = np.split(y @ w["attention.qkv.weight"] + w["attention.qkv.bias"], 3, axis=-1)
        else:
            q, k, v = (y @ w[f"attention.{n}.weight"] + w[f"attention.{n}.bias"] for n in ("query", "key", "value"))
        heads = [_softmax(q[:, s] @ k[:, s].T / math.sqrt(cfg.head_dim)) @ v[:, s] for s in np.split(np.arange(d), h)]
        x = x + np.concatenate(heads, axis=-1) @ w["attention.output.dense.weight"] + w["attention.output.dense.bias"]
        y = norm(x, f"{layer}.layernorm_after")
        y = _gelu(y @ w["intermediate.dense.weight"] + w["intermediate.dense.bias"], options.gelu)
        x = x + y @ w["output.dense.weight"] + w["output.dense.bias"]
    cls = norm(x, "layernorm")[0]
    head = weights["classifier.weight"]
    head = head.T if options.classifier == "gemm" else head
    return (cls @ head + weights["classifier.bias"])[None]


@pytest.mark.parametrize("options", OPTION_SETS, ids=lambda o: f"opset{o.opset}-{o.layernorm}-{o.gelu}-{o.qkv}-{o.classifier}")
def test_builder_matches_numpy_vit(options):
    model = build_vit(MICRO, options)
    onnx.checker.check_model(model, full_check=True)
    weights = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer if not t.name.startswith("onnx::")}
    layernorm_parameters = (2 * MICRO.depth + 1) * 2 * MICRO.width
    expected = MICRO.parameter_count - (layernorm_parameters if options.layernorm == "none" else 0)
    assert sum(w.size for w in weights.values()) == expected
    for seed in range(3):
        feeds = sample_input("vit-micro", seed)
        expected = numpy_vit(weights, MICRO, options, feeds["pixel_values"]).astype(np.float32)
        assert_close(f"logits seed {seed}", run(model, feeds), expected, rtol=1e-4, atol=1e-5)


def test_layernorm_form_follows_opset_like_pytorch():
    assert "LayerNormalization" in op_counts(build_vit(MICRO, BuildOptions(opset=17)))
    decomposed = op_counts(build_vit(MICRO, BuildOptions(opset=14)))
    assert "LayerNormalization" not in decomposed
    layernorms = 2 * MICRO.depth + 1
    assert decomposed["ReduceMean"] == 2 * layernorms and decomposed["Sqrt"] == layernorms and decomposed["Pow"] == layernorms


def test_reduce_mean_axes_are_an_input_from_opset_18():
    for opset, has_axes_input in ((17, False), (18, True)):
        model = build_vit(MICRO, BuildOptions(opset=opset, layernorm="decomposed"))
        reduce = next(n for n in model.graph.node if n.op_type == "ReduceMean")
        assert (len(reduce.input) == 2) == has_axes_input
        assert any(a.name == "axes" for a in reduce.attribute) != has_axes_input


def test_variations_emit_the_exporter_patterns():
    base = op_counts(build_vit(MICRO, BuildOptions()))
    assert base["Erf"] == MICRO.depth and "Tanh" not in base
    assert base["Gemm"] == 1 and base["Softmax"] == MICRO.depth and base["Gather"] == 1
    assert base["MatMul"] == 8 * MICRO.depth  # q, k, v, output, fc1, fc2 linears + Q.K^T and probs x V
    tanh = op_counts(build_vit(MICRO, BuildOptions(gelu="tanh")))
    assert tanh["Tanh"] == MICRO.depth and "Erf" not in tanh
    fused = op_counts(build_vit(MICRO, BuildOptions(qkv="fused", attention_scale="mul", classifier="matmul")))
    assert fused["Gather"] == 3 * MICRO.depth + 1 and "Gemm" not in fused
    assert fused["Div"] == MICRO.depth  # only GELU's x / sqrt(2): the attention scale is a Mul


def test_same_options_give_identical_bytes():
    for options in OPTION_SETS[:2]:
        assert build_vit(MICRO, options).SerializeToString() == build_vit(MICRO, options).SerializeToString()
    assert build_vit(MICRO, BuildOptions(seed=1)).SerializeToString() != build_vit(MICRO, BuildOptions()).SerializeToString()


@pytest.mark.parametrize(
    "options, message",
    [
        ({"opset": 12}, "opset=12"),
        ({"opset": 14, "layernorm": "fused"}, "needs opset >= 17"),
        ({"gelu": "relu"}, "gelu='relu'"),
        ({"heads": 3}, "unknown build option(s) heads"),
    ],
)
def test_bad_options_raise_vitc_error(options, message):
    with pytest.raises(VitcError, match=message.replace("(", r"\(").replace(")", r"\)")):
        BuildOptions.from_kwargs(**options)


def test_parameter_counts_of_the_named_sizes():
    # Published figures: DeiT-Ti 5.7M, DeiT-S 22.1M, ViT-B/16 86.6M parameters.
    expected_millions = {"deit-tiny": 5.7, "deit-small": 22.1, "vit-base": 86.6}
    for name, millions in expected_millions.items():
        assert round(SIZES[name].parameter_count / 1e6, 1) == millions, name


def test_trained_weights_fill_the_graph_by_name():
    seeded = build_vit(MICRO, BuildOptions())
    arrays = {t.name: numpy_helper.to_array(t) for t in seeded.graph.initializer if not t.name.startswith("onnx::")}
    rebuilt = build_vit(MICRO, BuildOptions(), TrainedWeights(arrays))
    assert rebuilt.SerializeToString() == seeded.SerializeToString()
    missing = {k: v for k, v in arrays.items() if k != "classifier.bias"}
    with pytest.raises(VitcError, match="trained weights have no parameter 'classifier.bias'"):
        build_vit(MICRO, BuildOptions(), TrainedWeights(missing))
    wrong = {**arrays, "layernorm.weight": np.ones(3, np.float32)}
    with pytest.raises(VitcError, match=r"trained parameter 'layernorm.weight' has shape \(3,\), the graph needs \(64,\)"):
        build_vit(MICRO, BuildOptions(), TrainedWeights(wrong))
