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
elementary pieces (every space's access bounds, sorted), and a table holds, per piece and per
(layer slot, unit), the last run that wrote it and the last run that read or wrote it (slot =
the layer's number modulo `window`; a slot's older values belong to layers that have left the
window, which are finished when they matter), with block rows so a wide access reads and
writes a few rows (`_ConflictRows`). One gather and one reduction per run give, per layer slot
and unit, the latest earlier run it conflicts with: a head of a layer waits until those of the
other layers in the window have gone (its own layer's and older layers' have), and since a
unit's runs finish in the order they are scheduled, the latest one on each unit gives its
estimated data-ready time. DRAM at or above `tracked_dram` (the constant section: never
written) orders nothing and is left out.

Invariants: the result is a permutation of the input that keeps the order of every pair of
conflicting instructions and of each layer's own instructions, and never moves an instruction
across a control instruction; it depends only on the instructions (deterministic).
"""

from __future__ import annotations

from itertools import chain, repeat
from operator import attrgetter
from typing import Iterable

import numpy as np

from compiler.codegen.program import Access, Emitted
from isa.costs import COST_FIELDS, cycles_of_columns
from isa.table import load_table

UNITS = load_table().units
# per mnemonic, the fields the cost model reads: (name, default, codes by name for an enum field);
# lowerings write enum fields by name, the cost model reads codes (a DMA's `mem` decides its
# element size)
_COST_FIELDS = {spec.mnemonic: [(f.name, f.default, f.code_by_name if f.kind == "enum" else None)
                                for f in spec.fields if f.name in COST_FIELDS]
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


def costs(items: list[Emitted], config) -> np.ndarray:
    """Every instruction's cycles (`isa.costs`), computed per mnemonic over columns of the fields
    the model reads (a program has ~20 mnemonics and thousands of instructions of each)."""
    mnemonics = [item.mnemonic for item in items]
    number = {mnemonic: index for index, mnemonic in enumerate(dict.fromkeys(mnemonics))}
    numbers = np.array(list(map(number.__getitem__, mnemonics)), np.intp)
    all_fields = [item.fields for item in items]
    cost = np.zeros(len(items), np.int64)
    for mnemonic, index in number.items():
        where = np.flatnonzero(numbers == index)
        fields = list(map(all_fields.__getitem__, where.tolist()))
        columns = {}
        for name, default, codes in _COST_FIELDS[mnemonic]:
            values = list(map(dict.get, fields, repeat(name), repeat(default)))
            if codes is not None:
                values = [codes.get(value, value) for value in values]  # a name -> its code
            columns[name] = np.array(values, np.int64)
        cost[where] = cycles_of_columns(mnemonic, columns, len(where), config)
    return cost


class _Runs:
    """The section's runs in program order: the instructions of each, its layer (numbered from 0
    in order), unit, cost and accesses as piece ranges (`_Pieces`); `layer_start[q]` is layer
    q's first run."""

    def __init__(self, items: list[Emitted], config, tracked_dram: int):
        count = len(items)
        unit = np.array([_UNIT_OF_MNEMONIC[item.mnemonic] for item in items], np.int64)
        layer_id = np.array([item.layer for item in items], np.int64)
        new_layer = np.ones(count, bool)
        new_layer[1:] = layer_id[1:] != layer_id[:-1]
        new_run = new_layer.copy()
        new_run[1:] |= unit[1:] != unit[:-1]
        starts = np.flatnonzero(new_run)
        bounds = [*starts.tolist(), count]
        self.items: list[list[Emitted]] = [items[first:stop] for first, stop in zip(bounds, bounds[1:])]
        self.layer: list[int] = (np.cumsum(new_layer)[starts] - 1).tolist()
        self.unit: list[int] = unit[starts].tolist()
        self.cost: list[int] = np.add.reduceat(costs(items, config), starts).tolist()
        self.layer_start: list[int] = [*np.flatnonzero(new_layer[starts]).tolist(), len(starts)]
        reads_of, writes_of = attrgetter("reads"), attrgetter("writes")
        reads = [tuple(chain.from_iterable(map(reads_of, run))) for run in self.items]
        writes = [tuple(chain.from_iterable(map(writes_of, run))) for run in self.items]
        pieces = _Pieces(dict.fromkeys(chain(reads, writes)), tracked_dram)
        self.pieces = pieces.count
        self.reads = list(map(pieces.ranges.__getitem__, reads))
        self.writes = list(map(pieces.ranges.__getitem__, writes))


class _Pieces:
    """Elementary intervals: every tracked space's access bounds, sorted, cut it into pieces that
    each access covers entirely or not at all (all spaces numbered in one sequence). `ranges`
    maps each given sequence of accesses to its tracked accesses as piece ranges [first, last),
    each distinct range once, sorted (runs repeat a few sequences many times)."""

    def __init__(self, sequences: Iterable[tuple[Access, ...]], tracked_dram: int):
        sequences = list(sequences)
        distinct: set[Access] = set(chain.from_iterable(sequences))
        tracked = sorted(a for a in distinct if a[0] != "dram" or a[1] < tracked_dram)
        bounds: dict[str, set[int]] = {}
        for space, lo, hi in tracked:
            bounds.setdefault(space, set()).update((lo, hi))
        index: dict[tuple[str, int], int] = {}
        for space in sorted(bounds):
            for value in sorted(bounds[space]):
                index[space, value] = len(index)
        self.count = len(index)
        range_of: dict[Access, tuple[int, int] | None] = dict.fromkeys(distinct)
        for space, lo, hi in tracked:
            if hi > lo:
                range_of[space, lo, hi] = (index[space, lo], index[space, hi])
        self.ranges: dict[tuple[Access, ...], tuple[tuple[int, int], ...]] = {}
        for sequence in sequences:
            found = set(map(range_of.__getitem__, sequence))
            found.discard(None)
            self.ranges[sequence] = tuple(sorted(found))


BLOCK = 16  # pieces per block of the conflict tables' block rows


class _ConflictRows:
    """Row indices into `_conflicts`' table for a combination of accesses, made once per
    distinct combination. The table has six sections of rows, each with a value per (layer slot,
    unit) (stored transposed, one array per (layer slot, unit)): per piece, the last run that wrote it (W) and that read or wrote it (A); per block of
    `BLOCK` pieces, the largest value of any of its pieces (max W, max A) and a value recorded
    over the whole block at once (all W, all A). A piece's value is the larger of its own row and
    its block's "all" row; a range reads its edge pieces (and their blocks' "all" rows) and the
    "max" rows of the blocks inside it, and records its edge pieces, the "max" rows of every
    block it touches and the "all" rows of the blocks inside it: a few rows for a range of
    thousands of pieces. A run's number is larger than any recorded before, so assigning it to
    a "max" row keeps that row the block's maximum."""

    def __init__(self, pieces: int):
        blocks = -(-pieces // BLOCK)
        self.size = 2 * pieces + 4 * blocks
        self.own = {"W": 0, "A": pieces}
        self.max = {"W": 2 * pieces, "A": 2 * pieces + blocks}
        self.all = {"W": 2 * pieces + 2 * blocks, "A": 2 * pieces + 3 * blocks}
        self.of_range: dict[tuple[int, int, str], tuple[list[int], list[int]]] = {}

    def rows(self, reads, writes) -> tuple[np.ndarray, np.ndarray]:
        """(query rows, record rows): a read asks the W sections and is recorded in A, a write
        asks A and is recorded in both."""
        query, record = [], []
        for ranges, role in ((reads, "read"), (writes, "write")):
            for lo, hi in ranges:
                rows = self.of_range.get((lo, hi, role))
                if rows is None:
                    rows = self.of_range[lo, hi, role] = self._range_rows(lo, hi, role)
                query += rows[0]
                record += rows[1]
        return np.array(query, np.intp), np.array(record, np.intp)

    def _range_rows(self, lo: int, hi: int, role: str) -> tuple[list[int], list[int]]:
        """`rows` of one range (`of_range` keeps them: keys share ranges)."""
        asked, recorded = ("W", ("A",)) if role == "read" else ("A", ("W", "A"))
        edges, edge_blocks, inner = _split(lo, hi)
        own, whole, most = self.own[asked], self.all[asked], self.max[asked]
        query = []
        for edge in edges:
            query += _shifted(edge, own)
        query += [whole + b for b in edge_blocks]
        query += _shifted(inner, most)
        record = []
        for table in recorded:
            own, whole, most = self.own[table], self.all[table], self.max[table]
            for edge in edges:
                record += _shifted(edge, own)
            record += [most + b for b in edge_blocks]
            record += _shifted(inner, most)
            record += _shifted(inner, whole)
        return query, record


def _split(lo: int, hi: int) -> tuple[tuple[range, ...], list[int], range]:
    """Pieces [lo, hi) as the pieces outside whole blocks, their blocks, and the whole blocks
    inside (ranges: a wide access spans thousands of pieces)."""
    first, stop = -(-lo // BLOCK), hi // BLOCK
    if stop <= first:
        return (range(lo, hi),), list(range(lo // BLOCK, (hi - 1) // BLOCK + 1)), range(0)
    head, tail = range(lo, first * BLOCK), range(stop * BLOCK, hi)
    return (head, tail), [lo // BLOCK] * bool(head) + [stop] * bool(tail), range(first, stop)


def _shifted(indices: range, offset: int) -> range:
    return range(indices.start + offset, indices.stop + offset)


def _conflicts(runs: _Runs, window: int) -> list[list[int]]:
    """Per run, the latest earlier run it conflicts with in each (layer slot, unit), as far as
    the tables still know it (-1 entries dropped; see the module docstring): one gather and one
    reduction per run, one assignment to record it (`_ConflictRows`)."""
    layout = _ConflictRows(runs.pieces)
    n_units = len(UNITS)
    # one row per (layer slot, unit), so that recording a run is one 1-d assignment
    table = np.full((window * n_units, layout.size), -1, np.int32)
    column = list(table)
    take, reduce = table.take, np.maximum.reduce
    rows_of: dict[tuple, tuple[np.ndarray | None, np.ndarray]] = {}
    found = []
    for run, key, layer, unit in zip(range(len(runs.unit)), zip(runs.reads, runs.writes), runs.layer, runs.unit):
        rows = rows_of.get(key)
        if rows is None:
            query, record = layout.rows(*key)
            rows = rows_of[key] = (query if query.size else None, record)
        query, record = rows
        latest = () if query is None else reduce(take(query, axis=1), axis=1).tolist()
        found.append([other for other in latest if other >= 0])
        column[layer % window * n_units + unit][record] = run
    return found


def _interleave_section(items: list[Emitted], config, window: int, tracked_dram: int) -> list[Emitted]:
    if window <= 1 or not items:
        return items
    runs = _Runs(items, config, tracked_dram)
    conflicts = _conflicts(runs, window)
    layer_of, unit_of, cost = runs.layer, runs.unit, runs.cost
    layers = len(runs.layer_start) - 1
    layer_start = runs.layer_start + [len(cost)] * window  # empty layers after the last: every window is full
    finish = [-1] * len(cost)  # estimated finish time; -1 until the run is scheduled
    ready = [-1] * len(cost)  # estimated data-ready time, once the run is a candidate (then it stays one)
    blocker = [-1] * len(cost)  # a conflict not yet scheduled that a head was found waiting for
    unit_free = [0] * len(UNITS)
    head = layer_start[:-1]  # each layer's next run
    oldest = 0  # the first layer not finished
    order: list[int] = []
    while oldest < layers:
        candidates = []  # (estimated start, run)
        for layer in range(oldest, oldest + window):
            run = head[layer]
            if run == layer_start[layer + 1]:
                continue
            run_ready = ready[run]
            if run_ready < 0:
                # a head's conflicts in its own layer and in layers before the window are done:
                # it waits only for those in the other layers of the window
                if blocker[run] >= 0 and finish[blocker[run]] < 0:
                    continue
                times = [finish[c] for c in conflicts[run]]
                if -1 in times:
                    blocker[run] = conflicts[run][times.index(-1)]
                    continue
                run_ready = ready[run] = max(times, default=0)
            free = unit_free[unit_of[run]]
            candidates.append((run_ready if run_ready > free else free, run))
        best_start, best = min(candidates)  # runs are numbered in program order
        unit = unit_of[best]
        best_finish = best_start + cost[best]
        for start, run in candidates:  # on that unit, the one that finishes first (then program order)
            if unit_of[run] == unit and (start + cost[run], run) < (best_finish, best):
                best, best_finish = run, start + cost[run]
        finish[best] = best_finish
        unit_free[unit] = best_finish
        order.append(best)
        head[layer_of[best]] += 1
        while oldest < layers and head[oldest] == layer_start[oldest + 1]:
            oldest += 1
    return [item for run in order for item in runs.items[run]]
