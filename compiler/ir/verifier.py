"""The IR verifier: checks a whole `Graph` and raises `IRError` naming the op and value at fault.

Rules, in the order they are checked:
- every value name (graph inputs and op results) is unique and non-empty;
- graph-input annotations are backend annotations (`ops.ANNOTATIONS`) with valid values;
- ops are in topological order: each operand is a graph input or the result of an earlier op
  of the same graph (SSA: defined once, before every use);
- every op satisfies its op table entry (`compiler.ir.ops.check_op`): operand count and dtypes,
  attributes, and its result type rule;
- every graph output is a value of the graph, and the graph has at least one output.
The first broken rule is reported; a message starts with the op (`op 'qmatmul' %y (loc 'n')`)
or the value it is about.
"""

from __future__ import annotations

from compiler.ir.errors import IRError
from compiler.ir.graph import Graph, Op, Value
from compiler.ir.ops import ANNOTATIONS, check_attrs, check_op


def _check_names(graph: Graph) -> None:
    seen: set[str] = set()
    for value in graph.values():
        if not value.name:
            raise IRError(f"graph @{graph.name}: a value has an empty name ({value!r})")
        if value.name in seen:
            raise IRError(f"graph @{graph.name}: value name %{value.name} is defined twice")
        seen.add(value.name)


def _check_operands_defined(op: Op, defined: set[Value], all_results: set[Value]) -> None:
    for i, operand in enumerate(op.operands):
        if operand in defined:
            continue
        if operand in all_results:
            raise IRError(f"{op.describe()}: operand {i} %{operand.name} is used before the op "
                          f"that defines it (ops are not in topological order)")
        raise IRError(f"{op.describe()}: operand {i} %{operand.name} is not a value of this graph")


def verify_op(op: Op) -> None:
    """The op-local rules of the op table for one op; the message names the op."""
    try:
        check_op(op.kind, [v.type for v in op.operands], op.attrs, op.result.type)
    except IRError as err:
        raise IRError(f"{op.describe()}: {err}") from None


def _check_input_attrs(graph: Graph) -> None:
    for value, attrs in graph.input_attrs.items():
        if value not in graph.inputs:
            raise IRError(f"graph @{graph.name}: annotations for %{value.name}, which is not a graph input")
        try:
            check_attrs(ANNOTATIONS, attrs)
        except IRError as err:
            raise IRError(f"graph input %{value.name}: {err}") from None


def verify(graph: Graph) -> None:
    """Check every rule above; raises `IRError` at the first broken one."""
    _check_names(graph)
    _check_input_attrs(graph)
    all_results = {op.result for op in graph.ops}
    defined: set[Value] = set(graph.inputs)
    for op in graph.ops:
        _check_operands_defined(op, defined, all_results)
        verify_op(op)
        defined.add(op.result)
    if not graph.outputs:
        raise IRError(f"graph @{graph.name} has no outputs")
    for value in graph.outputs:
        if value not in defined:
            raise IRError(f"graph @{graph.name}: output %{value.name} is not a value of this graph")
