"""import_model on every zoo variant and committed fixture: verified IR, text round trip, names."""

import pytest

from compiler.frontend import import_model, import_model_with_tensors
from compiler.ir.equality import graph_difference
from compiler.ir.printer import print_graph
from compiler.ir.roundtrip import assert_roundtrip
from models import fixtures, zoo

# The dynamo exporter guards Softmax with Where(IsNaN(p), 0, p). In this int8 QDQ model the Softmax
# output feeds two DQs, so onnxruntime neither rewrites it to uint8 nor fuses QLinearSoftmax: a float
# Softmax runs, lowered to the `softmax` op. (The QOperator twin's guard is a table.)
FLOAT_SOFTMAX_FIXTURE = "hf-vit-dynamo-opset18-qdq-s8-pt"


@pytest.mark.parametrize("tag", [v.tag for v in zoo.VARIANTS])
def test_every_vit_micro_variant_imports_and_round_trips(tag):
    path = zoo.quantized_model_path("vit-micro", tag)
    graph = import_model(path)
    assert_roundtrip(graph)
    assert [v.name for v in graph.inputs] == [zoo.INPUT_NAME]
    assert [v.name for v in graph.outputs] == [zoo.OUTPUT_NAME]
    assert all(op.loc for op in graph.ops), "every op names the ONNX node(s) it comes from"
    assert not any("s8_to_u8" in op.result.name for op in graph.ops), "onnxruntime's invented names are restored"


@pytest.mark.parametrize("options", [dict(opset=13), dict(layernorm="decomposed", opset=14), dict(opset=21), dict(gelu="tanh"),
                                     dict(qkv="fused")],
                         ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
@pytest.mark.parametrize("tag", ["qdq-s8-pt", "qdq-u8-pc-pp", "qop-s8-pc"])
def test_build_options_import_and_round_trip(tag, options):
    assert_roundtrip(import_model(zoo.quantized_model_path("vit-micro", tag, **options)))


@pytest.mark.parametrize("name", fixtures.FIXTURES)
def test_committed_fixtures(name):
    graph = import_model(fixtures.fixture_path(name))
    assert_roundtrip(graph)
    softmaxes = [op for op in graph.ops if op.kind == "softmax"]
    if name == FLOAT_SOFTMAX_FIXTURE:
        assert softmaxes and all(op.attrs["axis"] == op.result.type.rank - 1 for op in softmaxes)
        assert "node_Softmax_74" in softmaxes[0].loc
    else:
        assert not softmaxes, "onnxruntime fuses these Softmaxes (qsoftmax)"


def test_import_is_deterministic():
    path = zoo.quantized_model_path("vit-micro", "qdq-s8-pc")
    first, second = import_model(path), import_model(path)
    assert graph_difference(first, second) is None
    assert print_graph(first) == print_graph(second)


def test_user_tensor_names_are_kept_where_onnxruntime_renamed_them():
    """int8 QDQ: the S8->U8 rewrite renames Q outputs; the IR uses the model's own names."""
    imported = import_model_with_tensors(zoo.quantized_model_path("vit-micro", "qdq-s8-pt"))
    renamed = {ir: t for ir, t in imported.onnx_tensor.items() if t.startswith("qdq_s8_to_u8")}
    assert renamed, "the int8 QDQ variant has rewritten tensors"
    for ir_name in renamed:
        assert ir_name.endswith("_QuantizeLinear_Output"), ir_name
    by_name = {op.result.name: op for op in imported.graph.ops}
    assert all(by_name[name].result.type.dtype == "u8" for name in renamed)
