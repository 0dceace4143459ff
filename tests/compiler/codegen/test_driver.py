"""The driver's pipeline (`driver.backend_pipeline`, `compile_graph_full`): every configuration's
pipeline, the debug build's too, interleaves between instruction selection and scheduling; a
pipeline that stops early is completed with the code generation passes after the last one it
has, so stopping after `plan-memory` gives the default binary, and `...,select-instructions,
schedule` (no interleaving) gets only `emit`: the program order of the selection."""

import pytest

from compiler.codegen.driver import backend_pipeline, compile_graph_full
from compiler.frontend import import_model
from compiler.ir.pass_manager import PassManager
from compiler.ir.pipeline import parse_pipeline
from isa.config import load_config
from isa.container import write_vitb
from models import zoo

CONFIG = load_config("default")


def _graph():
    return import_model(zoo.quantized_model_path("vit-micro", zoo.VARIANTS[0]))


def _compile(pipeline: str):
    return compile_graph_full(_graph(), CONFIG, passes=PassManager(parse_pipeline(pipeline)))


@pytest.mark.parametrize("config_name", ["default", "large"])
@pytest.mark.parametrize("debug_build", [False, True])
def test_every_pipeline_interleaves_between_selection_and_scheduling(config_name, debug_build):
    names = [p.name for p in parse_pipeline(backend_pipeline(load_config(config_name), debug_build))]
    assert names[-4:] == ["select-instructions", "interleave", "schedule", "emit"]


def test_a_pipeline_stopping_after_plan_memory_gives_the_default_binary():
    planned = backend_pipeline(CONFIG).split(",select-instructions")[0]
    assert write_vitb(_compile(planned).binary) == write_vitb(_compile(backend_pipeline(CONFIG)).binary)


def test_a_pipeline_that_schedules_without_interleaving_keeps_the_selected_order():
    selection = backend_pipeline(CONFIG).split(",interleave")[0]
    graph = _graph()
    PassManager(parse_pipeline(selection)).run(graph)
    selected = [(item.mnemonic, item.fields) for item in graph.machine.items]
    compiled = _compile(f"{selection},schedule")
    assert [(item.mnemonic, item.fields) for item in compiled.machine.items] == selected
    assert compiled.binary is not None
    assert write_vitb(compiled.binary) != write_vitb(_compile(backend_pipeline(CONFIG)).binary)
