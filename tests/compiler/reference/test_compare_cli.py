"""`vitc compare`: the interpreter against onnxruntime from the command line."""

import json

from compiler.cli.main import main
from models import zoo


def test_compare_prints_exact_counts_and_exits_zero(capsys):
    path = zoo.quantized_model_path("vit-micro", "qdq-u8-pt")
    assert main(["compare", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["tensors"] > 50 and report["tensors"] == report["tensors_exact"]
    assert report["elements"] == report["elements_exact"] > 0
    assert report["mismatches"] == []


def test_compare_of_a_missing_model_is_one_clear_error(capsys, tmp_path):
    assert main(["compare", str(tmp_path / "absent.onnx")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("vitc: error:") and "absent.onnx" in err and "Traceback" not in err
