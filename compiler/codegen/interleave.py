"""Interleaving the instructions of two consecutive layers, so one unit's work in one layer
overlaps another unit's work in the next (e.g. LayerNorm's vector work under the next matmul).

Every unit runs its queue in program order, so a program emitted layer after layer makes the
vector unit finish a whole LayerNorm before it requantises the first tile of the matmul that
follows, however early that matmul's data is ready. `interleave_tail` re-orders the last two
layers of a program: the instructions of the layer just emitted (N) are merged into the part of
the previous layer (P) not yet merged with the one before it (at most its last `TAIL`
instructions: the overlap is near the boundary, and the merge's cost grows with P), by list
scheduling:
- P's instructions keep their order, and so do N's;
- an N instruction goes after every P instruction it conflicts with (it reads what P writes,
  or writes what P reads or writes: overlapping on-chip rows or DRAM bytes, as declared), so
  the new order computes exactly what the old one did, and `tokens.py` orders the units for it;
- of the two candidates (P's next, N's next), the one that can start first goes first, by the
  cost of every instruction (`runtime_emulator.timing.cycles`, the emulator's own model) on an
  estimated timeline of the four units; ties keep program order (P first).

Invariants: the result is a permutation of the input that preserves the order of every pair of
conflicting instructions and of each layer's own instructions; it depends only on the
instructions (deterministic). The layers' on-chip buffers come from different halves
(`onchip.py`), so most of their instructions do not conflict.
"""

from __future__ import annotations

from compiler.codegen.program import Emitted
from isa.costs import cycles
from isa.table import load_table

UNITS = load_table().units
TAIL = 400  # instructions of the layer before that may move: the overlap is near the boundary


def interleave_tail(items: list[Emitted], new_start: int, config) -> None:
    """Merge items[new_start:] (the layer just emitted) into the unmerged tail of the layer
    before it, in place."""
    if new_start == 0 or new_start == len(items):
        return
    layer = items[new_start - 1].layer
    start = new_start
    while start > max(0, new_start - TAIL) and items[start - 1].layer == layer:
        start -= 1
    if any(item.unit not in UNITS for item in items[start:]):
        return  # a control instruction (halt) stays where it is
    merged = _merge(_runs(items[start:new_start], config), _runs(items[new_start:], config), config)
    items[start:] = [item for run in merged for item in run.items]


class _Run:
    """Consecutive instructions of one layer on one unit, scheduled as one: they run in this
    order on that unit whatever comes between them, so little is lost by keeping them together
    (the merge handles a few times fewer candidates). Accesses are the union of theirs."""

    def __init__(self, items: list[Emitted], config):
        self.items = items
        self.unit = items[0].unit
        self.reads = [access for item in items for access in item.reads]
        self.writes = [access for item in items for access in item.writes]
        self.cost = sum(cycles(item.mnemonic, item.fields, config) for item in items)


def _runs(items: list[Emitted], config) -> list[_Run]:
    runs, current = [], []
    for item in items:
        if current and item.unit != current[-1].unit:
            runs.append(_Run(current, config))
            current = []
        current.append(item)
    if current:
        runs.append(_Run(current, config))
    return runs


class _Intervals:
    """The accesses of a group of instructions on elementary intervals: every space's range
    bounds, sorted, cut it into pieces that each access covers entirely or not at all."""

    def __init__(self, items: list[_Run]):
        bounds: dict[str, set[int]] = {}
        for item in items:
            for space, lo, hi in (*item.reads, *item.writes):
                bounds.setdefault(space, set()).update((lo, hi))
        self.index: dict[tuple[str, int], int] = {}
        total = 0
        for space in sorted(bounds):
            for value in sorted(bounds[space]):
                self.index[space, value] = total
                total += 1
        self.size = total

    def pieces(self, accesses) -> list[tuple[int, int]]:
        """Each access as a range of piece indices (all spaces in one numbering)."""
        index = self.index
        return [(index[space, lo], index[space, hi]) for space, lo, hi in accesses]


def _latest(values: list[int], ranges, default: int) -> int:
    best = default
    for lo, hi in ranges:
        if hi > lo:
            latest = max(values[lo:hi])
            if latest > best:
                best = latest
    return best


def _raise(values: list[int], ranges, value: int) -> None:
    for lo, hi in ranges:
        values[lo:hi] = [v if v > value else value for v in values[lo:hi]]


def _assign(values: list[int], ranges, value: int) -> None:
    """`_raise` for a value no smaller than any stored one."""
    for lo, hi in ranges:
        values[lo:hi] = [value] * (hi - lo)


def _before(new_start: int, new_finish: int, old_start: int, old_finish: int, same_unit: bool) -> bool:
    """Whether the new layer's candidate goes first: on one unit, the one that finishes first;
    on different units, the one that starts first (ties: the old layer's, program order)."""
    if same_unit:
        return new_finish < old_finish
    return new_start < old_start


def _merge(previous: list[_Run], new: list[_Run], config) -> list[_Run]:
    everything = previous + new
    intervals = _Intervals(everything)
    reads = [intervals.pieces(run.reads) for run in everything]
    writes = [intervals.pieces(run.writes) for run in everything]
    touches = [r + w for r, w in zip(reads, writes)]
    units = [UNITS.index(run.unit) for run in everything]
    cost = [run.cost for run in everything]
    # For each N run: the last P run it must follow (-1: none).
    last_read, last_write = [-1] * intervals.size, [-1] * intervals.size
    for position in range(len(previous)):
        _assign(last_read, reads[position], position)
        _assign(last_write, writes[position], position)
    after = [max(_latest(last_write, touches[i], -1), _latest(last_read, writes[i], -1))
             for i in range(len(previous), len(everything))]
    # List scheduling on an estimated timeline. An instruction's data are ready once everything
    # it conflicts with has finished; only instructions it cannot pass are scheduled before it
    # changes that, so it is computed once, when the instruction first is a candidate.
    read_at, written_at = [0] * intervals.size, [0] * intervals.size
    unit_free = [0] * len(UNITS)
    data_ready = [-1] * len(everything)

    def start(index: int) -> int:
        if data_ready[index] < 0:
            data_ready[index] = max(_latest(written_at, touches[index], 0), _latest(read_at, writes[index], 0))
        return max(data_ready[index], unit_free[units[index]])

    order = []
    p, n, count = 0, 0, len(previous)
    while p < count or n < len(new):
        take_new = n < len(new) and after[n] < p
        if take_new and p < count:
            new_start, old_start = start(count + n), start(p)
            take_new = _before(new_start, new_start + cost[count + n], old_start, old_start + cost[p],
                               units[count + n] == units[p])
        index = count + n if take_new else p
        finish = start(index) + cost[index]
        unit_free[units[index]] = finish
        _raise(read_at, reads[index], finish)
        _raise(written_at, writes[index], finish)
        order.append(everything[index])
        if take_new:
            n += 1
        else:
            p += 1
    return order
