"""A vit-micro without LayerNormalization, for end-to-end tests of the backend while the vector
unit cannot run onnxruntime's LayerNormalization exactly (see compiler/codegen/vector/
layernorm.py). It is the zoo's own ViT writer (same exporter patterns, weights, calibration and
quantiser) with every LayerNorm replaced by the identity."""

from models import zoo
from models.quantization import quantize
from models.vit_builder import SeededWeights, _ViTWriter
from models.vit_config import BuildOptions


class _WithoutLayerNorm(_ViTWriter):
    def layernorm(self, x: str, name: str) -> str:
        return x


def layernorm_free_vit_micro(variant) -> bytes:
    """The quantized model bytes of vit-micro without LayerNorm, in `variant`."""
    options = BuildOptions()
    model = _WithoutLayerNorm(zoo.config_for("vit-micro"), options, SeededWeights(options.seed)).build()
    return quantize(model.SerializeToString(), variant, zoo.calibration_inputs("vit-micro"))
