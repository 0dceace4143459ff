"""fuse-requant and tabulate on real models.

1. The invariant: the frontend now imports the unfused steps (`matmul_int`, `bias_add`,
   `requantize`, `onnx_chain`), and after `fuse-requant,tabulate` the IR prints byte for byte as
   the frontend printed it when it fused them itself. The sha256 of that earlier text was
   recorded for every vit-micro zoo variant and every committed fixture before the change
   (`PINNED_IR`), so the compiled binaries stay what they were.
2. Each IR level runs in the reference interpreter: every value present before and after each
   pass is bit-identical, and the IR after both passes equals onnxruntime tensor by tensor
   (`compiler.reference.compare`).
"""

import hashlib

import numpy as np
import pytest

from compiler.cli.main import main as vitc_main
from compiler.frontend import import_model
from compiler.ir.pass_manager import Instrumentation, PassManager
from compiler.ir.pipeline import parse_pipeline
from compiler.ir.printer import print_graph
from compiler.reference.compare import compare_model
from compiler.reference.interpreter import run_graph
from models import fixtures, zoo
from tests.compiler.passes.test_passes_on_models import first_mismatch

# sha256 of print_graph(import_model(model)) at commit 8357bfd, when the frontend fused both itself
PINNED_IR = {
    "vit-micro/qdq-s8-pt": "dad688466f2c840e70d0de7c4ab434f43d60584dbb3e2ea54a9b2f04c377e5b4",
    "vit-micro/qdq-s8-pt-pp": "b060b6d0ef1130a24e9008f2e3170f794fcd99ce618bf9ec78c5cce3df78e425",
    "vit-micro/qdq-s8-pc": "6ef7de3e5ea8d3b65554dd5281dec0b58d2a2dee0fe9ed09cd5dbc72536fd99e",
    "vit-micro/qdq-s8-pc-pp": "89ef2e49ec00f54f78bcfe231a6ce0ffcbdbb51041936bc83f2eef6767bcd58f",
    "vit-micro/qdq-u8-pt": "b638e0f9f74ad9345db9d9e40c98300ef96b2611b966b76b8c80e48b9d164ff7",
    "vit-micro/qdq-u8-pt-pp": "afc8b2ff39ac37adce145f4fd0e094bf7bc37a4b790c3b54228a23b85d67e29d",
    "vit-micro/qdq-u8-pc": "3d195bfa334b99b3b83837a1a799fc3a4bc1cd5f09c9bbfe8fba7b5d99078d78",
    "vit-micro/qdq-u8-pc-pp": "5f31c091f2d589200bd276108d0fcb27c0b69652ce433bafcd7a56c4ad001f92",
    "vit-micro/qop-s8-pt": "36a1a62a41c3686790bdbf7461acb315b69e262c66506386b74af66115ed0d92",
    "vit-micro/qop-s8-pt-pp": "8e4a91757dea66c957d010b3bacf2cdd7617d40b8e5994c5181b59f5f577e256",
    "vit-micro/qop-s8-pc": "aa6507f9e72a6d4869b52ef73e0d504a7bdb782e35d168fcb1fd1f5d987241fc",
    "vit-micro/qop-s8-pc-pp": "9ca2cc19c560ac5c8a03a3cb8f5fc258abc42748b17d04a6ce87d427803c8819",
    "vit-micro/qop-u8-pt": "ae196a3807b2ee2d366d24e0e282f5847f9f8c435a6b9329e39a903193d0e436",
    "vit-micro/qop-u8-pt-pp": "e4f8e7d2a29e7c5c31f06e40904255c9a5da53c82806a475f222c16ff6fc583d",
    "vit-micro/qop-u8-pc": "a7fbefbe9d6d95a386c0b5c502c95708977cbea18a130e2046633871d8418ce5",
    "vit-micro/qop-u8-pc-pp": "733defc49b891213480fc37f986738ed9d8365a376bf33bf5a0af6b1a4fd4a1f",
    "deit-style-dynamo-opset18-qdq-s8-pc": "cefd440fa2aa70565f7a262074bddffa793b54e222959750f44d869b58613b73",
    "deit-style-dynamo-opset18-qop-u8-pt": "05145c040699d509d2205da4dfee97963e3364a943257c490a0f7c4a031f7b16",
    "deit-style-torchscript-opset17-qdq-u8-pt": "3e64ba5d4e2d5ea5affb63375a7e64f2fa3994917831733ec1f05d552b6a5081",
    "deit-style-torchscript-opset17-qop-s8-pc": "10a411c6e40bbcddea5c07afa94b581d04c04b2b848833b5ad315134616f9717",
    "hf-vit-dynamo-opset18-qdq-s8-pt": "b983ee321af00864bb8b70e6ea5faee66b796ce0e3ce6bec7b25c616274f9813",
    "hf-vit-dynamo-opset18-qop-u8-pt": "df2b13d1530a8772fb13a69ce3d3be72f34280885a0e1e1144d75f9cf30bf6b4",
    "hf-vit-torchscript-opset14-qdq-s8-pt": "d6bc3b7c559d15bae6343e5a8176f2b631b3ffc6680fc8bae5f50bd1b9c059ab",
    "hf-vit-torchscript-opset14-qop-u8-pt": "8d0fdf739d78e40dc329f6e9253f32eabc14172870c59efa3ed43913ffd932d5",
    "hf-vit-torchscript-opset17-qdq-s8-pt": "c48aa9c31248c1100cd36e81eb0a2e10e5007c9303089c098d1912c3c17857f3",
    "hf-vit-torchscript-opset17-qdq-u8-pc-pp": "2d923fdc238281334e0200f5280c85e5250930bd40c8140a1d6f9e4bddbed9f1",
    "hf-vit-torchscript-opset17-qop-u8-pt": "7dc56423d918f01982251b5817301e609e3992cdb4ae9c57449430fe0dac0804",
}
FRONT_PASSES = "fuse-requant,tabulate"


def _path(model: str):
    if model.startswith("vit-micro/"):
        return zoo.quantized_model_path("vit-micro", model.removeprefix("vit-micro/"))
    return fixtures.fixture_path(model)


def _inputs(model: str) -> dict[str, np.ndarray]:
    if model.startswith("vit-micro/"):
        return zoo.sample_input("vit-micro", seed=5)
    return fixtures.sample_input(model, seed=5)


def test_every_pinned_model_is_pinned():
    assert {m for m in PINNED_IR if not m.startswith("vit-micro/")} == set(fixtures.FIXTURES)
    assert {m.removeprefix("vit-micro/") for m in PINNED_IR if m.startswith("vit-micro/")} == \
        {v.tag for v in zoo.VARIANTS}


@pytest.mark.parametrize("model", sorted(PINNED_IR))
def test_the_passes_give_exactly_the_ir_the_frontend_used_to_print(model):
    graph = import_model(_path(model))
    kinds = {op.kind for op in graph.ops}
    assert {"matmul_int", "requantize", "onnx_chain"} <= kinds and not kinds & {"qmatmul", "table"}
    PassManager(parse_pipeline(FRONT_PASSES), Instrumentation(verify_each=True)).run(graph)
    digest = hashlib.sha256(print_graph(graph).encode()).hexdigest()
    assert digest == PINNED_IR[model], f"{model}: the IR after {FRONT_PASSES} changed (sha256 {digest})"


@pytest.mark.parametrize("model", ["vit-micro/qdq-s8-pc", "vit-micro/qop-u8-pt", "deit-style-dynamo-opset18-qop-u8-pt",
                                   "hf-vit-torchscript-opset17-qdq-u8-pc-pp"])
def test_each_pass_keeps_every_value_bit_identical(model):
    graph = import_model(_path(model))
    inputs = _inputs(model)
    want = run_graph(graph, inputs, keep_all=True, threads=1)
    for name in FRONT_PASSES.split(","):
        PassManager(parse_pipeline(name), Instrumentation(verify_each=True)).run(graph)
        got = run_graph(graph, inputs, keep_all=True, threads=1)
        assert {v.name for v in graph.outputs} <= set(got)
        problems = [p for p in (first_mismatch(n, want[n], got[n]) for n in got if n in want) if p]
        assert not problems, f"after {name}: " + "\n".join(problems[:5])
        assert len(got) < len(want) or name == "tabulate"


@pytest.mark.parametrize("model", ["vit-micro/qdq-u8-pt", "vit-micro/qop-s8-pc"])
def test_the_fused_ir_equals_onnxruntime_tensor_by_tensor(model):
    passes = PassManager(parse_pipeline(FRONT_PASSES), Instrumentation(verify_each=True))
    report = compare_model(_path(model), _inputs(model), exposure="optimized", passes=passes)
    assert report.all_exact, report.summary()
    assert report.counts()["tensors"] > 50


def test_vitc_import_then_vitc_opt_gives_the_pinned_ir(tmp_path, capsys):
    """The command-line path: `vitc import` writes the unfused IR, `vitc opt -p fuse-requant,tabulate` fuses it."""
    model = "vit-micro/qop-s8-pc"
    unfused, fused = tmp_path / "unfused.vir", tmp_path / "fused.vir"
    assert vitc_main(["import", str(_path(model)), "-o", str(unfused)]) == 0
    assert " = matmul_int " in unfused.read_text() and " = onnx_chain " in unfused.read_text()
    assert vitc_main(["opt", str(unfused), "-p", FRONT_PASSES, "--verify-each", "-o", str(fused)]) == 0
    capsys.readouterr()
    assert hashlib.sha256(fused.read_bytes()).hexdigest() == PINNED_IR[model]
