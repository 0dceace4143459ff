"""Scheduling: the dependency tokens that order instructions of different units.

Input: instructions in a valid sequential order with their declared accesses
(`program.Emitted`). For every instruction Y on unit D and every other unit S, the last
instruction of S that Y must follow is the latest one that wrote anything Y touches, or read
anything Y writes (read-after-write, write-after-read, write-after-write on overlapping on-chip
rows or DRAM bytes). If that instruction is later than what D has already waited for from S,
it signals D and Y waits S. Signals and waits on each queue S->D are then paired in order (the
k-th signal with the k-th wait), because both sequences are increasing in program order.
When that token would overlap `token_queue_depth` others still waiting in the queue (e.g. many
K-chunk loads before their matmuls), the signal moves to the last S instruction before Y
instead: ordering is kept (S runs in order), only some overlap is lost.

DRAM is tracked in 16-byte granules and only below `space_sizes["dram"]` (the activation
arena): the constant section above it is never written, so reading it orders nothing.
The tracked rows and granules (the spaces laid end to end) are cut into *segments* at every
bound of every access the program declares (vit-base: ~22k segments for ~2.4M rows and
granules), so every access covers whole segments and all rows of a segment are always touched
together: a segment stands for its rows exactly. The bookkeeping (`_AccessTable`) is one int32
table with a row per unit: per segment, the number of the unit's last instruction that wrote
it, then the number of its last instruction that read or wrote it. Each distinct combination of
accesses (`_Signature`; vit-base has ~19k among ~145k instructions) is turned into table
columns once (all of them in one numpy expansion), so an instruction costs one gather-and-reduce
of its columns and one assignment, and a stretch of instructions with the same accesses on one
unit costs that once.

Invariants checked here: every instruction is ordered after every earlier conflicting access
on another unit (transitively through its own unit's queue); at no point of the sequential
order do more than `token_queue_depth` tokens wait in one queue, which (with every wait
pointing backwards) means the units can never deadlock on a full queue.
"""

from __future__ import annotations

import bisect
from itertools import chain

import numpy as np

from compiler.codegen.program import Access, Emitted
from isa.encoding import Instruction
from isa.errors import VitcError
from isa.table import load_table

UNITS = load_table().units
DRAM_GRANULE = 16
_MAX = np.maximum.reduce  # without ndarray.max's Python wrapper: called for every access


def schedule_tokens(items: list[Emitted], space_sizes: dict[str, int], queue_depth: int) -> list[Instruction]:
    """The instructions with `wait`/`signal` set; `space_sizes` bounds each access space."""
    waits, signals = token_masks(items, space_sizes, queue_depth)
    return [item.instruction(wait, signal) for item, wait, signal in zip(items, waits, signals)]


def token_masks(items: list[Emitted], space_sizes: dict[str, int], queue_depth: int) -> tuple[list[int], list[int]]:
    """Each instruction's `wait` and `signal` masks (see the module docstring)."""
    n_units = len(UNITS)
    unit_of = _unit_indices()
    units = [unit_of[item.mnemonic] for item in items]
    table = _AccessTable(items, units, space_sizes)
    last = table.last
    last_of_unit = list(last)  # per unit, its row of the table (a view)
    count = [0] * n_units  # instructions issued per unit so far
    satisfied = [[0] * n_units for _ in range(n_units)]  # [dst][src]: src's number dst waited for
    position = [[-1] for _ in range(n_units)]  # unit -> item index of its instruction number k (from 1)
    wait_positions = [[[] for _ in range(n_units)] for _ in range(n_units)]  # [src][dst]: item indices of the waits
    waits = [0] * len(items)
    signals = [0] * len(items)
    signatures = table.signatures
    # a stretch of instructions with the same accesses on the same unit (e.g. `emit_all`): only
    # the first asks what to wait for (nothing another unit did since, and it already waited for
    # everything before), only the last records its number (each overwrites the one before)
    same_as_before = [False, *map(_same_stretch, units, signatures, units[1:], signatures[1:])]
    same_as_next = [*same_as_before[1:], False]
    for i, (d, signature) in enumerate(zip(units, signatures)):
        if d is None:
            continue  # control (halt): runs after every queue drained
        count[d] += 1
        position[d].append(i)
        if not same_as_before[i]:
            need = _MAX(last.take(signature.needed, axis=1), axis=1).tolist()
            waited = satisfied[d]
            for s, number in enumerate(need):
                if number <= waited[s] or s == d:
                    continue
                queue = wait_positions[s][d]
                if _waiting_after(queue, position[s][number]) + 1 >= queue_depth:
                    number = _earliest_within_depth(queue, position[s], number, count[s], queue_depth)
                waits[i] |= 1 << s
                signals[position[s][number]] |= 1 << d
                waited[s] = number
                queue.append(i)
        if not same_as_next[i]:
            last_of_unit[d][signature.recorded] = count[d]
    check_queue_depth(items, waits, signals, queue_depth)
    return waits, signals


def _same_stretch(unit, signature, next_unit, next_signature) -> bool:
    """Whether the next instruction has the same accesses on the same unit (not control)."""
    return next_signature is signature and next_unit == unit and unit is not None


def _waiting_after(queue: list[int], signal_position: int) -> int:
    """Waits of the queue placed after a signal at `signal_position` (their tokens may still be
    queued when it is pushed)."""
    return len(queue) - bisect.bisect_right(queue, signal_position)


def _earliest_within_depth(queue: list[int], positions: list[int], first: int, last: int, depth: int) -> int:
    """The earliest instruction number in [first, last] whose signal leaves room in the queue
    (`last`, the source unit's latest instruction, when none does): the later the signal, the
    fewer waits follow it, so the numbers that fit form a suffix, found by bisection."""
    lo, hi = first, last
    while lo < hi:
        mid = (lo + hi) // 2
        if _waiting_after(queue, positions[mid]) + 1 < depth:
            hi = mid
        else:
            lo = mid + 1
    return lo


class _Signature:
    """One distinct combination of tracked reads and writes as column indices of
    `_AccessTable.last`: `needed`, the columns whose maxima give every unit's last instruction
    that the combination must follow (the writers of everything it touches, the accessors of
    everything it writes, and the zero column); `recorded`, the columns an instruction with
    these accesses sets to its number (the accessors of what it reads, the writers and
    accessors of what it writes)."""

    __slots__ = ("needed", "recorded")

    def __init__(self, needed: np.ndarray, recorded: np.ndarray):
        self.needed = needed
        self.recorded = recorded


class _AccessTable:
    """The bookkeeping: per unit (table row), the number of its last instruction that wrote each
    segment (columns 1..S) and that read or wrote it (columns S+1..2S: what a write must follow,
    kept so that it is one lookup, not two), over the segments of the module docstring; column
    0 is never written.

    A unit's instruction numbers only grow, so recording its number over a segment makes it the
    segment's maximum for that unit: `record` is one assignment, `need` one reduction."""

    def __init__(self, items: list[Emitted], units: list[int | None], space_sizes: dict[str, int]):
        tracked = _TrackedSpaces(space_sizes)
        distinct: dict[tuple, int] = {}  # (reads, writes) -> its number; each key hashed once
        numbers = [distinct.setdefault((tuple(item.reads), tuple(item.writes)), len(distinct)) for item in items]
        rows = {}  # in order of first use, so the first access out of bounds is the program's first
        for access in dict.fromkeys(chain.from_iterable(reads + writes for reads, writes in distinct)):
            rows[access] = tracked.rows(access, lambda: _first_user(items, units, access))
        spans = [(access, span) for access, span in rows.items() if span is not None]
        bounds = np.array([span for _, span in spans], np.int64).reshape(-1, 2)
        cuts = _distinct_sorted(bounds)
        self.n_segments = max(len(cuts) - 1, 0)
        self.last = np.zeros((len(UNITS), 1 + 2 * self.n_segments), np.int32)
        segments = dict.fromkeys(rows)  # None: untracked
        segments.update((access, tuple(lohi)) for (access, _), lohi in zip(spans, np.searchsorted(cuts, bounds).tolist()))
        by_segments: dict[tuple, int] = {}  # (read, written) segment ranges -> its number
        segment_numbers = [by_segments.setdefault(tuple(tuple(filter(None, map(segments.__getitem__, accesses)))
                                                        for accesses in key), len(by_segments))
                           for key in distinct]
        signatures = self._signatures(list(by_segments))
        of_distinct = [signatures[number] for number in segment_numbers]
        self.signatures = [of_distinct[number] for number in numbers]

    def _signatures(self, keys: list[tuple[tuple[tuple[int, int], ...], ...]]) -> list[_Signature]:
        """The signatures of accesses covering the segment ranges (read, written) of each key:
        writers' columns are a segment's number + 1, accessors' that + S."""
        s = self.n_segments
        read = np.array([(k, lo, hi) for k, (ranges, _) in enumerate(keys) for lo, hi in ranges], np.intp).reshape(-1, 3)
        written = np.array([(k, lo, hi) for k, (_, ranges) in enumerate(keys) for lo, hi in ranges], np.intp).reshape(-1, 3)
        zero = np.stack([np.arange(len(keys)), np.zeros(len(keys), np.intp), np.ones(len(keys), np.intp)], axis=1)
        writers, accessors = np.array([0, 1, 1]), np.array([0, 1 + s, 1 + s])
        needed = np.concatenate([zero, read + writers, written + writers, written + accessors])
        recorded = np.concatenate([read + accessors, written + writers, written + accessors])
        return list(map(_Signature, _columns(needed, len(keys)), _columns(recorded, len(keys))))


def _columns(ranges: np.ndarray, keys: int) -> list[np.ndarray]:
    """Per key, the columns of its ranges (rows (key, lo, hi): columns lo..hi-1), all keys' in
    one go (a program has thousands of keys, and numpy's cost is per call)."""
    ranges = ranges[np.argsort(ranges[:, 0], kind="stable")]
    lengths = ranges[:, 2] - ranges[:, 1]
    ends = np.cumsum(lengths)
    columns = np.repeat(ranges[:, 1] - (ends - lengths), lengths) + np.arange(ends[-1] if len(ends) else 0)
    first_range = np.searchsorted(ranges[:, 0], np.arange(keys + 1))  # each key's first range (and the end)
    key_bounds = np.concatenate([[0], ends])[first_range].tolist()
    return [columns[start:stop] for start, stop in zip(key_bounds, key_bounds[1:])]


def _distinct_sorted(values: np.ndarray) -> np.ndarray:
    """`np.unique(values)` without its first call's import of numpy.ma (~25 ms of a compile)."""
    ordered = np.sort(values, axis=None)
    return ordered[np.concatenate([ordered[:1] == ordered[:1], ordered[1:] != ordered[:-1]])]


def _first_user(items: list[Emitted], units: list[int | None], access: Access) -> Emitted:
    return next(item for item, unit in zip(items, units)
                if unit is not None and (access in item.reads or access in item.writes))


class _TrackedSpaces:
    """Maps declared accesses to row ranges of the tracked spaces laid end to end."""

    def __init__(self, space_sizes: dict[str, int]):
        self.sizes = dict(space_sizes)
        self.base: dict[str, int] = {}
        self.end: dict[str, int] = {}
        total = 0
        for space, size in space_sizes.items():
            self.base[space] = total
            total += -(-size // DRAM_GRANULE) if space == "dram" else size
            self.end[space] = total

    def rows(self, access: Access, user) -> tuple[int, int] | None:
        """The access as rows; None for DRAM above the tracked size (constants). A DRAM access
        that runs past the arena is tracked up to its end. `user()` gives the instruction
        named when the access is out of bounds."""
        space, lo, hi = access
        if space == "dram":
            if lo >= self.sizes["dram"]:
                return None
            lo, hi = lo // DRAM_GRANULE, -(-hi // DRAM_GRANULE)
        elif space not in self.sizes or lo < 0 or hi > self.sizes[space] or lo >= hi:
            raise VitcError(f"codegen: {user().mnemonic} accesses {space} [{lo}, {hi}) outside [0, {self.sizes.get(space)})")
        base = self.base[space]
        return base + lo, min(base + hi, self.end[space])


def _unit_indices() -> dict[str, int | None]:
    """Mnemonic -> its unit's token bit (None for the control unit)."""
    table = load_table()
    return {spec.mnemonic: table.unit_index(spec.unit) for spec in table.instructions}


def check_queue_depth(items: list[Emitted], waits: list[int], signals: list[int], depth: int) -> None:
    """Raise if at any point more than `depth` tokens wait in one queue. An instruction pops its
    waits before it pushes its signals, and a queue src->dst is pushed only by src and popped
    only by dst, so each queue's fill level is a running sum over the program."""
    if not items:
        return
    n_units = len(UNITS)
    unit_of = _unit_indices()
    units = np.array([-1 if unit_of[item.mnemonic] is None else unit_of[item.mnemonic] for item in items])
    wait_bits = np.array(waits, np.int64)
    signal_bits = np.array(signals, np.int64)
    first = None  # (instruction index, dst, tokens waiting)
    for s in range(n_units):
        for t in range(n_units):
            if s == t:
                continue
            pushed = (units == s) & ((signal_bits >> t) & 1 == 1)
            popped = (units == t) & ((wait_bits >> s) & 1 == 1)
            in_flight = np.cumsum(pushed.astype(np.int64) - popped.astype(np.int64))
            over = np.flatnonzero(in_flight > depth)
            if over.size and (first is None or (int(over[0]), t) < first[:2]):
                first = (int(over[0]), t, int(in_flight[over[0]]))
    if first is None:
        return
    i, t, tokens = first
    d = int(units[i])
    raise VitcError(f"codegen: instruction {i} ({items[i].mnemonic}) would leave {tokens} tokens "
                    f"waiting in queue {UNITS[d]}->{UNITS[t]} (depth {depth}): the schedule could deadlock")
