"""The timing model's schedule: when each instruction runs on the four in-order units, and in
which order the instructions issue. Pure integer arithmetic: nothing here touches data.

Each unit runs its own instructions in program order, one at a time. An instruction starts at
`max(unit free, push time of every token it pops, time its full signal queues got space)`; it
finishes `cycles` later and then pushes its tokens. The scheduler repeatedly issues, among the
units whose next instruction can start (its tokens are there and its signal queues have room),
the one with the earliest start (ties: lowest pc). The issue order respects every token, so the
semantics run in that order (`executor.py`) see every value a token promised. An instruction
can never start earlier than one already issued could have finished producing its token, so
issuing in start order is consistent.

Tokens: one counting FIFO per ordered pair of distinct units. A token records when it was
pushed (the producer's finish cycle) and by which instruction; a consumer pops the oldest one
when it starts. Each queue holds at most `depth` tokens: the n-th push (0-based) needs pop
number `n - depth` to have happened, so an instruction with a signal bit for a full queue cannot
start before that pop.

Functional-only mode gives every instruction zero cycles: then the order is program order
wherever the tokens allow.

When no unit can issue but some have work left, `Timeline.blocked` says why, naming each
blocked unit's next instruction and what it waits for (a token never pushed, or a deadlock);
the instructions issued before that are in `order` and still run, so an error they raise first
is the one reported.
"""

from collections import deque
from dataclasses import dataclass

import numpy as np

from runtime_emulator.program import Op, Program, describe
from runtime_emulator.units import UNITS

UNIT_COUNT = len(UNITS)


@dataclass
class Timeline:
    """Start and end cycle of every instruction, indexed by pc; the pcs in issue order; every
    token that was passed, as (pusher pc, popper pc) rows in the order they were popped; and
    why the run stopped early (None when every instruction issued)."""

    start: np.ndarray
    end: np.ndarray
    order: list[int]
    passed: np.ndarray  # (tokens, 2) int64
    blocked: str | None = None

    @property
    def cycles(self) -> int:
        return int(self.end.max()) if len(self.end) else 0

    @property
    def tokens(self) -> list[tuple[int, int]]:
        """The passed tokens as (pusher pc, popper pc) pairs, in the order they were popped."""
        return list(map(tuple, self.passed.tolist()))


class _Tokens:
    """The token FIFOs, indexed by `src * UNIT_COUNT + dst`: pending (push cycle, pusher pc)
    pairs, the number of pushes, and the cycle of every pop so far."""

    def __init__(self, depth: int):
        self.depth = depth
        pairs = UNIT_COUNT * UNIT_COUNT
        self.pending = [deque() for _ in range(pairs)]
        self.pushes = [0] * pairs
        self.pop_times = [[] for _ in range(pairs)]

    def space_at(self, src: int, dst: int) -> int | None:
        """Earliest cycle the next push to src -> dst fits; None if it waits for a future pop."""
        pair = src * UNIT_COUNT + dst
        needed_pop = self.pushes[pair] - self.depth
        if needed_pop < 0:
            return 0
        pops = self.pop_times[pair]
        return pops[needed_pop] if needed_pop < len(pops) else None


def schedule(program: Program, token_depth: int, *, timing: bool) -> Timeline:
    """Issue every instruction of `program` (the last one is `halt`, see `program.py`)."""
    if timing:
        timeline = _in_program_order(program, token_depth)
        if timeline is not None:
            return timeline
    return _event_driven(program, token_depth, timing)


def _in_program_order(program: Program, token_depth: int) -> Timeline | None:
    """The event-driven schedule computed in one pass in program order, or None where that pass
    cannot know it.

    An instruction's start is `max(its unit's previous end, the push cycle of each token it
    pops, the cycle of the pop that makes room for each token it pushes)`, and tokens pair up
    first-in first-out: a recurrence over the instructions that does not depend on the order it
    is solved in, as long as every instruction comes after those it depends on. So one pass in
    program order gives the event-driven times whenever program order is such an order (None
    otherwise: a token or a pop that only a later instruction provides). With every cycle
    count at least 1 (timing on; only `halt` costs 0), the event-driven issue order is then the
    order of (start, pc), with one exception this pass also gives up on: an instruction that
    starts at the cycle of a pop that makes room for its token (a pop sets its start only by
    being that late) issues right after the popping instruction, even if its own pc is lower.

    Which instruction each depends on never depends on time: the k-th pop from a queue takes
    the k-th push, and the k-th push needs the room of pop k - depth. So those are found first,
    with numpy, and the pass itself only takes maxima of earlier ends (`_ends_in_program_order`).
    Room is never later than the start computed without it, or the pass gives up: it is checked
    afterwards.
    """
    count = len(program)
    unit, wait, signal = program.unit, program.wait, program.signal
    # after[u][pc]: the instruction whose end pc waits for on behalf of unit u: the previous
    # one on its own unit, the pusher of the token it pops from another; `count` for none.
    after = np.full((UNIT_COUNT, count), count, np.int64)
    on_unit = [np.flatnonzero(unit == u) for u in range(UNIT_COUNT)]
    for u, pcs in enumerate(on_unit):
        after[u, pcs[1:]] = pcs[:-1]
    passed, rooms = [], []
    for src in range(UNIT_COUNT):
        for dst in range(UNIT_COUNT):
            if src == dst:
                continue
            pushers = on_unit[src][signal[on_unit[src]] >> dst & 1 == 1]
            poppers = on_unit[dst][wait[on_unit[dst]] >> src & 1 == 1]
            needing_room = pushers[token_depth:]
            if len(poppers) > len(pushers) or (pushers[:len(poppers)] > poppers).any():
                return None  # a token comes from a later instruction, or never
            if len(needing_room) > len(poppers) or (poppers[:len(needing_room)] > needing_room).any():
                return None  # the room comes from a later instruction, or never
            after[src, poppers] = pushers[:len(poppers)]
            passed.append((pushers[:len(poppers)], poppers, np.full(len(poppers), src)))
            rooms.append((needing_room, poppers[:len(needing_room)]))
    starts, ends = _ends_in_program_order(after, program.cycles)
    if any((starts[room_popper] >= starts[pusher]).any() for pusher, room_popper in rooms):
        return None  # the exception above
    order = np.lexsort((np.arange(count), starts))
    position = np.empty(count, np.int64)
    position[order] = np.arange(count)
    pushers, poppers, sources = (np.concatenate(column) for column in zip(*passed))
    popped = np.lexsort((sources, position[poppers]))  # in the order they are popped, by source unit
    return Timeline(starts, ends, order.tolist(), np.stack([pushers[popped], poppers[popped]], axis=1))


def _ends_in_program_order(after: np.ndarray, cycles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of every instruction, each starting at the latest end of those it waits
    for (`after`, one row per unit, each earlier in program order) and the last (`halt`) when
    every other ended. The one Python loop over instructions of a timed run: list indexing and
    comparisons only (three comparisons cost less than one call of the builtin `max`)."""
    count = len(cycles)
    end = [0] * (count + 1)  # end[count] = 0 stands for "nothing to wait for"
    start = [0] * count
    own_or_load, own_or_store, own_or_matrix, own_or_vector = after.tolist()  # the four units' rows
    for pc, a, b, c, d, cost in zip(range(count - 1), own_or_load, own_or_store, own_or_matrix, own_or_vector,
                                    cycles.tolist()):
        at = end[a]
        later = end[b]
        if later > at:
            at = later
        later = end[c]
        if later > at:
            at = later
        later = end[d]
        if later > at:
            at = later
        start[pc] = at
        end[pc] = at + cost
    start[count - 1] = end[count - 1] = max(end)
    return np.array(start, np.int64), np.array(end[:count], np.int64)


def _event_driven(program: Program, token_depth: int, timing: bool) -> Timeline:
    """The schedule by simulating the units: always issue the earliest-starting ready head."""
    ops = program.ops
    queues = [[op for op in ops if op.unit == unit] for unit in range(UNIT_COUNT)]
    tokens = _Tokens(token_depth)
    pending, pushes, pop_times = tokens.pending, tokens.pushes, tokens.pop_times
    heads = [0] * UNIT_COUNT
    free = [0] * UNIT_COUNT
    start = [0] * len(ops)
    end = [0] * len(ops)
    order: list[int] = []
    passed: list[tuple[int, int]] = []

    def head_ready(unit: int) -> tuple[int, int] | None:
        """(start, pc) of the unit's next instruction, None while it cannot start."""
        queue = queues[unit]
        if heads[unit] == len(queue):
            return None
        op = queue[heads[unit]]
        at = free[unit]
        for src in op.waits:
            waiting = pending[src * UNIT_COUNT + unit]
            if not waiting:
                return None
            at = max(at, waiting[0][0])
        for dst in op.signals:
            space = tokens.space_at(unit, dst)
            if space is None:
                return None
            at = max(at, space)
        return at, op.pc

    # Issuing on unit u changes only u's own head, the token fronts of the units it signals, and
    # the queue space of the units it popped from: only those entries are recomputed.
    ready = [head_ready(unit) for unit in range(UNIT_COUNT)]
    while True:
        candidates = [entry for entry in ready if entry is not None]
        if not candidates:
            break
        at, pc = min(candidates)
        op = ops[pc]
        unit = op.unit
        for src in op.waits:
            pair = src * UNIT_COUNT + unit
            pop_times[pair].append(at)
            passed.append((pending[pair].popleft()[1], pc))
        finish = at + op.cycles if timing else at
        start[pc], end[pc] = at, finish
        order.append(pc)
        free[unit] = finish
        heads[unit] += 1
        for dst in op.signals:
            pair = unit * UNIT_COUNT + dst
            pushes[pair] += 1
            pending[pair].append((finish, pc))
        ready[unit] = head_ready(unit)
        for other in op.waits:
            ready[other] = head_ready(other)
        for other in op.signals:
            ready[other] = head_ready(other)
    blocked = None
    if any(heads[unit] < len(queues[unit]) for unit in range(UNIT_COUNT)):
        blocked = _blocked_message(queues, heads, tokens)
    else:
        halt = ops[-1]
        start[halt.pc] = end[halt.pc] = max(free)
        order.append(halt.pc)
    return Timeline(np.array(start, np.int64), np.array(end, np.int64), order, np.array(passed, np.int64).reshape(-1, 2), blocked)


def _blocked_message(queues: list[list[Op]], heads: list[int], tokens: _Tokens) -> str:
    lines, never_pushed = [], False
    for unit in range(UNIT_COUNT):
        if heads[unit] == len(queues[unit]):
            continue
        op = queues[unit][heads[unit]]
        for src in op.waits:
            if tokens.pending[src * UNIT_COUNT + unit]:
                continue
            if any(unit in later.signals for later in queues[src][heads[src]:]):
                reason = f"waits for a token from {UNITS[src]}"
            else:
                never_pushed = True
                reason = f"pops a token from {UNITS[src]} that is never pushed"
            lines.append(f"  {UNITS[unit]}: {describe(op.pc, op.instruction)} {reason}")
        for dst in op.signals:
            if tokens.space_at(unit, dst) is None:
                lines.append(
                    f"  {UNITS[unit]}: {describe(op.pc, op.instruction)} needs room in the full "
                    f"token queue to {UNITS[dst]} (depth {tokens.depth})"
                )
    title = "token popped that was never pushed" if never_pushed else "deadlock: every unit with work left is blocked"
    return title + "\n" + "\n".join(lines)
