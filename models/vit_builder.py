"""Builds a float ViT ONNX graph in the patterns PyTorch / Hugging Face exporters emit.

The graph (batch 1, static shapes):
  Conv patch embedding -> Reshape [1, D, P] -> Transpose to tokens -> Concat class token
  -> Add position embedding -> depth x encoder block -> LayerNorm -> Gather token 0 -> classifier.
An encoder block is pre-norm: x + attention(LN(x)), then x + MLP(LN(x)), where
  attention: q/k/v MatMul+Add (separate, Hugging Face; or one fused qkv MatMul+Add then
             Reshape/Transpose/Gather, timm), per-head Reshape/Transpose, Q.K^T, Div or Mul by
             1/sqrt(head_dim), Softmax, x V, Transpose/Reshape back, output MatMul+Add;
  MLP:       MatMul+Add, GELU (Erf form: Div sqrt2 -> Erf -> Add 1 -> Mul x -> Mul 0.5, or the
             Tanh approximation), MatMul+Add.
LayerNorm is the opset-17 LayerNormalization op or PyTorch's older decomposition
(ReduceMean, Sub, Pow, ReduceMean, Add eps, Sqrt, Div, Mul gamma, Add beta), or absent
(`layernorm='none'`, not an exporter pattern: a test model for backends without LayerNorm).
Linear layers on 3-D activations are MatMul + Add(bias, MatMul) with the bias first, as the
exporter writes them; the classifier on the 2-D class token is Gemm(transB=1) or MatMul + Add.

Weights come from a weight source, called as source(name, shape, kind) with kind one of
'normal', 'gamma', 'beta': `SeededWeights` (the zoo's random models) or `TrainedWeights` (a
trained state dict keyed by the same names, as for vit-digits).

Invariants: the same (config, options, weights) give the same ModelProto bytes; seeded weights
are drawn from one generator in a fixed order; the parameter count equals
`ViTConfig.parameter_count` (less the LayerNorm parameters with `layernorm='none'`).
"""

import math

import numpy as np
import onnx

from isa.errors import VitcError
from models.graph_builder import GraphBuilder
from models.vit_config import FIRST_REDUCE_AXES_INPUT_OPSET, BuildOptions, ViTConfig

INPUT_NAME = "pixel_values"
OUTPUT_NAME = "logits"
LAYERNORM_EPSILON = 1e-6
WEIGHT_STD = 0.02  # trunc-normal std of every linear/conv weight, class token and positions (timm, HF)


class SeededWeights:
    """Seeded parameters with realistic magnitudes: truncated normal (clipped at 2 std) for
    weights and biases, LayerNorm gamma near 1 and beta near 0."""

    def __init__(self, seed: int):
        self._rng = np.random.default_rng(seed)

    def __call__(self, name: str, shape: tuple[int, ...], kind: str) -> np.ndarray:
        values = np.clip(self._rng.standard_normal(shape, dtype=np.float32), -2.0, 2.0) * np.float32(WEIGHT_STD)
        return np.float32(1.0) + values if kind == "gamma" else values


class TrainedWeights:
    """Parameters from a trained model, keyed by the builder's parameter names."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self._arrays = arrays

    def __call__(self, name: str, shape: tuple[int, ...], kind: str) -> np.ndarray:
        if name not in self._arrays:
            raise VitcError(f"trained weights have no parameter {name!r}")
        value = np.asarray(self._arrays[name], dtype=np.float32)
        if value.shape != tuple(shape):
            raise VitcError(f"trained parameter {name!r} has shape {value.shape}, the graph needs {tuple(shape)}")
        return value


class _ViTWriter:
    def __init__(self, config: ViTConfig, options: BuildOptions, weights):
        self.cfg = config
        self.opt = options
        self.g = GraphBuilder(options.opset)
        self.weights = weights

    def param(self, name: str, shape: tuple[int, ...], kind: str = "normal") -> str:
        full_name = self.g.scoped(name)
        return self.g.parameter(full_name, self.weights(full_name, shape, kind))

    def build(self) -> onnx.ModelProto:
        cfg = self.cfg
        x = self.embeddings(INPUT_NAME)
        with self.g.scope("encoder"):
            for index in range(cfg.depth):
                with self.g.scope(f"layer.{index}"):
                    x = self.block(x)
        x = self.layernorm(x, "layernorm")
        cls = self.g.node("Gather", [x, self.g.constant(0, np.int64)], axis=1)
        logits = self.classifier(cls)
        image = (1, cfg.channels, cfg.image_size, cfg.image_size)
        return self.g.model(cfg.name.replace("-", "_"), [(INPUT_NAME, image)], [(logits, (1, cfg.num_classes))])

    def embeddings(self, pixels: str) -> str:
        cfg, g = self.cfg, self.g
        with g.scope("embeddings"):
            with g.scope("patch_embeddings"):
                weight = self.param("projection.weight", (cfg.width, cfg.channels, cfg.patch_size, cfg.patch_size))
                bias = self.param("projection.bias", (cfg.width,))
                patches = g.node("Conv", [pixels, weight, bias], kernel_shape=[cfg.patch_size] * 2, strides=[cfg.patch_size] * 2)
                flat = g.node("Reshape", [patches, g.constant([1, cfg.width, cfg.num_patches], np.int64)])
                tokens = g.node("Transpose", [flat], perm=[0, 2, 1])
            cls_token = self.param("cls_token", (1, 1, cfg.width))
            positions = self.param("position_embeddings", (1, cfg.tokens, cfg.width))
            sequence = g.node("Concat", [cls_token, tokens], axis=1)
            return g.node("Add", [sequence, positions])

    def block(self, x: str) -> str:
        x = self.g.node("Add", [self.attention(self.layernorm(x, "layernorm_before")), x])
        return self.g.node("Add", [self.mlp(self.layernorm(x, "layernorm_after")), x])

    def attention(self, x: str) -> str:
        cfg, g = self.cfg, self.g
        with g.scope("attention"):
            q, k, v = self.fused_qkv(x) if self.opt.qkv == "fused" else self.separate_qkv(x)
            scores = g.node("MatMul", [q, k])
            scale = 1.0 / math.sqrt(cfg.head_dim)
            if self.opt.attention_scale == "div":
                scores = g.node("Div", [scores, g.constant(math.sqrt(cfg.head_dim))])
            else:
                scores = g.node("Mul", [scores, g.constant(scale)])
            probs = g.node("Softmax", [scores], axis=-1)
            context = g.node("MatMul", [probs, v])
            context = g.node("Transpose", [context], perm=[0, 2, 1, 3])
            context = g.node("Reshape", [context, g.constant([1, cfg.tokens, cfg.width], np.int64)])
            return self.linear(context, "output.dense", cfg.width, cfg.width)

    def separate_qkv(self, x: str) -> tuple[str, str, str]:
        """Hugging Face: three projections, each split into heads; K transposed to [1, h, d, N]."""
        cfg, g = self.cfg, self.g
        heads_shape = g.constant([1, cfg.tokens, cfg.heads, cfg.head_dim], np.int64)

        def split_heads(name: str, perm: list[int]) -> str:
            projected = self.linear(x, name, cfg.width, cfg.width)
            return g.node("Transpose", [g.node("Reshape", [projected, heads_shape])], perm=perm)

        return split_heads("query", [0, 2, 1, 3]), split_heads("key", [0, 2, 3, 1]), split_heads("value", [0, 2, 1, 3])

    def fused_qkv(self, x: str) -> tuple[str, str, str]:
        """timm: one qkv projection, Reshape [1, N, 3, h, d], Transpose to [3, 1, h, N, d], Gather."""
        cfg, g = self.cfg, self.g
        qkv = self.linear(x, "qkv", cfg.width, 3 * cfg.width)
        qkv = g.node("Reshape", [qkv, g.constant([1, cfg.tokens, 3, cfg.heads, cfg.head_dim], np.int64)])
        qkv = g.node("Transpose", [qkv], perm=[2, 0, 3, 1, 4])
        q, k, v = (g.node("Gather", [qkv, g.constant(i, np.int64)], axis=0) for i in range(3))
        return q, g.node("Transpose", [k], perm=[0, 1, 3, 2]), v

    def mlp(self, x: str) -> str:
        cfg = self.cfg
        hidden = self.linear(x, "intermediate.dense", cfg.width, cfg.mlp_width)
        with self.g.scope("intermediate.intermediate_act_fn"):
            hidden = self.gelu(hidden)
        return self.linear(hidden, "output.dense", cfg.mlp_width, cfg.width)

    def gelu(self, x: str) -> str:
        g = self.g
        if self.opt.gelu == "erf":
            inner = g.node("Erf", [g.node("Div", [x, g.constant(math.sqrt(2.0))])])
        else:
            cubic = g.node("Mul", [g.node("Pow", [x, g.constant(3.0)]), g.constant(0.044715)])
            inner = g.node("Tanh", [g.node("Mul", [g.node("Add", [x, cubic]), g.constant(math.sqrt(2.0 / math.pi))])])
        return g.node("Mul", [g.node("Mul", [x, g.node("Add", [inner, g.constant(1.0)])]), g.constant(0.5)])

    def linear(self, x: str, name: str, fan_in: int, fan_out: int) -> str:
        """A Linear on a 3-D activation: MatMul by the [in, out] weight, then Add(bias, product)."""
        g = self.g
        with g.scope(name):
            weight = self.param("weight", (fan_in, fan_out))
            bias = self.param("bias", (fan_out,))
            return g.node("Add", [bias, g.node("MatMul", [x, weight])])

    def layernorm(self, x: str, name: str) -> str:
        if self.opt.layernorm == "none":
            return x
        g, width = self.g, self.cfg.width
        with g.scope(name):
            gamma = self.param("weight", (width,), "gamma")
            beta = self.param("bias", (width,), "beta")
            if self.opt.fused_layernorm:
                return g.node("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=LAYERNORM_EPSILON)
            centred = g.node("Sub", [x, self.reduce_mean(x)])
            variance = self.reduce_mean(g.node("Pow", [centred, g.constant(2.0)]))
            std = g.node("Sqrt", [g.node("Add", [variance, g.constant(LAYERNORM_EPSILON)])])
            return g.node("Add", [g.node("Mul", [g.node("Div", [centred, std]), gamma]), beta])

    def reduce_mean(self, x: str) -> str:
        if self.opt.opset >= FIRST_REDUCE_AXES_INPUT_OPSET:
            return self.g.node("ReduceMean", [x, self.g.constant([-1], np.int64)], keepdims=1)
        return self.g.node("ReduceMean", [x], axes=[-1], keepdims=1)

    def classifier(self, cls: str) -> str:
        cfg, g = self.cfg, self.g
        with g.scope("classifier"):
            if self.opt.classifier == "gemm":
                weight = self.param("weight", (cfg.num_classes, cfg.width))
                bias = self.param("bias", (cfg.num_classes,))
                return g.node("Gemm", [cls, weight, bias], output=OUTPUT_NAME, alpha=1.0, beta=1.0, transB=1)
            weight = self.param("weight", (cfg.width, cfg.num_classes))
            bias = self.param("bias", (cfg.num_classes,))
            return g.node("Add", [g.node("MatMul", [cls, weight]), bias], output=OUTPUT_NAME)


def build_vit(config: ViTConfig, options: BuildOptions, weights=None) -> onnx.ModelProto:
    """The float model for `config` in the exporter pattern chosen by `options`, with weights
    from `weights` (default: `SeededWeights(options.seed)`)."""
    return _ViTWriter(config, options, weights or SeededWeights(options.seed)).build()
