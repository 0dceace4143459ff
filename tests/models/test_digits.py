"""vit-digits: the committed split really is held-out digits data, the committed models are small
and valid, and onnxruntime's top-1 on the split equals the figure recorded in metadata.json."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from isa.errors import VitcError
from models import digits

RECORDED = digits.metadata()
MODELS = [("float", False, None)] + [(tag, True, tag) for tag in RECORDED["int8_top1"]]


def test_split_is_the_held_out_part_of_load_digits():
    images, labels = digits.test_split()
    assert images.shape == (RECORDED["test_images"], 1, 8, 8) and images.dtype == np.float32
    assert labels.dtype == np.int64 and set(labels.tolist()) == set(range(10))
    data = load_digits()
    all_images = digits.normalize(data.images)[:, None]
    _, expected_images, _, expected_labels = train_test_split(all_images, data.target, test_size=0.2, random_state=0, stratify=data.target)
    assert np.array_equal(images, expected_images) and np.array_equal(labels, expected_labels)


@pytest.mark.parametrize("tag, quantized, variant", MODELS, ids=[m[0] for m in MODELS])
def test_top1_equals_the_recorded_figure(tag, quantized, variant):
    path = digits.model_path(quantized, variant) if quantized else digits.model_path(quantized=False)
    assert path.stat().st_size < 1 << 20
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    images, labels = digits.test_split()
    predictions = np.array([session.run(None, {"pixel_values": image[None]})[0].argmax() for image in images])
    correct = int((predictions == labels).sum())
    recorded = RECORDED["float_top1"] if not quantized else RECORDED["int8_top1"][tag]
    assert correct == round(recorded * len(labels)), f"{tag}: {correct}/{len(labels)} correct, recorded {recorded:.4f}"
    assert correct / len(labels) > 0.95  # it really learned the task


def test_uncommitted_variant_is_a_vitc_error():
    with pytest.raises(VitcError, match="vit-digits has no committed qop-u8-pc-pp model; committed variants: "):
        digits.model_path(variant="qop-u8-pc-pp")
