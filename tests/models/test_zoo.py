"""The zoo API and its cache: deterministic bytes, atomic writes, keyed by every parameter."""

import numpy as np
import onnxruntime as ort
import pytest

from isa.errors import VitcError
from models import zoo
from models.cache import write_atomically


def build_in(cache, monkeypatch, variant="qdq-u8-pc", **options):
    monkeypatch.setenv("VITC_CACHE", str(cache))
    return zoo.float_model_path("vit-micro", **options), zoo.quantized_model_path("vit-micro", variant, **options)


def test_building_twice_gives_identical_bytes(tmp_path, monkeypatch):
    first = build_in(tmp_path / "a", monkeypatch, gelu="tanh")
    second = build_in(tmp_path / "b", monkeypatch, gelu="tanh")
    for a, b in zip(first, second):
        assert a.name == b.name and a.read_bytes() == b.read_bytes()


def test_cache_hit_reuses_the_file_and_leaves_no_temporaries(tmp_path, monkeypatch):
    _, quantized = build_in(tmp_path, monkeypatch)
    stamp = quantized.stat().st_mtime_ns
    assert build_in(tmp_path, monkeypatch)[1] == quantized
    assert quantized.stat().st_mtime_ns == stamp
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".onnx", ".onnx"]


def test_every_build_parameter_changes_the_key(tmp_path, monkeypatch):
    monkeypatch.setenv("VITC_CACHE", str(tmp_path))
    paths = {
        zoo.quantized_model_path("vit-micro", "qdq-s8-pt"),
        zoo.quantized_model_path("vit-micro", "qdq-s8-pc"),
        zoo.quantized_model_path("vit-micro", "qdq-s8-pt", seed=1),
        zoo.quantized_model_path("vit-micro", "qdq-s8-pt", opset=14),
        zoo.quantized_model_path("vit-micro", zoo.QuantVariant("qdq", "int8", False, False), classifier="matmul"),
    }
    assert len(paths) == 5


def test_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(TypeError):
        write_atomically(tmp_path / "model.onnx", "text is not bytes")  # fails after the temp file exists
    assert list(tmp_path.iterdir()) == []


def test_sample_input_is_seeded_float32():
    a, b, c = zoo.sample_input("vit-micro", 0), zoo.sample_input("vit-micro", 0), zoo.sample_input("vit-micro", 1)
    assert list(a) == ["pixel_values"]
    assert a["pixel_values"].shape == (1, 3, 32, 32) and a["pixel_values"].dtype == np.float32
    assert np.array_equal(a["pixel_values"], b["pixel_values"]) and not np.array_equal(a["pixel_values"], c["pixel_values"])
    assert zoo.sample_input("deit-tiny")["pixel_values"].shape == (1, 3, 224, 224)


def test_unknown_model_is_a_vitc_error():
    with pytest.raises(VitcError, match="unknown model 'vit-huge'; known models: vit-micro"):
        zoo.float_model_path("vit-huge")
    with pytest.raises(VitcError, match="unknown build option"):
        zoo.float_model_path("vit-micro", depth=3)


def test_unwritable_cache_is_a_vitc_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("VITC_CACHE", str(blocker / "cache"))
    with pytest.raises(VitcError, match=r"cannot write .*/file/cache/vit-micro-float-opset17-[0-9a-f]{16}\.onnx: Not a directory"):
        zoo.float_model_path("vit-micro")


@pytest.mark.slow
def test_deit_tiny_quantizes_and_runs():
    path = zoo.quantized_model_path("deit-tiny", "qdq-u8-pt")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits = session.run(None, zoo.sample_input("deit-tiny"))[0]
    assert logits.shape == (1, 1000) and np.isfinite(logits).all()
