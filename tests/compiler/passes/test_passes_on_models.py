"""The passes on real imported models: every value that survives a pipeline is bit-identical.

The reference interpreter (`compiler.reference.interpreter`) runs the imported graph before and
after `canonicalize,dce` (which includes constant folding); the graph outputs and every value present in
both graphs must agree element for element, and the pipelines must really remove ops.
"""

import functools
from pathlib import Path

import numpy as np
import pytest

from compiler.frontend import import_model
from compiler.ir.parser import parse_graph
from compiler.ir.pass_manager import Instrumentation, PassManager
from compiler.ir.pipeline import parse_pipeline
from compiler.ir.printer import print_graph
from compiler.reference.interpreter import run_graph

FIXTURES = Path(__file__).resolve().parents[3] / "models" / "fixtures"
MODELS = ["deit-style-torchscript-opset17-qdq-u8-pt", "hf-vit-torchscript-opset17-qdq-u8-pc-pp",
          "deit-style-dynamo-opset18-qop-u8-pt"]


@functools.cache
def imported_text(model: str) -> str:
    """The model's IR as text, imported once (each test parses its own copies)."""
    return print_graph(import_model(FIXTURES / f"{model}.onnx"))


def first_mismatch(name: str, want: np.ndarray, got: np.ndarray) -> str | None:
    if want.dtype != got.dtype or want.shape != got.shape:
        return f"%{name}: {want.dtype}{list(want.shape)} became {got.dtype}{list(got.shape)}"
    # compare bit patterns (NaN payloads and -0.0 included), one row of bytes per element
    want_bytes = np.ascontiguousarray(want).reshape(-1).view(np.uint8).reshape(want.size, -1)
    got_bytes = np.ascontiguousarray(got).reshape(-1).view(np.uint8).reshape(got.size, -1)
    differ = np.flatnonzero((want_bytes != got_bytes).any(axis=1))
    if differ.size == 0:
        return None
    index = np.unravel_index(differ[0], want.shape)
    return f"%{name} element {[int(i) for i in index]}: {want[index]!r} before, {got[index]!r} after"


@pytest.mark.parametrize("model", MODELS)
def test_canonicalize_keeps_every_surviving_value(model):
    before, after = parse_graph(imported_text(model)), parse_graph(imported_text(model))
    PassManager(parse_pipeline("canonicalize,dce"), Instrumentation(verify_each=True)).run(after)
    assert len(after.ops) < len(before.ops)
    pixels = np.random.default_rng(0).uniform(-1, 1, size=before.inputs[0].type.shape).astype(np.float32)
    inputs = {before.inputs[0].name: pixels}
    want = run_graph(before, inputs, keep_all=True, threads=1)
    got = run_graph(after, inputs, keep_all=True, threads=1)
    assert [v.name for v in after.outputs] == [v.name for v in before.outputs]
    common = [name for name in want if name in got]
    assert {v.name for v in before.outputs} <= set(common)
    problems = [p for p in (first_mismatch(n, want[n], got[n]) for n in common) if p]
    assert not problems, "\n".join(problems[:5])
