"""The committed real-export fixtures: present, listed in their README, small, valid, and they
run in onnxruntime with the inputs `models.fixtures.sample_input` makes."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from isa.errors import VitcError
from models import fixtures

EXPORTERS = ("torchscript", "dynamo")


def test_fixture_set_covers_both_exporters_formats_and_models():
    names = fixtures.FIXTURES
    assert len(names) >= 8
    for needed in ("hf-vit-", "deit-style-", "-torchscript-", "-dynamo-", "-opset14-", "-opset17-", "-qdq-", "-qop-", "-pp"):
        assert any(needed in name for name in names), needed


def test_readme_lists_exactly_the_fixtures():
    readme = (fixtures.DIRECTORY / "README.md").read_text()
    listed = {line.split("`")[1] for line in readme.splitlines() if line.startswith("| `")}
    assert listed == set(fixtures.FIXTURES)


@pytest.mark.parametrize("name", fixtures.FIXTURES)
def test_fixture_is_small_valid_and_runs(name):
    path = fixtures.fixture_path(name)
    assert path.stat().st_size < 1 << 20
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    assert model.producer_name == "onnx.quantize"  # written by onnxruntime's quantizer
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    assert f"-opset{opset}-" in name
    quant_ops = {n.op_type for n in model.graph.node}
    assert ("QuantizeLinear" in quant_ops) and ("-qop-" not in name or "QLinearMatMul" in quant_ops)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = fixtures.sample_input(name, seed=3)
    assert feeds["pixel_values"].shape == (1, 3, 32, 32) and feeds["pixel_values"].dtype == np.float32
    first, again = session.run(None, feeds)[0], session.run(None, fixtures.sample_input(name, seed=3))[0]
    assert first.shape == (1, 10) and np.isfinite(first).all()
    assert np.array_equal(first, again)
    assert not np.array_equal(first, session.run(None, fixtures.sample_input(name, seed=4))[0])


def test_unknown_fixture_is_a_vitc_error():
    with pytest.raises(VitcError, match="unknown fixture 'nope'; known fixtures: deit-style-"):
        fixtures.fixture_path("nope")
