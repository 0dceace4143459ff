"""The pass base class and the registry of passes.

A pass is a frozen dataclass subclassing `Pass`: its class attribute `name` is its pipeline name
("fold-constants"), its dataclass fields are its options (typed int, float, bool or str, each
with a default), and `apply(graph)` rewrites the graph in place. Each pass lives in its own
module of `compiler.passes`, named after it ("fold-constants" -> `fold_constants.py`); the
registry finds passes by importing every module of that package.
A pass logs through `self.log` (the logger `vitc.<name>`, switched on by `--debug-only=<name>`).
`check_levels` is the one rule on the order of levels in a pipeline (see `Pass.level`).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import logging
import pkgutil
import typing
from typing import ClassVar

from compiler.ir.graph import Graph

OPTION_TYPES = (int, float, bool, str)


LEVELS = ("graph", "lowering", "machine")


@dataclasses.dataclass(frozen=True)
class Pass:
    """Base of every pass. Subclasses are `@dataclass(frozen=True)` and set `name`.

    `level` says what the pass works on: `graph` passes rewrite or annotate the IR graph;
    the `lowering` pass (`select-instructions`) turns the annotated graph into the machine-level
    program it attaches as `graph.machine`; `machine` passes (`schedule`, `emit`) work on that
    program. A pipeline runs its graph passes, then at most one lowering, then machine passes.
    """

    name: ClassVar[str] = ""
    level: ClassVar[str] = "graph"

    def apply(self, graph: Graph) -> None:
        """Rewrite `graph` in place."""
        raise NotImplementedError(f"pass {self.name} does not implement apply")

    @property
    def log(self) -> logging.Logger:
        return logging.getLogger(f"vitc.{self.name}")

    @classmethod
    def summary(cls) -> str:
        """The first line of the pass's docstring."""
        return (cls.__doc__ or "").strip().splitlines()[0]

    @classmethod
    def options(cls) -> dict[str, type]:
        """Option names as written in a pipeline (`max-elements`) -> their Python type."""
        hints = typing.get_type_hints(cls)
        return {f.name.replace("_", "-"): hints[f.name] for f in dataclasses.fields(cls)}

    def option_values(self) -> dict[str, object]:
        """Pipeline option name -> this instance's value."""
        return {f.name.replace("_", "-"): getattr(self, f.name) for f in dataclasses.fields(self)}


def _check_pass_class(cls: type[Pass], module_name: str) -> None:
    """A pass that breaks the conventions is a bug in vitc, reported when the registry loads."""
    if not dataclasses.is_dataclass(cls) or not cls.__dataclass_params__.frozen:
        raise TypeError(f"pass {cls.__name__} must be a frozen dataclass")
    if cls.level not in LEVELS:
        raise TypeError(f"pass '{cls.name}' has level {cls.level!r}; levels are {', '.join(LEVELS)}")
    if module_name != cls.name.replace("-", "_"):
        raise TypeError(f"pass '{cls.name}' must live in compiler/passes/{cls.name.replace('-', '_')}.py, "
                        f"not {module_name}.py")
    for option, option_type in cls.options().items():
        if option_type not in OPTION_TYPES:
            raise TypeError(f"pass '{cls.name}' option '{option}' has type {option_type}; options are "
                            f"int, float, bool or str")
    missing = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING]
    if missing:
        raise TypeError(f"pass '{cls.name}' option '{missing[0]}' needs a default")


@functools.cache
def registered_passes() -> dict[str, type[Pass]]:
    """Every pass of `compiler.passes`, by pipeline name, sorted by name."""
    import compiler.passes as package

    found: dict[str, type[Pass]] = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for cls in vars(module).values():
            if not (isinstance(cls, type) and issubclass(cls, Pass) and cls.name
                    and cls.__module__ == module.__name__):
                continue
            _check_pass_class(cls, info.name)
            if cls.name in found:
                raise TypeError(f"two passes are named '{cls.name}'")
            found[cls.name] = cls
    return dict(sorted(found.items()))


def check_levels(passes: list[Pass], lowered: bool = False) -> None:
    """Raise `PipelineError` unless `passes` run graph passes, then at most one lowering, then
    machine passes, starting from a graph that is `lowered` already or not."""
    from compiler.ir.errors import PipelineError

    pipeline = ",".join(p.name for p in passes)
    for index, p in enumerate(passes, start=1):
        where = f"pipeline '{pipeline}': pass '{p.name}' (#{index} of the pipeline)"
        if p.level == "machine" and not lowered:
            raise PipelineError(f"{where} works on machine code: run select-instructions before it")
        if p.level != "machine" and lowered:
            raise PipelineError(f"{where} works on the IR graph, which select-instructions already lowered "
                                f"to machine code: IR passes must come before select-instructions")
        lowered = lowered or p.level == "lowering"
