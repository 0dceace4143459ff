"""`vitc models list` and `vitc models build`, run through the real command-line entry point."""

import onnx
import onnxruntime as ort

from compiler.cli.main import main
from models import zoo


def test_list_shows_sizes_parameter_counts_and_variants(capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    for name in zoo.MODEL_NAMES:
        assert f"{zoo.config_for(name).parameter_count:,}" in out and name in out
    assert all(v.tag in out for v in zoo.VARIANTS)


def test_build_writes_the_requested_variant(tmp_path, capsys):
    args = ["models", "build", "vit-micro", "--format", "qoperator", "--activations", "uint8", "--per-channel", "--opset", "14", "-o", str(tmp_path)]
    assert main(args) == 0
    written = tmp_path / "vit-micro-qop-u8-pc-opset14.onnx"
    assert capsys.readouterr().out.strip() == str(written)
    expected = zoo.quantized_model_path("vit-micro", "qop-u8-pc", opset=14)
    assert written.read_bytes() == expected.read_bytes()
    model = onnx.load(written)
    assert model.opset_import[0].version == 14 and any(n.op_type == "QLinearMatMul" for n in model.graph.node)
    ort.InferenceSession(str(written), providers=["CPUExecutionProvider"]).run(None, zoo.sample_input("vit-micro"))


def test_build_float(tmp_path):
    assert main(["models", "build", "vit-micro", "--float", "--gelu", "tanh", "-o", str(tmp_path)]) == 0
    model = onnx.load(tmp_path / "vit-micro-float-opset17.onnx")
    assert any(n.op_type == "Tanh" for n in model.graph.node)


def test_bad_option_is_one_clear_error(tmp_path, capsys):
    assert main(["models", "build", "vit-micro", "--opset", "14", "--layernorm", "fused", "-o", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err == "vitc: error: build option layernorm='fused' needs opset >= 17, got opset=14\n"
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_directory_is_one_clear_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(["models", "build", "vit-micro", "-o", str(blocker)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"vitc: error: cannot write {blocker}/vit-micro-qdq-s8-pt-opset17.onnx: ") and err.count("\n") == 1
