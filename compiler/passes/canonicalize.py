"""Canonicalization: simplify layout chains, fold constants, remove dead ops, until nothing changes.

Canonical form of layout: two transposes in a row become one; a chain of reshapes and transposes
that keeps the row-major element order (e.g. the patch embedding's NHWC -> NCHW -> tokens dance)
becomes one `reshape`; a reshape to its operand's own type disappears.

The rewrite rules are data (`RULES`): each is a function trying to rewrite one op in place,
returning True when it changed something. A rule either edits the op (keeping its result value,
hence its name and type) or forwards the op's result to an existing value; a result that is a
graph output is never forwarded (graph output names are the model's output names).
Every rewrite is checked against the op table before it is kept, so a rule never breaks a type.
After the rules, `fold-constants` (with its default size limit) and `dce` run; the whole repeats to a fixpoint.

In the default backend pipeline (after `dce`), it changes no binary of the zoo's vit-micro
variants. It once did: `select-instructions` numbered every op, layout views included, and
consecutive numbers alternated the on-chip halves (since then, arenas that follow each other
around a ring), so collapsing the patch embedding's four layout ops into one reshape flipped
the halves of every later op (the same instructions on other
on-chip addresses, hence other tokens; both programs exact). Views now take no number.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np

from compiler.ir.errors import IRError
from compiler.ir.graph import Graph, Op
from compiler.ir.layout_eval import LAYOUT_EVALUATORS
from compiler.ir.ops import check_op
from compiler.ir.types import TensorType
from compiler.ir.passes import Pass
from compiler.passes.dce import eliminate_dead_ops
from compiler.passes.fold_constants import FoldConstants, fold_constants

# Ops that are a row-major reshape of their single operand (same element order).
RESHAPE_LIKE = ("reshape", "flatten", "squeeze", "unsqueeze")
# Ops that only move the elements of their single operand.
ELEMENT_MOVING = RESHAPE_LIKE + ("transpose",)


@dataclass
class RewriteContext:
    graph: Graph
    producers: dict

    def forward(self, op: Op, value) -> bool:
        """Use `value` wherever `op`'s result is used, unless the result is a graph output."""
        if op.result in self.graph.outputs or value.type != op.result.type:
            return False
        self.graph.replace_all_uses(op.result, value)
        return True


def _retarget(op: Op, kind: str, operand, attrs: dict) -> bool:
    """Make `op` be `kind(operand, attrs)` with the same result, if the op table accepts it."""
    try:
        check_op(kind, [operand.type], attrs, op.result.type)
    except IRError:
        return False
    op.kind, op.operands, op.attrs = kind, [operand], attrs
    return True


def compose_transposes(ctx: RewriteContext, op: Op) -> bool:
    # transpose(transpose(x, p), q) = transpose(x, [p[i] for i in q])
    if op.kind != "transpose":
        return False
    inner = ctx.producers.get(op.operands[0])
    if inner is None or inner.kind != "transpose":
        return False
    perm = tuple(inner.attrs["perm"][i] for i in op.attrs["perm"])
    return _retarget(op, "transpose", inner.operands[0], {"perm": perm})


def _keeps_element_order(chain: list[Op]) -> bool:
    """Whether applying `chain` (first op first) leaves the row-major element order unchanged.

    Tracked on an index array: the chain only moves elements, so it keeps their order exactly
    when the indices come out as 0, 1, 2, ... The answer depends only on the shapes and the
    ops' attributes, so it is computed once per distinct chain (every layer repeats the same).
    """
    source = chain[0].operands[0]
    return _chain_keeps_order(source.type, tuple((op.kind, tuple(sorted(op.attrs.items())), op.result.type)
                                                 for op in chain))


@functools.lru_cache(maxsize=1024)
def _chain_keeps_order(source: TensorType, steps: tuple) -> bool:
    indices = np.arange(source.num_elements, dtype=np.int64).reshape(source.shape)
    for kind, attrs, result_type in steps:
        indices = LAYOUT_EVALUATORS[kind]([indices], dict(attrs), result_type)
    return bool(np.array_equal(indices.reshape(-1), np.arange(source.num_elements)))


def collapse_layout_chain(ctx: RewriteContext, op: Op) -> bool:
    # chain of reshapes/transposes ending in op that keeps row-major order = reshape(chain input)
    if op.kind not in ELEMENT_MOVING:
        return False
    chain = [op]
    while (inner := ctx.producers.get(chain[0].operands[0])) is not None and inner.kind in ELEMENT_MOVING:
        chain.insert(0, inner)
    for start in range(len(chain)):  # the longest chain first
        source = chain[start].operands[0]
        if op.kind == "reshape" and op.operands[0] is source:
            return False  # already the reshape this rule would make
        if _keeps_element_order(chain[start:]) and _retarget(op, "reshape", source, {}):
            return True
    return False


def drop_noop_reshape(ctx: RewriteContext, op: Op) -> bool:
    # reshape-like(x) whose result type is x's type = x
    if op.kind not in RESHAPE_LIKE:
        return False
    return ctx.forward(op, op.operands[0])


RULES: tuple[Callable[[RewriteContext, Op], bool], ...] = (
    compose_transposes,
    collapse_layout_chain,
    drop_noop_reshape,
)


def apply_rules(graph: Graph) -> list[tuple[str, Op]]:
    """One sweep of every rule over every op; returns (rule name, op) for each rewrite."""
    ctx = RewriteContext(graph, graph.producers())
    applied = []
    for op in graph.ops:
        for rule in RULES:
            if rule(ctx, op):
                applied.append((rule.__name__, op))
    return applied


@dataclass(frozen=True)
class Canonicalize(Pass):
    """Simplify layout chains, fold constant layout ops and remove dead ops, to a fixpoint."""

    name = "canonicalize"
    max_iterations: int = 100

    def __post_init__(self):
        if self.max_iterations < 1:
            raise ValueError(f"max-iterations must be >= 1, got {self.max_iterations}")

    def apply(self, graph: Graph) -> None:
        for iteration in range(1, self.max_iterations + 1):
            rewrites = apply_rules(graph)
            folded = fold_constants(graph, FoldConstants().max_elements)
            removed = eliminate_dead_ops(graph)
            for rule, op in rewrites:
                self.log.debug("%s: %s", rule, op.describe())
            for op in folded:
                self.log.debug("folded %s", op.describe())
            self.log.debug("iteration %d: %d rewrites, %d folds, %d dead ops removed",
                           iteration, len(rewrites), len(folded), len(removed))
            if not (rewrites or folded or removed):
                return
        raise IRError(f"canonicalize did not reach a fixpoint in {self.max_iterations} iterations")
