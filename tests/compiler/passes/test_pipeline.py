"""Pipeline strings: parsing, canonical formatting, and the error for each kind of mistake."""

import pytest

from compiler.ir.errors import PipelineError
from compiler.ir.passes import Pass, registered_passes
from compiler.ir.pipeline import format_pipeline, parse_pipeline
from compiler.passes.canonicalize import Canonicalize
from compiler.passes.dce import DeadCodeElimination
from compiler.passes.fold_constants import FoldConstants


def test_registry_finds_every_pass_module_by_name():
    passes = registered_passes()
    assert {"dce", "fold-constants", "canonicalize"} <= set(passes)
    for name, cls in passes.items():
        assert issubclass(cls, Pass) and cls.name == name
        assert cls.summary(), f"pass {name} needs a docstring"


def test_parse_and_format():
    passes = parse_pipeline(" dce , fold-constants{max-elements=1024}, canonicalize{max-iterations=3},dce")
    assert passes == [DeadCodeElimination(), FoldConstants(max_elements=1024), Canonicalize(max_iterations=3),
                      DeadCodeElimination()]
    text = format_pipeline(passes)
    assert text == "dce,fold-constants{max-elements=1024},canonicalize{max-iterations=3},dce"
    assert parse_pipeline(text) == passes
    assert parse_pipeline("") == [] and parse_pipeline("  ") == []
    assert parse_pipeline("fold-constants{}") == [FoldConstants()]


@pytest.mark.parametrize("pipeline, message", [
    ("dce,tile", "pipeline 'dce,tile', column 5: unknown pass 'tile' (known passes: canonicalize, cse, dce, emit, fold-constants"),
    ("fold-constants{max=3}", "pass 'fold-constants' has no option 'max' (its options: max-elements)"),
    ("dce{x=1}", "pass 'dce' has no option 'x' (its options: none)"),
    ("fold-constants{max-elements=many}", "option 'max-elements': bad value 'many' (expected int)"),
    ("fold-constants{max-elements=-5}", "pass 'fold-constants': max-elements must be >= 0, got -5"),
    ("fold-constants{max-elements}", "option 'max-elements' is not written name=value"),
    ("dce,", "ends with a comma"),
    ("dce,,dce", "column 5: expected a pass name"),
    ("dce{", "column 1: expected a pass name"),
    ("dce canonicalize", "column 1: expected a pass name"),
])
def test_pipeline_errors(pipeline, message):
    with pytest.raises(PipelineError) as info:
        parse_pipeline(pipeline)
    assert message in str(info.value)
