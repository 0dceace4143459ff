"""Layout folding: where every IR value lives in DRAM, so layout ops cost no instructions.

Every value gets a `Placement`: a DRAM buffer and a `DramView` of it (addresses relative to the
buffer's start until the memory plan places the buffer).
- Graph inputs, graph outputs, constants and compute-op results own a buffer (row-major).
- A layout op's result is a view of its operand (reshape, transpose, squeeze, unsqueeze,
  flatten, slice, gather with constant indices that form a progression): no data moves.
- Backward placement: a compute-op result whose only use is a chain of invertible layout ops
  (transpose, reshape family) is stored directly in the layout the chain's end needs, e.g. the
  per-head attention output is written with the row stride of the merged (tokens x heads*dim)
  matrix, and the patch-embedding result lands in its slot of the embedding concat.
- Concat: the result owns a buffer; each operand is placed in its slot when it can be (as
  above), otherwise a `Copy` (DMA through the scratchpad) is emitted at the concat.
- A layout op whose result no view can express is materialised by a `Copy` into a new buffer.

Each op's decision is one of `LAYOUT_DECISIONS`: `own` (a row-major buffer of its own), `view`
(a layout op folded into addressing), `copy` (a layout op materialised by a `Copy`),
`operand-order` (an elementwise result stored in its operand's memory order), `backward` (written
in the layout of the single-use layout chain after it, or into its concat slot). The
`fold-layout` pass records them as `layout` attributes (`layout_decisions`); `plan_layout`
follows a recorded decision (an error naming the op when it can no longer be carried out) and
decides only for ops that have none, so every later stage reads what the pass recorded.

Invariants: a buffer is written only by the op that produces a value placed in it (or a copy
emitted at the op that needs it); every view lies within its buffer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from compiler.codegen.dram_view import DramView
from compiler.ir.graph import Graph, Op, Value
from isa.errors import VitcError

LAYOUT_OPS = ("reshape", "transpose", "gather", "slice", "concat", "squeeze", "unsqueeze", "flatten")
ELEMENTWISE_OPS = ("table", "quantize", "dequantize", "qadd", "qmul")  # same-shape operands: any element order
INVERTIBLE_OPS = ("reshape", "transpose", "squeeze", "unsqueeze", "flatten")
LAYOUT_DECISIONS = ("own", "view", "copy", "operand-order", "backward")
ESIZE = {"f32": 4, "i8": 1, "u8": 1, "i32": 4, "i64": 8}
IO_DTYPES = {"f32": "float32", "i8": "int8", "u8": "uint8", "i32": "int32", "i64": "int64"}


@dataclass(eq=False)
class Buffer:
    name: str
    nbytes: int
    kind: str  # "input", "output", "activation", "const"
    array: np.ndarray | None = None  # const only: its value
    value: Value | None = None  # the I/O value of an input/output buffer
    first: int = 0  # op index of the first write (inputs: -1)
    last: int = 0  # op index of the last read (outputs: past the end)
    addr: int | None = None  # set by the memory plan

    def const_bytes(self) -> bytes:
        """A constant's bytes in DRAM (row-major, little-endian). Made when asked, not with the
        plan: several passes plan the layout, and vit-base's constants are 87 MB."""
        return self.array.astype(self.array.dtype.newbyteorder("<"), copy=False).tobytes()


@dataclass
class Placement:
    buffer: Buffer
    view: DramView  # relative to the buffer's start

    def absolute(self) -> DramView:
        if self.buffer.addr is None:
            raise VitcError(f"codegen: buffer {self.buffer.name!r} has no DRAM address yet")
        return DramView(self.view.addr + self.buffer.addr, self.view.esize, self.view.axes)


@dataclass
class Copy:
    """Move `src` to `dst` (same shape) through the scratchpad (emitted at the op that owns
    it in `LayoutPlan.copies`)."""

    src: Placement
    dst: Placement


@dataclass
class LayoutPlan:
    placements: dict[Value, Placement] = field(default_factory=dict)
    copies: dict[Op, list[Copy]] = field(default_factory=dict)
    buffers: list[Buffer] = field(default_factory=list)

    def __getitem__(self, value: Value) -> Placement:
        return self.placements[value]


def plan_layout(graph: Graph) -> LayoutPlan:
    plan = LayoutPlan()
    users = graph.users()
    outputs = set(graph.outputs)
    index = {op: i for i, op in enumerate(graph.ops)}

    def new_buffer(value: Value, kind: str, array: np.ndarray | None = None) -> Placement:
        t = value.type
        buffer = Buffer(value.name, ESIZE[t.dtype] * math.prod(t.shape), kind, array, value)
        plan.buffers.append(buffer)
        return Placement(buffer, DramView.contiguous(0, t.shape, ESIZE[t.dtype]))

    for value in graph.inputs:
        plan.placements[value] = new_buffer(value, "input")
    # Backward placement first: results stored in the layout their consumer chain needs.
    concat_slots = _concat_slots(graph, plan, new_buffer, outputs)
    for op in graph.ops:
        result = op.result
        if result in plan.placements:
            continue
        recorded = _recorded(op)
        if op.kind == "const":
            plan.placements[result] = new_buffer(result, "const", op.attrs["value"])
        elif op.kind in LAYOUT_OPS:
            plan.placements[result] = _forward(op, plan, new_buffer, outputs, recorded)
        elif result in outputs or recorded == "own":
            _expect(op, recorded, ("own",))
            plan.placements[result] = new_buffer(result, "output" if result in outputs else "activation")
        elif recorded == "operand-order" or (recorded is None and _follows_operand_order(op, plan)):
            if not _follows_operand_order(op, plan):
                raise VitcError(f"{op.describe()}: layout 'operand-order' recorded, but it is not an elementwise op "
                                f"on an operand stored in a permuted order")
            plan.placements[result] = _in_operand_order(op, plan, new_buffer)
        else:
            _expect(op, recorded, ("backward",))
            placed = _place_backward(result, users, outputs, concat_slots, new_buffer)
            if recorded == "backward" and placed[result].buffer.value is result:
                raise VitcError(f"{op.describe()}: layout 'backward' recorded, but no single-use layout chain or "
                                f"concat slot after it can take its result any more: run fold-layout again")
            plan.placements.update(placed)
    for concat, copies in concat_slots.pending_copies(plan).items():
        plan.copies.setdefault(concat, []).extend(copies)
    _check_outputs(graph, plan, new_buffer)
    _liveness(graph, plan, index)
    return plan


def layout_decisions(graph: Graph, plan: LayoutPlan) -> dict[Op, str]:
    """Each non-constant op's decision in `plan` (what `fold-layout` records)."""
    decisions = {}
    for op in graph.ops:
        if op.kind == "const":
            continue
        placement = plan[op.result]
        if op.kind == "concat":
            decisions[op] = "own"
        elif op.kind in LAYOUT_OPS:
            copied = any(copy.dst.buffer is placement.buffer for copy in plan.copies.get(op, []))
            decisions[op] = "copy" if copied else "view"
        elif placement.buffer.value is not op.result:
            decisions[op] = "backward"
        else:
            decisions[op] = "own" if placement.view.is_contiguous() else "operand-order"
    return decisions


def _recorded(op: Op) -> str | None:
    return op.attrs.get("layout")


def _expect(op: Op, recorded: str | None, allowed: tuple[str, ...]) -> None:
    if recorded is not None and recorded not in allowed:
        raise VitcError(f"{op.describe()}: layout {recorded!r} recorded, but this op can only be "
                        f"{' or '.join(repr(a) for a in allowed)} here")


class _ConcatSlots:
    """Each concat's result buffer and the slot view of each of its operands."""

    def __init__(self):
        self.slot_of: dict[tuple[Op, int], Placement] = {}
        self.filled: set[tuple[Op, int]] = set()

    def pending_copies(self, plan: LayoutPlan) -> dict[Op, list[Copy]]:
        copies: dict[Op, list[Copy]] = {}
        for (op, position), slot in self.slot_of.items():
            if (op, position) not in self.filled:
                copies.setdefault(op, []).append(Copy(plan[op.operands[position]], slot))
        return copies


def _follows_operand_order(op: Op, plan: LayoutPlan) -> bool:
    """An elementwise op on a permuted view (e.g. a table applied to K^T): its result is stored
    in the operand's memory order, so operand and result tiles share one row/column order."""
    if op.kind not in ELEMENTWISE_OPS or any(v.type.shape != op.result.type.shape for v in op.operands):
        return False
    order = plan[op.operands[0]].view.physical_order()
    return order is not None and order != tuple(range(len(order)))


def _in_operand_order(op: Op, plan: LayoutPlan, new_buffer) -> Placement:
    order = plan[op.operands[0]].view.physical_order()
    own = new_buffer(op.result, "activation")
    shape = op.result.type.shape
    stored = DramView.contiguous(0, [shape[i] for i in order], own.view.esize)
    return Placement(own.buffer, stored.transpose([order.index(i) for i in range(len(order))]))


def _concat_slots(graph: Graph, plan: LayoutPlan, new_buffer, outputs) -> _ConcatSlots:
    slots = _ConcatSlots()
    for op in graph.ops:
        if op.kind != "concat":
            continue
        _expect(op, _recorded(op), ("own",))
        whole = new_buffer(op.result, "output" if op.result in outputs else "activation")
        plan.placements[op.result] = whole
        offset = 0
        for position, operand in enumerate(op.operands):
            length = operand.type.shape[op.attrs["axis"]]
            view = whole.view.narrow(op.attrs["axis"], offset, length)
            slots.slot_of[(op, position)] = Placement(whole.buffer, view)
            offset += length
    return slots


def _place_backward(value: Value, users, outputs, slots: _ConcatSlots, new_buffer) -> dict[Value, Placement]:
    """Placements for a compute result and the single-use invertible layout chain after it."""
    chain = [value]
    while True:
        last = chain[-1]
        uses = users.get(last, [])
        if last in outputs or len(uses) != 1:
            break
        (user,) = uses
        if user.kind == "concat" and user.operands.count(last) == 1:
            key = (user, user.operands.index(last))
            slots.filled.add(key)
            return _views_back(chain, slots.slot_of[key], new_buffer, users)
        if user.kind not in INVERTIBLE_OPS or _recorded(user) == "copy":
            break
        chain.append(user.result)
    return _views_back(chain, None, new_buffer, users, "output" if chain[-1] in outputs else "activation")


def _views_back(chain: list[Value], end: Placement | None, new_buffer, users,
                end_kind: str = "activation") -> dict[Value, Placement]:
    """Placements of `chain` (a compute result, then the layout ops after it) in `end`, or in a
    new row-major buffer of the chain's last value (`end_kind`) when `end` is None; when the
    chain cannot be undone, the compute result alone in a buffer of its own (and no other
    buffer is made)."""
    last = chain[-1].type
    view = end.view if end is not None else DramView.contiguous(0, last.shape, ESIZE[last.dtype])
    views = {chain[-1]: view}
    for later, earlier in zip(reversed(chain), reversed(chain[:-1])):
        producer = next(op for op in users[earlier] if op.result is later)
        view = _inverse(producer, view, earlier)
        if view is None:  # the chain cannot be undone: store the compute result on its own
            return {chain[0]: new_buffer(chain[0], "activation")}
        views[earlier] = view
    if not _storable(views[chain[0]]):  # the compute op could not write that layout
        return {chain[0]: new_buffer(chain[0], "activation")}
    buffer = (end if end is not None else new_buffer(chain[-1], end_kind)).buffer
    return {value: Placement(buffer, view) for value, view in views.items()}


def _storable(view: DramView) -> bool:
    """Whether a compute op can store its result tiles straight into `view`: every row's
    columns one contiguous run."""
    cols = view.matrix_cols()
    return len(cols) == 1 and (cols[0][1] == 1 or cols[0][0] == 1)


def _inverse(op: Op, view: DramView, operand: Value) -> DramView | None:
    if op.kind == "transpose":
        perm = op.attrs["perm"]
        return view.transpose([perm.index(i) for i in range(len(perm))])
    return view.reshape(operand.type.shape)


def _forward(op: Op, plan: LayoutPlan, new_buffer, outputs, recorded: str | None) -> Placement:
    _expect(op, recorded, ("view", "copy"))
    source = plan[op.operands[0]]
    view = _forward_view(op, source.view, plan)
    if view is None:
        raise VitcError(f"{op.describe()}: this layout change cannot be expressed as DMA addressing")
    if op.result in outputs and recorded == "view":
        raise VitcError(f"{op.describe()}: layout 'view' recorded, but a graph output needs a buffer of its own ('copy')")
    if op.result not in outputs and recorded != "copy":
        return Placement(source.buffer, view)
    # a graph output is stored row-major in its own buffer
    own = new_buffer(op.result, "output" if op.result in outputs else "activation")
    plan.copies.setdefault(op, []).append(Copy(Placement(source.buffer, view), own))
    return own


def _forward_view(op: Op, view: DramView, plan: LayoutPlan) -> DramView | None:
    kind, attrs, shape = op.kind, op.attrs, op.result.type.shape
    if kind == "transpose":
        return view.transpose(attrs["perm"])
    if kind in ("reshape", "squeeze", "unsqueeze", "flatten"):
        return view.reshape(shape)
    if kind == "slice":
        for axis, (start, end, step) in enumerate(zip(attrs["starts"], attrs["ends"], attrs["steps"])):
            length = len(range(start, end, step))
            if (start, length, step) == (0, view.shape[axis], 1):
                continue
            if step <= 0 or view is None:
                return None
            view = view.narrow(axis, start, length, step)
        return view
    if kind == "gather":
        return _gather_view(op, view, plan)
    raise VitcError(f"{op.describe()}: no view rule for layout op {kind!r}")


def _gather_view(op: Op, view: DramView, plan: LayoutPlan) -> DramView | None:
    indices_op = plan[op.operands[1]].buffer
    if indices_op.kind != "const":
        raise VitcError(f"{op.describe()}: gather indices must be constant")
    axis = op.attrs["axis"]
    indices = np.asarray(indices_op.array, np.int64).reshape(op.operands[1].type.shape)
    if indices.ndim == 0:
        return view.select(axis, int(indices))
    flat = indices.ravel()
    steps = np.diff(flat)
    if flat.size and (steps.size == 0 or (np.all(steps == steps[0]) and steps[0] > 0)):
        step = int(steps[0]) if steps.size else 1
        narrowed = view.narrow(axis, int(flat[0]), flat.size, step)
        return None if narrowed is None else narrowed.reshape(op.result.type.shape)
    return None


def _check_outputs(graph: Graph, plan: LayoutPlan, new_buffer) -> None:
    for value in graph.outputs:
        placement = plan[value]
        if placement.buffer.kind != "output" or not placement.view.is_contiguous() or placement.buffer.value is not value:
            raise VitcError(f"graph output %{value.name}: not produced into its own buffer (an input or constant as output)")


def _liveness(graph: Graph, plan: LayoutPlan, index: dict) -> None:
    """Each buffer's first write and last read, in op indices."""
    end = len(graph.ops)
    touched: dict[int, list[int]] = {}
    by_buffer = {id(b): b for b in plan.buffers}
    for op in graph.ops:
        i = index[op]
        for value in [op.result, *op.operands]:
            if value in plan.placements:
                touched.setdefault(id(plan[value].buffer), []).append(i)
        for copy in plan.copies.get(op, []):
            touched.setdefault(id(copy.src.buffer), []).append(i)
            touched.setdefault(id(copy.dst.buffer), []).append(i)
    for key, ops in touched.items():
        buffer = by_buffer[key]
        buffer.first, buffer.last = min(ops), max(ops)
    for buffer in plan.buffers:
        if buffer.kind == "input":
            buffer.first = -1
        if buffer.kind == "output":
            buffer.last = end
