"""Pass pipeline strings: `"dce,fold-constants{max-elements=1024}"` <-> a list of `Pass` objects.

Syntax: passes separated by commas; each pass may have options in braces, `name=value`, separated
by spaces or commas. Values: integers, floats, `true`/`false`, or bare strings. Every error is a
`PipelineError` naming the pipeline, the column, and what was wrong (unknown pass, unknown option,
bad value), and listing what is known. `format_pipeline` writes the canonical string back
(every option, in declaration order), so `parse(format(p)) == p`.
"""

from __future__ import annotations

import re

from compiler.ir.errors import PipelineError
from compiler.ir.passes import Pass, registered_passes

_PASS = re.compile(r"\s*([A-Za-z0-9_-]+)\s*(\{([^{}]*)\})?\s*(,|$)")
_OPTION = re.compile(r"([A-Za-z0-9_-]+)=([^\s,{}=]+)")


def _convert(option_type: type, text: str) -> object:
    if option_type is bool:
        if text not in ("true", "false", "1", "0"):
            raise ValueError("expected true or false")
        return text in ("true", "1")
    if option_type is str:
        return text
    return option_type(text)


def _build_pass(pipeline: str, column: int, name: str, option_text: str) -> Pass:
    passes = registered_passes()
    if name not in passes:
        raise PipelineError(f"pipeline {pipeline!r}, column {column}: unknown pass '{name}' "
                            f"(known passes: {', '.join(passes)})")
    cls = passes[name]
    declared = cls.options()
    values: dict[str, object] = {}
    items = [item for item in re.split(r"[\s,]+", option_text.strip()) if item]
    for item in items:
        match = _OPTION.fullmatch(item)
        if not match:
            raise PipelineError(f"pipeline {pipeline!r}: pass '{name}': option {item!r} is not "
                                f"written name=value")
        option, text = match.groups()
        if option not in declared:
            known = ", ".join(declared) or "none"
            raise PipelineError(f"pipeline {pipeline!r}: pass '{name}' has no option '{option}' "
                                f"(its options: {known})")
        try:
            values[option.replace("-", "_")] = _convert(declared[option], text)
        except ValueError:
            raise PipelineError(f"pipeline {pipeline!r}: pass '{name}' option '{option}': bad value "
                                f"{text!r} (expected {declared[option].__name__})") from None
    try:
        return cls(**values)
    except ValueError as err:  # a pass's own check of its option values
        raise PipelineError(f"pipeline {pipeline!r}: pass '{name}': {err}") from None


def parse_pipeline(pipeline: str) -> list[Pass]:
    """The passes of a pipeline string, in order; an empty or blank string is no passes."""
    if not pipeline.strip():
        return []
    passes: list[Pass] = []
    position = 0
    while position < len(pipeline):
        match = _PASS.match(pipeline, position)
        if not match or match.end() == position:
            raise PipelineError(f"pipeline {pipeline!r}, column {position + 1}: expected a pass name "
                                f"optionally followed by {{option=value ...}}, got "
                                f"{pipeline[position:position + 20]!r}")
        name, _, option_text, separator = match.groups()
        passes.append(_build_pass(pipeline, match.start(1) + 1, name, option_text or ""))
        position = match.end()
        if separator == "," and position == len(pipeline):
            raise PipelineError(f"pipeline {pipeline!r}: ends with a comma")
    return passes


def _format_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def format_pass(p: Pass) -> str:
    options = " ".join(f"{k}={_format_value(v)}" for k, v in p.option_values().items())
    return f"{p.name}{{{options}}}" if options else p.name


def format_pipeline(passes: list[Pass]) -> str:
    return ",".join(format_pass(p) for p in passes)
