"""The model zoo's public API: named ViT sizes, built and quantised on demand into the cache.

  MODEL_NAMES                                   ('vit-micro', 'deit-tiny', 'deit-small', 'vit-base')
  VARIANTS, QuantVariant                        every quantisation variant (see models.quantization)
  float_model_path(name, **build_options)       -> Path of the float ONNX model
  quantized_model_path(name, variant, **build_options) -> Path of the quantised ONNX model
  sample_input(name, seed=0)                    -> {'pixel_values': float32 [1, C, H, W]}

build_options are the fields of `models.vit_config.BuildOptions` (opset, layernorm, gelu,
attention_scale, qkv, classifier, seed). Models are calibrated on the images of
`CALIBRATION_SEEDS`, which tests never use as inputs (they use small seeds). Each file's cache
key holds every build parameter and the versions of the tools that wrote it, so the same call
always returns the same bytes (checked by tests/models/test_zoo.py). Calibration runs the float
model in onnxruntime, so a CPU whose float kernels round differently (another SIMD level) may
calibrate to different ranges; the committed fixtures and vit-digits do not depend on that.
"""

import dataclasses
import pathlib

import numpy as np
import onnx
import onnxruntime

from models.cache import cached
from models.quantization import VARIANTS, QuantVariant, as_variant, quantize
from models.vit_builder import INPUT_NAME, OUTPUT_NAME, build_vit
from models.vit_config import SIZES, BuildOptions, ViTConfig, config_for

__all__ = [
    "MODEL_NAMES", "VARIANTS", "QuantVariant", "INPUT_NAME", "OUTPUT_NAME", "CALIBRATION_SEEDS",
    "config_for", "float_model_path", "quantized_model_path", "sample_input", "calibration_inputs", "random_image",
]

MODEL_NAMES = tuple(SIZES)
CALIBRATION_SEEDS = tuple(range(1000, 1008))
# Bump when the builder's output changes for the same options, so cached files are rebuilt.
BUILDER_VERSION = 1
# Pixel values as after ImageNet normalisation: roughly unit variance, within a few sigma.
PIXEL_CLIP = 2.5


def random_image(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Seeded float32 pixels with the statistics of a normalised image batch."""
    pixels = np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)
    return np.clip(pixels, -PIXEL_CLIP, PIXEL_CLIP)


def sample_input(name: str, seed: int = 0) -> dict[str, np.ndarray]:
    """A seeded normalised image for model `name`: {'pixel_values': float32 [1, C, H, W]}."""
    cfg = config_for(name)
    return {INPUT_NAME: random_image((1, cfg.channels, cfg.image_size, cfg.image_size), seed)}


def calibration_inputs(name: str) -> list[dict[str, np.ndarray]]:
    return [sample_input(name, seed) for seed in CALIBRATION_SEEDS]


def _float_key(cfg: ViTConfig, options: BuildOptions) -> dict:
    return {
        "artifact": "float",
        "config": dataclasses.asdict(cfg),
        "build": options.as_dict(),
        "builder": BUILDER_VERSION,
        "onnx": onnx.__version__,
    }


def float_model_path(name: str, **build_options) -> pathlib.Path:
    cfg, options = config_for(name), BuildOptions.from_kwargs(**build_options)
    return cached(f"{name}-float-opset{options.opset}", _float_key(cfg, options), lambda: build_vit(cfg, options).SerializeToString())


def quantized_model_path(name: str, variant: QuantVariant | str, **build_options) -> pathlib.Path:
    cfg, options, variant = config_for(name), BuildOptions.from_kwargs(**build_options), as_variant(variant)
    key = {
        **_float_key(cfg, options),
        "artifact": "quantized",
        "variant": dataclasses.asdict(variant),
        "calibration_seeds": list(CALIBRATION_SEEDS),
        "onnxruntime": onnxruntime.__version__,
    }

    def produce() -> bytes:
        float_bytes = float_model_path(name, **build_options).read_bytes()
        return quantize(float_bytes, variant, calibration_inputs(name))

    return cached(f"{name}-{variant.tag}-opset{options.opset}", key, produce)
