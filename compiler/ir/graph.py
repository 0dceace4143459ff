"""The IR's data structure: `Value`, `Op`, `Graph`, and the builder methods to create them.

A `Graph` is a list of ops in topological order, named graph inputs, and graph outputs (values).
Every op has exactly one result `Value`; every value (graph input or op result) has a name that
is unique in its graph. Values compare by identity, so dictionaries keyed by `Value` are safe.

The builder methods (`add_input`, `add_op`, `add_const`) keep names unique (a taken name gets
a `_1`, `_2`, ... suffix) and fill in the result type from the op table's inference rule when
the caller gives none. Checking the whole graph against the op table is `verify()`
(`compiler.ir.verifier`); the builder checks only what it needs to build.
"""

from __future__ import annotations

from typing import Any, Iterable, Protocol, Sequence

import numpy as np

from compiler.ir.errors import IRError
from compiler.ir.ops import infer_result_type, normalize_attrs, normalize_input_attrs
from compiler.ir.types import Quant, TensorType


class Value:
    """A named SSA value: a graph input or the result of one op."""

    __slots__ = ("name", "type")

    def __init__(self, name: str, type: TensorType):
        self.name = name
        self.type = type

    def __repr__(self) -> str:
        return f"Value(%{self.name}: {self.type})"


class Op:
    """One operation: `kind` (a name in the op table), operand values, attributes, one result.

    `attrs` maps attribute names to Python values: int, float (exactly float32), str, tuples of
    ints or floats, or numpy arrays. `loc` is the tuple of ONNX node names the op came from.
    """

    __slots__ = ("kind", "operands", "attrs", "result", "loc")

    def __init__(self, kind: str, operands: Sequence[Value], attrs: dict[str, Any], result: Value,
                 loc: Sequence[str] = ()):
        self.kind = kind
        self.operands = list(operands)
        self.attrs = dict(attrs)
        self.result = result
        self.loc = tuple(loc)

    def describe(self) -> str:
        """How error messages name this op: kind, result name and ONNX location."""
        return describe_op(self.kind, self.result.name, self.loc)

    def __repr__(self) -> str:
        return f"Op({self.describe()})"


def describe_op(kind: str, result_name: str, loc: Sequence[str]) -> str:
    """`op 'kind' %result (loc 'node')`: how every error message names an op."""
    where = f" (loc {', '.join(repr(n) for n in loc)})" if loc else ""
    return f"op '{kind}' %{result_name}{where}"


def _as_locs(loc: str | Sequence[str] | None) -> tuple[str, ...]:
    if loc is None:
        return ()
    if isinstance(loc, str):
        return (loc,)
    return tuple(loc)


class MachineLevel(Protocol):
    """What the pass manager needs of a graph's machine-level program
    (`compiler.codegen.machine.MachineProgram`; the IR does not depend on codegen)."""

    def to_text(self) -> str: ...

    def verify(self) -> None: ...


class Graph:
    """A named graph: inputs, ops in topological order, outputs."""

    def __init__(self, name: str):
        self.name = name
        self.inputs: list[Value] = []
        self.ops: list[Op] = []
        self.outputs: list[Value] = []
        # backend annotations of graph inputs (ops.ANNOTATIONS), only for inputs that have any
        self.input_attrs: dict[Value, dict[str, Any]] = {}
        # the machine-level program once `select-instructions` lowered the graph (see
        # `MachineLevel`); the ops stay as they were, for reading, but no IR pass may run any more
        self.machine: MachineLevel | None = None
        self._taken_names: set[str] = set()

    # ---- names -------------------------------------------------------------------------------

    def fresh_name(self, hint: str) -> str:
        """`hint` if no value of this graph has that name yet, else `hint_1`, `hint_2`, ..."""
        hint = hint or "v"
        if hint not in self._taken_names:
            return hint
        n = 1
        while f"{hint}_{n}" in self._taken_names:
            n += 1
        return f"{hint}_{n}"

    def _new_value(self, hint: str, type: TensorType) -> Value:
        value = Value(self.fresh_name(hint), type)
        self._taken_names.add(value.name)
        return value

    def refresh_names(self) -> None:
        """Recompute the set of taken names after ops were removed or values renamed."""
        self._taken_names = {v.name for v in self.inputs} | {op.result.name for op in self.ops}

    # ---- building ----------------------------------------------------------------------------

    def add_input(self, name: str, type: TensorType, attrs: dict[str, Any] | None = None) -> Value:
        """A new graph input, optionally annotated; its name is kept exactly (a taken name is an error)."""
        if name in self._taken_names:
            raise IRError(f"graph input %{name}: the name is already used in graph @{self.name}")
        value = self._new_value(name, type)
        self.inputs.append(value)
        if attrs:
            self.input_attrs[value] = normalize_input_attrs(attrs)
        return value

    def make_op(self, kind: str, operands: Sequence[Value], result_type: TensorType | None = None,
                attrs: dict[str, Any] | None = None, loc: str | Sequence[str] | None = None,
                name: str | None = None) -> Op:
        """A new op with a fresh result value, not yet placed in the op list.

        Without `result_type` the op table's inference rule computes it (an op whose result
        type depends on more than its operands, e.g. `quantize`, needs an explicit type).
        """
        locs = _as_locs(loc)
        try:
            attrs = normalize_attrs(kind, attrs or {})
            if result_type is None:
                result_type = infer_result_type(kind, [v.type for v in operands], attrs)
        except IRError as err:
            raise IRError(f"{describe_op(kind, self.fresh_name(name or kind), locs)}: {err}") from None
        result = self._new_value(name or kind, result_type)
        return Op(kind, operands, attrs, result, locs)

    def add_op(self, kind: str, operands: Sequence[Value], result_type: TensorType | None = None,
               attrs: dict[str, Any] | None = None, loc: str | Sequence[str] | None = None,
               name: str | None = None) -> Value:
        """Append a new op (see `make_op`) and return its result value."""
        op = self.make_op(kind, operands, result_type, attrs, loc, name)
        self.ops.append(op)
        return op.result

    def add_const(self, value: np.ndarray, quant: Quant | None = None,
                  loc: str | Sequence[str] | None = None, name: str | None = None) -> Value:
        """Append a `const` op holding a copy of `value` (dtype and shape give its type)."""
        array = np.array(value, copy=True, order="C")
        array.flags.writeable = False
        return self.add_op("const", [], TensorType.of_array(array, quant), {"value": array}, loc,
                           name or "const")

    def set_outputs(self, values: Iterable[Value]) -> None:
        self.outputs = list(values)

    # ---- queries and rewrites used by passes ---------------------------------------------------

    def producers(self) -> dict[Value, Op]:
        """Each op result -> the op producing it."""
        return {op.result: op for op in self.ops}

    def users(self) -> dict[Value, list[Op]]:
        """Each value -> the ops using it as an operand, in op order (repeats when used twice)."""
        uses: dict[Value, list[Op]] = {v: [] for v in self.inputs}
        for op in self.ops:
            uses.setdefault(op.result, [])
            for operand in op.operands:
                uses.setdefault(operand, []).append(op)
        return uses

    def replace_all_uses(self, old: Value, new: Value) -> None:
        """Make every operand and graph output that is `old` be `new` instead."""
        for op in self.ops:
            if old in op.operands:  # values compare by identity
                op.operands = [new if v is old else v for v in op.operands]
        self.outputs = [new if v is old else v for v in self.outputs]

    def values(self) -> list[Value]:
        """Graph inputs then op results, in definition order."""
        return self.inputs + [op.result for op in self.ops]

    def verify(self) -> None:
        """Check the whole graph (SSA, names, op table rules); raises `IRError`."""
        from compiler.ir.verifier import verify  # the verifier imports this module


        verify(self)

    def __repr__(self) -> str:
        return f"Graph(@{self.name}: {len(self.inputs)} inputs, {len(self.ops)} ops, {len(self.outputs)} outputs)"
