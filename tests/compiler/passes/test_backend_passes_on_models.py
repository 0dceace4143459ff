"""The backend passes on real models: the annotated IR still runs in the reference interpreter
with bit-identical values (the attributes change no semantics), and the annotations are there.

vit-micro (zoo) in two variants, through the driver's own pipeline for each configuration.
"""

import pytest

from compiler.codegen.driver import backend_pipeline
from compiler.frontend import import_model
from compiler.ir.parser import parse_graph
from compiler.ir.pass_manager import Instrumentation, PassManager
from compiler.ir.pipeline import parse_pipeline
from compiler.ir.printer import print_graph
from compiler.reference.interpreter import run_graph
from isa.config import load_config
from models import zoo
from tests.compiler.passes.test_passes_on_models import first_mismatch


@pytest.mark.parametrize("config_name", ["default", "large"])
@pytest.mark.parametrize("variant", [zoo.VARIANTS[0], zoo.VARIANTS[14]],
                         ids=lambda v: f"{v.fmt}-{v.activations}-{'pc' if v.per_channel else 'pt'}")
def test_backend_pipeline_keeps_every_value_and_annotates(variant, config_name):
    text = print_graph(import_model(zoo.quantized_model_path("vit-micro", variant)))
    before, after = parse_graph(text), parse_graph(text)
    PassManager(parse_pipeline(backend_pipeline(load_config(config_name))), Instrumentation(verify_each=True)).run(after)
    inputs = {before.inputs[0].name: zoo.sample_input("vit-micro", 2)[before.inputs[0].name]}
    want = run_graph(before, inputs, keep_all=True, threads=1)
    got = run_graph(after, inputs, keep_all=True, threads=1)
    assert {v.name for v in before.outputs} <= set(got)
    problems = [p for p in (first_mismatch(n, want[n], got[n]) for n in want if n in got) if p]
    assert not problems, "\n".join(problems[:5])
    qmatmuls = [op for op in after.ops if op.kind == "qmatmul"]
    assert qmatmuls and all("tile_m" in op.attrs and "resident" in op.attrs for op in qmatmuls)
    assert any("chain" in op.attrs for op in after.ops)
    assert all("dram_offset" in after.input_attrs[value] for value in after.inputs)
