"""The interpreter against onnxruntime, tensor by tensor, on real models: every vit-micro variant
of the zoo, the committed fixtures (PyTorch / transformers exports), vit-digits, and (slow)
deit-tiny. Target: every tensor bit-identical. Plus the comparison's own reporting."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from compiler.reference.compare import _with_outputs, compare_arrays, compare_model, summarize
from models import digits, fixtures, zoo

VIT_MICRO_VARIANTS = [v.tag for v in zoo.VARIANTS]
DEIT_TINY_VARIANTS = ["qdq-s8-pt", "qdq-u8-pc-pp", "qop-s8-pc", "qop-u8-pt"]
DIGITS_VARIANTS = sorted(digits.metadata()["int8_top1"])


def _assert_all_exact(report):
    assert report.tensors, f"{report.model}: nothing was compared"
    assert not report.dropped, f"{report.model}: exposing these tensors changed onnxruntime's graph: {report.dropped}"
    assert report.all_exact, report.summary()


def _assert_exposure_keeps_outputs(path, inputs, report):
    """Independently of compare_model: the model's outputs are bit-identical with and without
    the intermediate tensors it exposed."""
    model = onnx.load(str(path))
    exposed = [t.onnx_name for t in report.tensors]
    plain = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, inputs)
    session = ort.InferenceSession(_with_outputs(model, exposed).SerializeToString(), providers=["CPUExecutionProvider"])
    with_extra = session.run([o.name for o in model.graph.output], inputs)
    for a, b in zip(plain, with_extra):
        assert np.array_equal(a.view(np.uint8), b.view(np.uint8))


@pytest.mark.parametrize("tag", VIT_MICRO_VARIANTS)
def test_vit_micro(tag):
    path = zoo.quantized_model_path("vit-micro", tag)
    inputs = zoo.sample_input("vit-micro", seed=1)
    exposed = compare_model(path, inputs, exposure="model")
    _assert_all_exact(exposed)
    _assert_exposure_keeps_outputs(path, inputs, exposed)
    _assert_all_exact(compare_model(path, inputs, exposure="optimized"))


@pytest.mark.parametrize("name", fixtures.FIXTURES)
def test_fixtures(name):
    path = fixtures.fixture_path(name)
    inputs = fixtures.sample_input(name, seed=1)
    _assert_all_exact(compare_model(path, inputs, exposure="model"))
    _assert_all_exact(compare_model(path, inputs, exposure="optimized"))


@pytest.mark.parametrize("tag", DIGITS_VARIANTS)
def test_vit_digits(tag):
    images, _ = digits.test_split()
    path = digits.model_path(variant=tag)
    name = onnx.load(str(path)).graph.input[0].name
    for image in images[:2]:
        inputs = {name: image[None]}
        _assert_all_exact(compare_model(path, inputs, exposure="model"))
        _assert_all_exact(compare_model(path, inputs, exposure="optimized"))


@pytest.mark.slow
@pytest.mark.parametrize("tag", DEIT_TINY_VARIANTS)
def test_deit_tiny(tag):
    path = zoo.quantized_model_path("deit-tiny", tag)
    _assert_all_exact(compare_model(path, zoo.sample_input("deit-tiny", seed=1), exposure="optimized"))


def test_mismatch_report_names_tensor_index_and_values():
    mine = np.array([[1, 2], [3, 4]], np.uint8)
    theirs = np.array([[1, 2], [5, 4]], np.uint8)
    result = compare_arrays("x_q", "x_q_ort", mine, theirs)
    assert (result.exact, result.max_difference, result.first_mismatch) == (3, 2.0, ((1, 0), 3, 5))
    assert "%x_q (onnxruntime 'x_q_ort'): 1 of 4 elements differ" in result.describe()
    assert "first at index [1, 0]: interpreter 3, onnxruntime 5" in result.describe()


def test_float_comparison_is_by_bit_pattern():
    a = np.array([0.0, np.nan, 1.0], np.float32)
    b = np.array([-0.0, np.nan, 1.0], np.float32)
    result = compare_arrays("y", "y", a, b)
    assert result.exact == 2 and result.first_mismatch[0] == (0,)


def test_shape_disagreement_is_reported():
    result = compare_arrays("y", "y", np.zeros((2, 3), np.int8), np.zeros((3, 2), np.int8))
    assert not result.is_exact and "int8[2, 3] vs onnxruntime int8[3, 2]" in result.describe()


def test_summary_lists_mismatches():
    report = compare_model(zoo.quantized_model_path("vit-micro", "qop-u8-pt"), zoo.sample_input("vit-micro", seed=2))
    report.tensors.append(compare_arrays("fake", "fake", np.zeros(3, np.uint8), np.ones(3, np.uint8)))
    text = summarize([report])
    assert "MISMATCH %fake: 3 of 3 elements differ" in text and text.splitlines()[-1].startswith("total:")
