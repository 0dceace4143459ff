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
The bookkeeping (`_LastAccess`) is one int32 table over every tracked row and granule (the
spaces laid end to end): per unit, the number of its last instruction that wrote each row, then
per unit the number of its last instruction that read or wrote it; plus the maximum of every block of
`BLOCK` rows, so an access spanning thousands of rows reduces a few blocks, not every row.
Each distinct access is turned into table views once (`_Span`; vit-base has ~14k distinct
accesses among ~440k), so an instruction costs a few reductions of ready-made views.

Invariants checked here: every instruction is ordered after every earlier conflicting access
on another unit (transitively through its own unit's queue); at no point of the sequential
order do more than `token_queue_depth` tokens wait in one queue, which (with every wait
pointing backwards) means the units can never deadlock on a full queue.
"""

from __future__ import annotations

import bisect

import numpy as np

from compiler.codegen.program import Access, Emitted
from isa.encoding import Instruction
from isa.errors import VitcError
from isa.table import load_table

UNITS = load_table().units
DRAM_GRANULE = 16
BLOCK = 64  # rows per block of the bookkeeping table's block maxima
_MAX = np.maximum.reduce  # without ndarray.max's Python wrapper: called for every access


def schedule_tokens(items: list[Emitted], space_sizes: dict[str, int], queue_depth: int) -> list[Instruction]:
    """The instructions with `wait`/`signal` set; `space_sizes` bounds each access space."""
    waits, signals = token_masks(items, space_sizes, queue_depth)
    return [item.instruction(wait, signal) for item, wait, signal in zip(items, waits, signals)]


def token_masks(items: list[Emitted], space_sizes: dict[str, int], queue_depth: int) -> tuple[list[int], list[int]]:
    """Each instruction's `wait` and `signal` masks (see the module docstring)."""
    n_units = len(UNITS)
    tracked = _TrackedSpaces(space_sizes)
    last = _LastAccess(n_units, tracked)
    count = [0] * n_units  # instructions issued per unit so far
    satisfied = [[0] * n_units for _ in range(n_units)]  # [dst][src]: src's number dst waited for
    position = [[-1] for _ in range(n_units)]  # unit -> item index of its instruction number k (from 1)
    wait_positions = [[[] for _ in range(n_units)] for _ in range(n_units)]  # [src][dst]: item indices of the waits
    waits = [0] * len(items)
    signals = [0] * len(items)
    unit_of = _unit_indices()
    spans = last.spans
    previous = None  # (unit, reads, writes) of the instruction before
    for i, item in enumerate(items):
        d = unit_of[item.mnemonic]
        if d is None:
            continue  # control (halt): runs after every queue drained
        count[d] += 1
        position[d].append(i)
        reads = spans(item.reads, item)
        writes = spans(item.writes, item)
        if previous == (d, reads, writes):
            # the same accesses on the same unit right after (e.g. `emit_all`): nothing another
            # unit did since, and the instruction before already waited for everything before
            last.record(d, count[d], reads, writes)
            continue
        previous = (d, reads, writes)
        need = last.need(reads, writes)
        for s in range(n_units):
            if s == d or need[s] <= satisfied[d][s]:
                continue
            number = need[s]
            queue = wait_positions[s][d]
            if _waiting_after(queue, position[s][number]) + 1 >= queue_depth:
                number = _earliest_within_depth(queue, position[s], number, count[s], queue_depth)
            waits[i] |= 1 << s
            signals[position[s][number]] |= 1 << d
            satisfied[d][s] = number
            queue.append(i)
        last.record(d, count[d], reads, writes)
    check_queue_depth(items, waits, signals, queue_depth)
    return waits, signals


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


class _Span:
    """One range of tracked rows as views of `_LastAccess`'s tables, made once per distinct
    range (a program has far fewer distinct ranges than accesses): `writers` and `accessors`
    are the slices whose per-row maxima give the range's last writers (table rows 0..n-1) and
    last accessors, readers or writers (rows n..2n-1), from the block maxima where the range covers many
    whole blocks; `rows` and `blocks` are the columns `record` sets. Views see every later
    update of the tables, so a span never goes stale."""

    __slots__ = ("writers", "accessors", "rows", "blocks")

    def __init__(self, last: _LastAccess, lo: int, hi: int):
        first, stop = -(-lo // BLOCK), hi // BLOCK  # the whole blocks inside [lo, hi)
        if stop - first < 4:
            parts = [last.rows[:, lo:hi]]
        else:
            parts = [last.blocks[:, first:stop]]
            if lo < first * BLOCK:
                parts.append(last.rows[:, lo:first * BLOCK])
            if stop * BLOCK < hi:
                parts.append(last.rows[:, stop * BLOCK:hi])
        self.writers = [part[:last.n] for part in parts]
        self.accessors = [part[last.n:] for part in parts]
        self.rows = last.rows[:, lo:hi]
        self.blocks = last.blocks[:, lo // BLOCK:-(-hi // BLOCK)]


class _LastAccess:
    """Per tracked row: the number of the last instruction of each unit that wrote it (table
    rows 0..n-1) and that read or wrote it (rows n..2n-1: what a write must follow, kept so that
    it is one reduction, not two), and the same maxima per block of `BLOCK` rows, so an access
    spanning thousands of rows reduces a few blocks, not every row.

    A unit's instruction numbers only grow, so recording number v over a range makes v the
    maximum of every block the range touches: the block maxima stay exact with one assignment.
    """

    def __init__(self, n_units: int, tracked: _TrackedSpaces):
        self.n = n_units
        self.rows = np.zeros((2 * n_units, tracked.total), np.int32)
        self.blocks = np.zeros((2 * n_units, -(-tracked.total // BLOCK)), np.int32)
        self.tracked = tracked
        self._span_of: dict[Access, _Span | bool] = {}  # False: an untracked access

    def spans(self, accesses: list[Access], item: Emitted) -> list[_Span]:
        """The `_Span`s of the tracked accesses (each made on its first use)."""
        found = list(map(self._span_of.get, accesses))
        if None in found:
            found = [self._span(access, item) for access in accesses]
        return [span for span in found if span]

    def _span(self, access: Access, item: Emitted) -> _Span | bool:
        span = self._span_of.get(access)
        if span is None:
            rows = self.tracked.rows(access, item)
            span = self._span_of[access] = rows is not None and _Span(self, *rows)
        return span

    def need(self, reads: list[_Span], writes: list[_Span]) -> list[int]:
        """Per unit, the number of its last instruction that wrote what `reads` or `writes`
        touch, or read what `writes` touch."""
        found = [_MAX(part, axis=1).tolist() for span in reads for part in span.writers]
        found += [_MAX(part, axis=1).tolist() for span in writes for part in span.accessors]
        return list(map(max, *found)) if len(found) > 1 else found[0] if found else [0] * self.n

    def record(self, unit: int, number: int, reads: list[_Span], writes: list[_Span]) -> None:
        accessed = self.n + unit
        for span in reads:
            span.rows[accessed] = number
            span.blocks[accessed] = number
        written = slice(unit, None, self.n)  # table rows `unit` (writers) and `accessed`
        for span in writes:
            span.rows[written] = number
            span.blocks[written] = number


class _TrackedSpaces:
    """Maps declared accesses to row ranges of the one bookkeeping table."""

    def __init__(self, space_sizes: dict[str, int]):
        self.sizes = dict(space_sizes)
        self.base: dict[str, int] = {}
        total = 0
        for space, size in space_sizes.items():
            self.base[space] = total
            total += -(-size // DRAM_GRANULE) if space == "dram" else size
        self.total = total

    def rows(self, access: Access, item: Emitted) -> tuple[int, int] | None:
        """The access as table rows; None for DRAM above the tracked size (constants)."""
        space, lo, hi = access
        if space == "dram":
            if lo >= self.sizes["dram"]:
                return None
            lo, hi = lo // DRAM_GRANULE, -(-hi // DRAM_GRANULE)
        elif space not in self.sizes or lo < 0 or hi > self.sizes[space] or lo >= hi:
            raise VitcError(f"codegen: {item.mnemonic} accesses {space} [{lo}, {hi}) outside [0, {self.sizes.get(space)})")
        base = self.base[space]
        return base + lo, base + hi


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
