"""The ViT sizes of the zoo and the options that select which exporter pattern a build emits.

`ViTConfig` fixes the architecture (image, patch, width, depth, heads, MLP ratio, classes);
`BuildOptions` selects the graph variations real exporters produce for the same architecture
(opset, LayerNormalization fused or decomposed, GELU form, how the attention scale is applied,
separate or fused q/k/v projection, classifier as Gemm or MatMul+Add, weight seed).
Both are frozen and validated on construction, so a build key derived from them is complete.
"""

from dataclasses import asdict, dataclass, fields

from isa.errors import VitcError

# LayerNormalization entered the default ONNX domain in opset 17; ReduceMean takes its axes as an
# input (not an attribute) from opset 18.
FIRST_LAYERNORM_OPSET = 17
FIRST_REDUCE_AXES_INPUT_OPSET = 18
SUPPORTED_OPSETS = range(13, 22)


@dataclass(frozen=True)
class ViTConfig:
    name: str
    image_size: int
    patch_size: int
    width: int
    depth: int
    heads: int
    num_classes: int
    mlp_ratio: int = 4
    channels: int = 3

    def __post_init__(self):
        if self.image_size % self.patch_size:
            raise VitcError(f"model {self.name}: image size {self.image_size} is not a multiple of patch {self.patch_size}")
        if self.width % self.heads:
            raise VitcError(f"model {self.name}: width {self.width} is not a multiple of {self.heads} heads")

    @property
    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    @property
    def tokens(self) -> int:
        """Sequence length: the patches plus the class token."""
        return self.num_patches + 1

    @property
    def head_dim(self) -> int:
        return self.width // self.heads

    @property
    def mlp_width(self) -> int:
        return self.width * self.mlp_ratio

    @property
    def parameter_count(self) -> int:
        """Trainable parameters, counted from the architecture (the float graph has exactly these)."""
        d, p, c = self.width, self.patch_size, self.channels
        embed = d * c * p * p + d + d + self.tokens * d            # conv weight+bias, class token, positions
        block = 2 * 2 * d + 4 * (d * d + d) + 2 * d * self.mlp_width + self.mlp_width + d
        head = 2 * d + d * self.num_classes + self.num_classes     # final LayerNorm, classifier
        return embed + self.depth * block + head


SIZES = {
    "vit-micro": ViTConfig("vit-micro", image_size=32, patch_size=8, width=64, depth=2, heads=4, num_classes=10),
    "deit-tiny": ViTConfig("deit-tiny", image_size=224, patch_size=16, width=192, depth=12, heads=3, num_classes=1000),
    "deit-small": ViTConfig("deit-small", image_size=224, patch_size=16, width=384, depth=12, heads=6, num_classes=1000),
    "vit-base": ViTConfig("vit-base", image_size=224, patch_size=16, width=768, depth=12, heads=12, num_classes=1000),
}


def config_for(name: str) -> ViTConfig:
    if name not in SIZES:
        raise VitcError(f"unknown model {name!r}; known models: {', '.join(SIZES)}")
    return SIZES[name]


OPTION_CHOICES = {
    "layernorm": ("auto", "fused", "decomposed", "none"),
    "gelu": ("erf", "tanh"),
    "attention_scale": ("div", "mul"),
    "qkv": ("separate", "fused"),
    "classifier": ("gemm", "matmul"),
}


@dataclass(frozen=True)
class BuildOptions:
    """Graph variations. `layernorm='auto'` means fused from opset 17 on, decomposed before,
    which is what PyTorch's exporter does; `layernorm='none'` replaces every LayerNorm by the
    identity (no gamma/beta parameters), for testing a backend that cannot run LayerNorm yet."""

    opset: int = 17
    layernorm: str = "auto"
    gelu: str = "erf"
    attention_scale: str = "div"
    qkv: str = "separate"
    classifier: str = "gemm"
    seed: int = 0

    def __post_init__(self):
        if self.opset not in SUPPORTED_OPSETS:
            raise VitcError(f"build option opset={self.opset}: supported opsets are {SUPPORTED_OPSETS.start}..{SUPPORTED_OPSETS.stop - 1}")
        for option, choices in OPTION_CHOICES.items():
            value = getattr(self, option)
            if value not in choices:
                raise VitcError(f"build option {option}={value!r}: expected one of {', '.join(choices)}")
        if self.layernorm == "fused" and self.opset < FIRST_LAYERNORM_OPSET:
            raise VitcError(f"build option layernorm='fused' needs opset >= {FIRST_LAYERNORM_OPSET}, got opset={self.opset}")

    @classmethod
    def from_kwargs(cls, **options) -> "BuildOptions":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise VitcError(f"unknown build option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**options)

    @property
    def fused_layernorm(self) -> bool:
        if self.layernorm == "auto":
            return self.opset >= FIRST_LAYERNORM_OPSET
        return self.layernorm == "fused"

    def as_dict(self) -> dict:
        return asdict(self)
