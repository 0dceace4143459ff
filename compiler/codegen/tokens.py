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

Invariants checked here: every instruction is ordered after every earlier conflicting access
on another unit (transitively through its own unit's queue); at no point of the sequential
order do more than `token_queue_depth` tokens wait in one queue, which (with every wait
pointing backwards) means the units can never deadlock on a full queue.
"""

import bisect

import numpy as np

from compiler.codegen.program import Emitted
from isa.encoding import Instruction
from isa.errors import VitcError
from isa.table import load_table

UNITS = load_table().units
DRAM_GRANULE = 16


def schedule_tokens(items: list[Emitted], space_sizes: dict[str, int], queue_depth: int) -> list[Instruction]:
    """The instructions with `wait`/`signal` set; `space_sizes` bounds each access space."""
    n_units = len(UNITS)
    unit_of = {u: i for i, u in enumerate(UNITS)}
    sizes = {space: _granules(space, size) for space, size in space_sizes.items()}
    last_write = {space: np.zeros((n_units, size), np.int32) for space, size in sizes.items()}
    last_read = {space: np.zeros((n_units, size), np.int32) for space, size in sizes.items()}
    count = np.zeros(n_units, np.int64)  # instructions issued per unit so far
    satisfied = np.zeros((n_units, n_units), np.int64)  # [dst, src]: src's number dst waited for
    index_of = [dict() for _ in range(n_units)]  # unit -> {number: item index}
    wait_positions = {}  # (src, dst) -> item indices of the waits, increasing
    waits = [0] * len(items)
    signals = [0] * len(items)
    for i, item in enumerate(items):
        unit = item.unit
        if unit not in unit_of:
            continue  # control (halt): runs after every queue drained
        d = unit_of[unit]
        count[d] += 1
        index_of[d][int(count[d])] = i
        need = np.zeros(n_units, np.int64)
        reads = _tracked(item.reads, space_sizes, item)
        writes = _tracked(item.writes, space_sizes, item)
        for space, lo, hi in reads:
            need = np.maximum(need, last_write[space][:, lo:hi].max(axis=1, initial=0))
        for space, lo, hi in writes:
            need = np.maximum(need, last_write[space][:, lo:hi].max(axis=1, initial=0))
            need = np.maximum(need, last_read[space][:, lo:hi].max(axis=1, initial=0))
        for s in range(n_units):
            if s == d or need[s] <= satisfied[d, s]:
                continue
            number = int(need[s])
            queue = wait_positions.setdefault((s, d), [])
            overlapping = len(queue) - bisect.bisect_right(queue, index_of[s][number])
            if overlapping + 1 >= queue_depth:
                number = int(count[s])
            waits[i] |= 1 << s
            signals[index_of[s][number]] |= 1 << d
            satisfied[d, s] = number
            queue.append(i)
        for space, lo, hi in reads:
            last_read[space][d, lo:hi] = count[d]
        for space, lo, hi in writes:
            last_write[space][d, lo:hi] = count[d]
    _check_queue_depth(items, waits, signals, queue_depth)
    return [item.instruction(waits[i], signals[i]) for i, item in enumerate(items)]


def _granules(space: str, size: int) -> int:
    return -(-size // DRAM_GRANULE) if space == "dram" else size


def _tracked(accesses, space_sizes: dict, item: Emitted) -> list[tuple[str, int, int]]:
    """The accesses in tracking units; DRAM above the tracked size (constants) is dropped."""
    tracked = []
    for space, lo, hi in accesses:
        if space == "dram":
            if lo >= space_sizes["dram"]:
                continue
            lo, hi = lo // DRAM_GRANULE, -(-hi // DRAM_GRANULE)
        elif space not in space_sizes or lo < 0 or hi > space_sizes[space] or lo >= hi:
            raise VitcError(f"codegen: {item.mnemonic} accesses {space} [{lo}, {hi}) outside [0, {space_sizes.get(space)})")
        tracked.append((space, lo, hi))
    return tracked


def _check_queue_depth(items: list[Emitted], waits: list[int], signals: list[int], depth: int) -> None:
    n_units = len(UNITS)
    in_flight = np.zeros((n_units, n_units), np.int64)  # [src, dst]
    unit_of = {u: i for i, u in enumerate(UNITS)}
    for i, item in enumerate(items):
        if item.unit not in unit_of:
            continue
        d = unit_of[item.unit]
        for s in range(n_units):
            if waits[i] >> s & 1:
                in_flight[s, d] -= 1
        for t in range(n_units):
            if signals[i] >> t & 1:
                in_flight[d, t] += 1
                if in_flight[d, t] > depth:
                    raise VitcError(
                        f"codegen: instruction {i} ({item.mnemonic}) would leave {in_flight[d, t]} tokens "
                        f"waiting in queue {UNITS[d]}->{UNITS[t]} (depth {depth}): the schedule could deadlock"
                    )
