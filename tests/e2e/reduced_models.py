"""vit-micro with parts removed, for end-to-end tests of the backend while the vector unit
refuses ops it cannot run bit-exactly (see compiler/codegen/vector/): the zoo's own ViT writer
(same exporter patterns, weights, calibration and quantiser) with every LayerNorm and/or every
attention block replaced by the identity."""

from models import zoo
from models.quantization import quantize
from models.vit_builder import SeededWeights, _ViTWriter
from models.vit_config import BuildOptions


class _Reduced(_ViTWriter):
    def __init__(self, drop: tuple[str, ...], *args):
        super().__init__(*args)
        self.drop = drop

    def layernorm(self, x: str, name: str) -> str:
        return x if "layernorm" in self.drop else super().layernorm(x, name)

    def attention(self, x: str) -> str:
        return x if "attention" in self.drop else super().attention(x)


def reduced_vit_micro(variant, drop: tuple[str, ...], **build_options) -> bytes:
    """The quantized model bytes of vit-micro without the parts named in `drop`
    ("layernorm", "attention"), in quantisation `variant`, with the zoo's build options."""
    options = BuildOptions.from_kwargs(**build_options)
    model = _Reduced(tuple(drop), zoo.config_for("vit-micro"), options, SeededWeights(options.seed)).build()
    return quantize(model.SerializeToString(), variant, zoo.calibration_inputs("vit-micro"))
