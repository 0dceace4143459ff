"""Interleaving the layers of a whole program, so one unit's work in one layer overlaps other
units' work in the next few (e.g. LayerNorm's vector work under the matmuls that follow it).

Every unit runs its queue in program order, so a program emitted layer after layer makes the
vector unit finish a whole LayerNorm before it requantises the first tile of the matmul that
follows, however early that matmul's data is ready. `interleave` re-orders the program by list
scheduling over a window of `window` layers (a layer here is a maximal stretch of consecutive
instructions with one layer id, so an already interleaved program is still handled correctly):
- the candidates are the next instruction of each of the oldest `window` layers not yet
  finished; each layer keeps its own order;
- a candidate may go only once every instruction it conflicts with that comes before it in
  program order has gone (it reads what that one writes, or writes what it reads or writes:
  overlapping on-chip rows or DRAM bytes, as declared), so the new order computes exactly
  what the old one did, and `tokens.py` orders the units for it;
- among the candidates, the one that can start first on an estimated timeline of the four
  units (every instruction costs `isa.costs.cycles`, the emulator's own model; an instruction
  starts when its unit is free and everything it conflicts with before it has finished) goes
  first, except that of the candidates on that one's unit the one that finishes first goes
  (a short job does not wait behind a long one); ties keep program order.
Consecutive instructions of one layer on one unit are scheduled as one run: they run in this
order on that unit whatever comes between them, and the scheduler handles several times fewer
candidates. A control instruction (`halt`) is a barrier: nothing moves across it.

Conflicts are found once, before scheduling, in program order: the accesses are cut into
elementary pieces (every space's access bounds, sorted), and two tables hold, per piece and per
(layer slot, unit), the last run that wrote it and the last run that read or wrote it (slot =
the layer's number modulo `window`; a slot's older values belong to layers that have left the
window, which are finished when they matter). One reduction per access gives, per layer slot
and unit, the latest earlier run a run conflicts with: those of other layers in the window are
what it waits for, and since a unit's runs finish in the order they are scheduled, the latest
one on each unit gives its estimated data-ready time. DRAM at or above `tracked_dram` (the
constant section: never written) orders nothing and is left out.

Invariants: the result is a permutation of the input that keeps the order of every pair of
conflicting instructions and of each layer's own instructions, and never moves an instruction
across a control instruction; it depends only on the instructions (deterministic).
"""

from __future__ import annotations

import numpy as np

from compiler.codegen.program import Access, Emitted
from isa.costs import cycles
from isa.table import load_table

UNITS = load_table().units
# per mnemonic, its enum fields' codes by name: lowerings write enum fields by name, the cost
# model reads codes (e.g. a DMA's `mem` decides its element size)
_ENUM_CODES = {spec.mnemonic: {f.name: f.code_by_name for f in spec.fields if f.kind == "enum"}
               for spec in load_table().instructions}
_UNIT_INDEX = {unit: index for index, unit in enumerate(UNITS)}
_UNIT_OF_MNEMONIC = {spec.mnemonic: _UNIT_INDEX.get(spec.unit) for spec in load_table().instructions}  # None: control


def interleave(items: list[Emitted], config, window: int, tracked_dram: int) -> list[Emitted]:
    """`items` re-ordered (see the module docstring); `window` >= 1 layers are in flight at once
    (1 keeps the program as it is)."""
    result, section = [], []
    for item in items:
        if _UNIT_OF_MNEMONIC[item.mnemonic] is not None:
            section.append(item)
            continue
        result += _interleave_section(section, config, window, tracked_dram)
        result.append(item)
        section = []
    return result + _interleave_section(section, config, window, tracked_dram)


class _Costs:
    """Each instruction's cycles (`isa.costs.cycles`), computed once per distinct instruction
    (a program repeats a few shapes many times). Lowerings write enum fields by name, the cost
    model reads codes (a DMA's `mem` decides its element size), so names become codes first."""

    def __init__(self, config):
        self.config = config
        self.known: dict[tuple, int] = {}

    def __call__(self, item: Emitted) -> int:
        key = (item.mnemonic, *item.fields.items())
        cost = self.known.get(key)
        if cost is None:
            fields = item.fields
            named = {name: codes[fields[name]] for name, codes in _ENUM_CODES[item.mnemonic].items()
                     if type(fields.get(name)) is str}
            cost = self.known[key] = cycles(item.mnemonic, {**fields, **named}, self.config)
        return cost


class _Runs:
    """The section's runs in program order: the instructions of each, its layer (numbered from 0
    in order), unit, cost and accesses as piece ranges (`_Pieces`); `layer_start[q]` is layer
    q's first run."""

    def __init__(self, items: list[Emitted], config, tracked_dram: int):
        self.items: list[list[Emitted]] = []
        self.layer: list[int] = []
        self.unit: list[int] = []
        self.cost: list[int] = []
        self.layer_start: list[int] = []
        reads: list[list[Access]] = []
        writes: list[list[Access]] = []
        cost_of = _Costs(config)
        unit_of = _UNIT_OF_MNEMONIC
        previous_layer = previous_unit = None
        for item in items:
            unit = unit_of[item.mnemonic]
            if item.layer == previous_layer and unit == previous_unit:
                self.items[-1].append(item)
                self.cost[-1] += cost_of(item)
                reads[-1] += item.reads
                writes[-1] += item.writes
                continue
            if item.layer != previous_layer:
                self.layer_start.append(len(self.items))
            self.items.append([item])
            self.layer.append(len(self.layer_start) - 1)
            self.unit.append(unit)
            self.cost.append(cost_of(item))
            reads.append(list(item.reads))
            writes.append(list(item.writes))
            previous_layer, previous_unit = item.layer, unit
        self.layer_start.append(len(self.items))
        pieces = _Pieces(items, tracked_dram)
        self.pieces = pieces.count
        self.reads = list(map(pieces.ranges, reads))
        self.writes = list(map(pieces.ranges, writes))


class _Pieces:
    """Elementary intervals: every tracked space's access bounds, sorted, cut it into pieces that
    each access covers entirely or not at all (all spaces numbered in one sequence)."""

    def __init__(self, items: list[Emitted], tracked_dram: int):
        distinct: set[Access] = set()
        for item in items:
            distinct.update(item.reads)
            distinct.update(item.writes)
        tracked = sorted(a for a in distinct if a[0] != "dram" or a[1] < tracked_dram)
        bounds: dict[str, set[int]] = {}
        for space, lo, hi in tracked:
            bounds.setdefault(space, set()).update((lo, hi))
        index: dict[tuple[str, int], int] = {}
        for space in sorted(bounds):
            for value in sorted(bounds[space]):
                index[space, value] = len(index)
        self.count = len(index)
        self.range_of: dict[Access, tuple[int, int] | None] = dict.fromkeys(distinct)
        for space, lo, hi in tracked:
            if hi > lo:
                self.range_of[space, lo, hi] = (index[space, lo], index[space, hi])

    def ranges(self, accesses: list[Access]) -> list[tuple[int, int]]:
        """The tracked accesses as piece ranges [first, last), each distinct range once."""
        found = dict.fromkeys(map(self.range_of.__getitem__, dict.fromkeys(accesses)))
        found.pop(None, None)
        return list(found)


def _conflicts(runs: _Runs, window: int) -> list[list[int]]:
    """Per run, the latest earlier run it conflicts with in each (layer slot, unit), as far as
    the tables still know it (-1 entries dropped; see the module docstring)."""
    columns = window * len(UNITS)
    # per piece, per column: the last run that wrote it, and the last that read or wrote it
    last_write = np.full((runs.pieces, columns), -1, np.int32)
    last_access = np.full((runs.pieces, columns), -1, np.int32)
    reduce = np.maximum.reduce
    found = []
    for run, (reads, writes) in enumerate(zip(runs.reads, runs.writes)):
        # a one-piece range is a row (a view), wider ones a reduction
        parts = [last_write[lo] if hi - lo == 1 else reduce(last_write[lo:hi]) for lo, hi in reads]
        parts += [last_access[lo] if hi - lo == 1 else reduce(last_access[lo:hi]) for lo, hi in writes]
        if len(parts) > 1:
            latest = reduce(parts)
            found.append(latest[latest >= 0].tolist())
        elif parts:
            found.append(parts[0][parts[0] >= 0].tolist())
        else:
            found.append([])
        column = runs.layer[run] % window * len(UNITS) + runs.unit[run]
        for lo, hi in reads:
            last_access[lo:hi, column] = run
        for lo, hi in writes:
            last_access[lo:hi, column] = run
            last_write[lo:hi, column] = run
    return found


def _interleave_section(items: list[Emitted], config, window: int, tracked_dram: int) -> list[Emitted]:
    if window <= 1 or not items:
        return items
    runs = _Runs(items, config, tracked_dram)
    conflicts = _conflicts(runs, window)
    layer_of, unit_of, cost = runs.layer, runs.unit, runs.cost
    # what each run waits for: its conflicts in other layers that can still be in the window
    blockers = [[c for c in found if layer_of[run] - window < layer_of[c] < layer_of[run]]
                for run, found in enumerate(conflicts)]
    layer_start = runs.layer_start
    layers = len(layer_start) - 1
    done = [False] * len(cost)
    finish = [0] * len(cost)
    ready = [-1] * len(cost)  # estimated data-ready time, once known (when the run is a candidate)
    unit_free = [0] * len(UNITS)
    head = layer_start[:-1]  # each layer's next run
    oldest = 0  # the first layer not finished
    order: list[int] = []
    while oldest < layers:
        best = best_start = None
        candidates = []
        for layer in range(oldest, min(oldest + window, layers)):
            run = head[layer]
            if run == layer_start[layer + 1] or not all(done[c] for c in blockers[run]):
                continue
            if ready[run] < 0:
                ready[run] = max([finish[c] for c in conflicts[run]], default=0)
            start = max(ready[run], unit_free[unit_of[run]])
            candidates.append((run, start))
            if best is None or start < best_start:
                best, best_start = run, start
        unit = unit_of[best]
        best_finish, best = min((start + cost[run], run) for run, start in candidates if unit_of[run] == unit)
        done[best] = True
        finish[best] = best_finish
        unit_free[unit] = best_finish
        order.append(best)
        head[layer_of[best]] += 1
        while oldest < layers and head[oldest] == layer_start[oldest + 1]:
            oldest += 1
    return [item for run in order for item in runs.items[run]]
