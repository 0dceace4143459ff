"""Constant folding of layout ops: a layout op whose operands are all constants becomes a constant.

Layout ops (reshape, transpose, gather, slice, concat, squeeze, unsqueeze, flatten) only move
bytes, so folding them is exact (`compiler.ir.layout_eval`). The folded `const` keeps the op's
result value (name and type, hence quantization) and its loc, so no use needs rewriting. The
operand constants are left in place; `dce` removes the ones nobody uses any more.
Option `max-elements`: fold only results of at most this many elements (a limit on how much
constant data folding may add).
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler.ir.errors import IRError
from compiler.ir.graph import Graph, Op
from compiler.ir.layout_eval import LAYOUT_EVALUATORS, evaluate_layout
from compiler.ir.passes import Pass


def fold_op(op: Op, producers: dict, max_elements: int) -> Op | None:
    """The `const` op replacing `op`, or None when `op` does not fold."""
    if op.kind not in LAYOUT_EVALUATORS or op.result.type.num_elements > max_elements:
        return None
    sources = [producers.get(v) for v in op.operands]
    if not all(source is not None and source.kind == "const" for source in sources):
        return None
    try:
        value = evaluate_layout(op.kind, [s.attrs["value"] for s in sources], op.attrs, op.result.type)
    except IRError as err:
        raise IRError(f"{op.describe()}: {err}") from None
    return Op("const", [], {"value": value}, op.result, op.loc)


def fold_constants(graph: Graph, max_elements: int) -> list[Op]:
    """Fold every foldable op in place (in op order, so chains fold in one sweep); returns the ops folded."""
    producers = graph.producers()
    folded = []
    for index, op in enumerate(graph.ops):
        replacement = fold_op(op, producers, max_elements)
        if replacement is None:
            continue
        graph.ops[index] = replacement
        producers[op.result] = replacement
        folded.append(op)
    return folded


@dataclass(frozen=True)
class FoldConstants(Pass):
    """Replace layout ops on constant operands by the constant they compute."""

    name = "fold-constants"
    max_elements: int = 1 << 30

    def __post_init__(self):
        if self.max_elements < 0:
            raise ValueError(f"max-elements must be >= 0, got {self.max_elements}")

    def apply(self, graph: Graph) -> None:
        for op in fold_constants(graph, self.max_elements):
            self.log.debug("folded %s", op.describe())
