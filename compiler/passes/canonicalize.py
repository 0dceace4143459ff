"""Canonicalization: simplify layout chains, fold constants, remove dead ops, until nothing changes.

Canonical form of layout: two transposes in a row become one; a chain of reshapes and transposes
that keeps the row-major element order (e.g. the patch embedding's NHWC -> NCHW -> tokens dance)
becomes one `reshape`; a reshape to its operand's own type disappears; a reshape read by an op
that works element by element (or along trailing axes the reshape keeps) sinks below that op,
so elementwise chains read the result of the op before them directly. The last is what the
models pre-processed by onnxruntime's quant_pre_process need: their Gemm sits between
a reshape to rows and a reshape back, and `fuse-elementwise` chains only ops that read a
result directly; sunk, each reshape meets the one going the other way and both vanish.

The rewrite rules are data (`RULES`): each is a function trying to rewrite one op in place,
returning True when it changed something. A rule edits the op (keeping its result value, hence
its name and type), or forwards the op's result to an existing value, or (`sink_reshape`) makes
the op the reshape of a new op it places right before it; a result that is a graph output is
never forwarded (graph output names are the model's output names).
Every rewrite is checked against the op table before it is kept, so a rule never breaks a type.
After the rules, `fold-constants` (with its default size limit) and `dce` run; the whole repeats to a fixpoint.

A reshape sinks only below the op that is its only reader, only when a reshape back to its
operand's shape reads that op's result (directly or through more ops it could sink below), so
sinking removes reshapes and never just moves one, and only when each other operand of the op
either broadcasts along trailing axes the reshape keeps, or is itself a reshape from the same
shape, or is older (defined earlier in the graph) than the reshape's operand: the reshape the
rule then puts on that operand can never sink back, so the rules terminate.

In the default backend pipeline (after `dce`), it changes no binary of the zoo's vit-micro
variants that are not pre-processed. It once did: `select-instructions` numbered every op,
layout views included, and consecutive numbers alternated the on-chip halves (since then,
arenas that follow each other around a ring), so collapsing the patch embedding's four layout
ops into one reshape flipped the halves of every later op (the same instructions on other
on-chip addresses, hence other tokens; both programs exact). Views now take no number.
"""

from __future__ import annotations

import functools
import math
import re
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
# Ops computing each result element from the operand elements at the same index (numpy
# broadcasting), whatever the shape, when every quantization is per tensor.
ELEMENTWISE = ("quantize", "dequantize", "table", "qadd", "qmul",
               "add", "sub", "mul", "div", "pow", "sqrt", "erf", "tanh", "exp")
# Ops working along the axes from their `axis` attribute to the last, the same on any leading axes.
TRAILING_AXES = ("layernorm", "softmax", "qsoftmax")
# The suffix `sink_reshape` gives a value it moves to another shape (`_197x192`).
SHAPE_SUFFIX = re.compile(r"_\d+(?:x\d+)+$")


@dataclass
class RewriteContext:
    graph: Graph
    producers: dict
    position: dict  # value -> index of its op in the graph at the start of the sweep (inputs: -1)
    users: dict  # value -> the ops reading it at the start of the sweep

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

    Reshapes alone always do. Otherwise it is tracked on an index array: the chain only moves
    elements, so it keeps their order exactly when the indices come out as 0, 1, 2, ... The
    answer depends only on the shapes and the ops' attributes (not on dtypes or quantization),
    so it is computed once per distinct chain (every layer repeats the same).
    """
    if all(op.kind in RESHAPE_LIKE for op in chain):
        return True
    return _chain_keeps_order(chain[0].operands[0].type.shape,
                              tuple((op.kind, tuple(sorted(op.attrs.items())), op.result.type.shape) for op in chain))


@functools.lru_cache(maxsize=1024)
def _chain_keeps_order(source_shape: tuple[int, ...], steps: tuple) -> bool:
    count = math.prod(source_shape)
    indices = np.arange(count, dtype=np.int64).reshape(source_shape)
    for kind, attrs, result_shape in steps:
        indices = LAYOUT_EVALUATORS[kind]([indices], dict(attrs), TensorType("i64", result_shape))
    return bool(np.array_equal(indices.reshape(-1), np.arange(count)))


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


def sink_reshape(ctx: RewriteContext, op: Op) -> bool:
    # op(reshape(x), y) = reshape(op(x, reshape'(y))) when op works element by element (or along
    # trailing axes the reshape keeps) and every quantization is per tensor
    if op.kind not in ELEMENTWISE + TRAILING_AXES or not _per_tensor(op.result):
        return False
    for reshape in [ctx.producers.get(v) for v in op.operands]:
        if reshape is not None and reshape.kind == "reshape" and _sink(ctx, op, reshape):
            return True
    return False


def _sink(ctx: RewriteContext, op: Op, reshape: Op) -> bool:
    """Make `op` the reshape of the op it was, applied to `reshape`'s operand; False if not allowed."""
    source, shape = reshape.operands[0], reshape.result.type.shape
    if (op.result.type.shape != shape or reshape.result in ctx.graph.outputs
            or ctx.users.get(reshape.result) != [op]  # as the sweep started: the next sweep sees any change
            or not _meets_reshape_back(ctx, op.result, shape, source.type.shape, set())):
        return False
    attrs = _attrs_in_shape(op, shape, source.type.shape)
    operands = [_operand_in_shape(ctx, v, reshape) for v in op.operands]
    if attrs is None or None in operands:
        return False
    new_shape = source.type.shape
    try:
        check_op(op.kind, [v.type.with_shape(new_shape) if needs_reshape else v.type for v, needs_reshape in operands],
                 attrs, op.result.type.with_shape(new_shape))
    except IRError:
        return False
    if [user for user in ctx.graph.ops if reshape.result in user.operands] != [op]:  # still the only reader
        return False
    graph, at = ctx.graph, ctx.graph.ops.index(op)
    new_ops = [graph.make_op("reshape", [v], v.type.with_shape(new_shape), {}, reshape.loc, _shaped_name(v.name, new_shape))
               for v, needs_reshape in operands if needs_reshape]
    reshaped = iter(new_ops)
    moved = graph.make_op(op.kind, [next(reshaped).result if needs_reshape else v for v, needs_reshape in operands],
                          op.result.type.with_shape(new_shape), attrs, op.loc, _shaped_name(op.result.name, new_shape))
    new_ops.append(moved)
    graph.ops[at:at] = new_ops
    ctx.producers.update((new.result, new) for new in new_ops)
    op.kind, op.operands, op.attrs, op.loc = "reshape", [moved.result], {}, reshape.loc
    return True


def _meets_reshape_back(ctx: RewriteContext, value, shape: tuple[int, ...], source_shape: tuple[int, ...],
                        seen: set) -> bool:
    """Whether a reshape of `value` back to `source_shape` reads it, or reads the result of ops
    the reshape could sink below from there: sinking then removes reshapes instead of moving
    one (below a dequantize before a concat, say, it would only change which ops fuse)."""
    for user in ctx.users.get(value, ()):
        if user.kind == "reshape" and user.result.type.shape == source_shape:
            return True
        if user.kind in ELEMENTWISE + TRAILING_AXES and user.result.type.shape == shape and user not in seen:
            seen.add(user)
            if _meets_reshape_back(ctx, user.result, shape, source_shape, seen):
                return True
    return False


def _per_tensor(value) -> bool:
    return value.type.quant is None or value.type.quant.per_tensor


def _shaped_name(name: str, shape: tuple[int, ...]) -> str:
    """`name` with the shape its value now has as suffix (replacing one this rule gave it before)."""
    return f"{SHAPE_SUFFIX.sub('', name)}_{'x'.join(map(str, shape))}"


def _attrs_in_shape(op: Op, shape: tuple[int, ...], new_shape: tuple[int, ...]) -> dict | None:
    """`op`'s attributes for operands of `new_shape` instead of `shape` (the same elements in
    row-major order), or None when the op's meaning depends on axes the reshape does not keep."""
    if op.kind not in TRAILING_AXES:
        return dict(op.attrs)
    trailing = shape[op.attrs["axis"]:]
    if not _ends_with(new_shape, trailing):
        return None
    return {**op.attrs, "axis": len(new_shape) - len(trailing)}


def _ends_with(shape: tuple[int, ...], trailing: tuple[int, ...]) -> bool:
    return bool(trailing) and len(shape) >= len(trailing) and shape[len(shape) - len(trailing):] == trailing


def _operand_in_shape(ctx: RewriteContext, value, reshape: Op) -> tuple | None:
    """What stands for operand `value` once the op reads `reshape`'s operand instead of its
    result: (a value, whether it needs a reshape to that operand's shape first), or None when
    the rule may not use it (see the module docstring)."""
    source = reshape.operands[0]
    shape, new_shape = reshape.result.type.shape, source.type.shape
    if not _per_tensor(value):
        return None
    if value is reshape.result:
        return source, False
    if value.type.shape != shape:  # broadcast along trailing axes (leading 1s aside) the reshape keeps
        kept = value.type.shape[next((i for i, d in enumerate(value.type.shape) if d != 1), value.type.rank):]
        return (value, False) if not kept or (_ends_with(shape, kept) and _ends_with(new_shape, kept)) else None
    producer = ctx.producers.get(value)
    if producer is not None and producer.kind == "reshape" and producer.operands[0].type.shape == new_shape:
        return producer.operands[0], False
    position, source_position = ctx.position.get(value), ctx.position.get(source)
    if position is None or source_position is None or position >= source_position:
        return None
    return value, True


RULES: tuple[Callable[[RewriteContext, Op], bool], ...] = (
    compose_transposes,
    collapse_layout_chain,
    drop_noop_reshape,
    sink_reshape,
)


def apply_rules(graph: Graph) -> list[tuple[str, Op]]:
    """One sweep of every rule over every op (those there at its start); returns (rule name, op)
    for each rewrite."""
    position = {value: -1 for value in graph.inputs} | {op.result: i for i, op in enumerate(graph.ops)}
    ctx = RewriteContext(graph, graph.producers(), position, graph.users())
    applied = []
    for op in list(graph.ops):
        for rule in RULES:
            if rule(ctx, op):
                applied.append((rule.__name__, op))
    return applied


@dataclass(frozen=True)
class Canonicalize(Pass):
    """Simplify layout chains, sink reshapes to the reshape back, fold constants, remove dead ops, to a fixpoint."""

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
