"""vit-digits: a small ViT really trained on scikit-learn's handwritten digits (8x8, 10 classes).

  CONFIG                                          the architecture (a `ViTConfig`)
  model_path(quantized=True, variant='qdq-s8-pt') -> Path of the committed .onnx model
  test_split()                                    -> (images float32 [N, 1, 8, 8], labels int64 [N])
  metadata()                                      -> the recorded figures (metadata.json)
  normalize(pixels)                               digits' 0..16 pixel values -> model input

The models, the split and metadata.json (float and onnxruntime int8 top-1 per variant) are made
by train_vit_digits.py and committed; nothing here trains or quantises at run time. The graph is
the zoo's builder pattern (models.vit_builder, opset 17) filled with the trained weights, and the
model's input is `pixel_values` [1, 1, 8, 8]: batch 1, so evaluate one image at a time.
"""

import json
import pathlib

import numpy as np

from isa.errors import VitcError
from models.quantization import as_variant
from models.vit_config import ViTConfig

DIRECTORY = pathlib.Path(__file__).resolve().parent
CONFIG = ViTConfig("vit-digits", image_size=8, patch_size=2, width=64, depth=3, heads=4, num_classes=10, channels=1)
MAX_PIXEL = 16.0  # load_digits pixel values are integers 0..16


def normalize(pixels: np.ndarray) -> np.ndarray:
    """0..16 pixel values -> float32 in [-1, 1], the scale the model was trained on."""
    return (np.asarray(pixels, dtype=np.float32) / np.float32(MAX_PIXEL / 2) - np.float32(1.0)).astype(np.float32)


def metadata() -> dict:
    return json.loads((DIRECTORY / "metadata.json").read_text())


def model_path(quantized: bool = True, variant="qdq-s8-pt") -> pathlib.Path:
    if not quantized:
        return DIRECTORY / "vit-digits-float.onnx"
    tag = as_variant(variant).tag
    path = DIRECTORY / f"vit-digits-{tag}.onnx"
    if not path.is_file():
        committed = sorted(metadata()["int8_top1"])
        raise VitcError(f"vit-digits has no committed {tag} model; committed variants: {', '.join(committed)}")
    return path


def test_split() -> tuple[np.ndarray, np.ndarray]:
    """The held-out images (normalised, [N, 1, 8, 8] float32) and their labels (int64)."""
    with np.load(DIRECTORY / "test_split.npz") as data:
        return data["images"], data["labels"]


test_split.__test__ = False  # not a pytest test, despite the name
