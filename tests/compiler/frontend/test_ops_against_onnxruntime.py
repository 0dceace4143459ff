"""Every IR op the frontend emits, and every op after `fuse-requant,tabulate`, checked against
the tensors onnxruntime really computes.

For each op whose operands are constants or tensors onnxruntime computes, the op is evaluated
with numpy from the IR spec on onnxruntime's own operand tensors and must give onnxruntime's
result tensor exactly (per element). This pins the kernel constants (multipliers), weight
layouts (QGemm transB, the patch-embedding conv as a matmul), the unfused requantisation steps,
the fused `qmatmul`s, the tables and the names. (`onnx_chain` has no numpy spec: it is
onnxruntime itself; its `table` is checked after `tabulate`.)
"""

import numpy as np
import onnxruntime as ort
import pytest

from compiler.frontend import import_model_with_tensors
from compiler.frontend.ort_optimizer import all_tensors
from compiler.ir.pass_manager import Instrumentation, PassManager
from compiler.ir.pipeline import parse_pipeline
from models import fixtures, zoo

from .spec_numpy import SPEC_OPS

VARIANT_TAGS = [v.tag for v in zoo.VARIANTS]


def _check_ops_against_onnxruntime(path, inputs) -> dict[str, int]:
    """Op kind -> how many ops of that kind were checked, in the imported IR and after the passes."""
    imported = import_model_with_tensors(path)
    ort_values = all_tensors(imported.optimized, inputs)
    checked = _check_graph(imported, ort_values, inputs)
    PassManager(parse_pipeline("fuse-requant,tabulate"), Instrumentation(verify_each=True)).run(imported.graph)
    for kind, count in _check_graph(imported, ort_values, inputs).items():
        checked[kind] = checked.get(kind, 0) + count
    return checked


def _check_graph(imported, ort_values, inputs) -> dict[str, int]:
    known = {name: ort_values[t] for name, t in imported.onnx_tensor.items() if t in ort_values}
    known.update({v.name: inputs[v.name] for v in imported.graph.inputs})
    checked: dict[str, int] = {}
    for op in imported.graph.ops:
        if op.kind == "const":
            known[op.result.name] = op.attrs["value"]
            continue
        if op.kind not in SPEC_OPS or any(v.name not in known for v in op.operands):
            continue
        got = SPEC_OPS[op.kind](op, [known[v.name] for v in op.operands])
        if op.result.name in imported.onnx_tensor and op.result.name in known:
            expected = known[op.result.name]
            assert got.shape == expected.shape, f"{op.describe()}: shape {got.shape} != onnxruntime {expected.shape}"
            bad = np.flatnonzero(got.ravel() != expected.ravel())
            assert bad.size == 0, (f"{op.describe()}: tensor '{op.result.name}' element {bad[0]}: "
                                   f"numpy from spec {got.ravel()[bad[0]]}, onnxruntime {expected.ravel()[bad[0]]} "
                                   f"({bad.size} of {got.size} differ)")
            checked[op.kind] = checked.get(op.kind, 0) + 1
        else:
            known[op.result.name] = got  # an internal value (e.g. inside the patch embedding)
    return checked


@pytest.mark.parametrize("tag", VARIANT_TAGS)
def test_vit_micro_ops_match_onnxruntime(tag):
    inputs = zoo.sample_input("vit-micro", seed=1)
    checked = _check_ops_against_onnxruntime(zoo.quantized_model_path("vit-micro", tag), inputs)
    # every variant has the patch embedding, the attention/MLP matmuls and at least one table
    assert checked.get("qmatmul", 0) >= 11 and checked.get("table", 0) >= 2, checked
    assert checked.get("requantize", 0) == checked["qmatmul"], checked


@pytest.mark.parametrize("options", [dict(layernorm="decomposed", opset=14), dict(gelu="tanh"),
                                     dict(attention_scale="mul"), dict(qkv="fused"), dict(classifier="matmul")],
                         ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
@pytest.mark.parametrize("tag", ["qdq-s8-pt", "qdq-u8-pt", "qop-s8-pt"])
def test_vit_micro_build_options_match_onnxruntime(tag, options):
    inputs = zoo.sample_input("vit-micro", seed=2)
    checked = _check_ops_against_onnxruntime(zoo.quantized_model_path("vit-micro", tag, **options), inputs)
    assert checked.get("qmatmul", 0) >= 11, checked


@pytest.mark.parametrize("name", fixtures.FIXTURES)
def test_fixture_ops_match_onnxruntime(name):
    checked = _check_ops_against_onnxruntime(fixtures.fixture_path(name), fixtures.sample_input(name, seed=1))
    assert checked.get("qmatmul", 0) >= 11 and checked.get("table", 0) >= 2, checked


def test_graph_outputs_equal_onnxruntime_at_default_options():
    """The optimised graph's outputs (what the IR mirrors) are the original model's at default options."""
    path = zoo.quantized_model_path("vit-micro", "qdq-s8-pt")
    inputs = zoo.sample_input("vit-micro", seed=3)
    imported = import_model_with_tensors(path)
    default = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, inputs)
    mirrored = all_tensors(imported.optimized, inputs)
    for output, expected in zip(imported.optimized.graph.output, default):
        np.testing.assert_array_equal(mirrored[output.name], expected, err_msg=output.name)


@pytest.mark.slow
@pytest.mark.parametrize("tag", ["qdq-s8-pt", "qdq-u8-pc-pp", "qop-s8-pc"])
def test_deit_tiny_ops_match_onnxruntime(tag):
    inputs = zoo.sample_input("deit-tiny", seed=1)
    checked = _check_ops_against_onnxruntime(zoo.quantized_model_path("deit-tiny", tag), inputs)
    assert checked.get("qmatmul", 0) >= 12 * 5 and checked.get("table", 0) >= 12, checked
