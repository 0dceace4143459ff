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

from runtime_emulator.program import Op, describe
from runtime_emulator.units import MASK_UNITS, UNITS

UNIT_COUNT = len(UNITS)


@dataclass
class Timeline:
    """Start and end cycle of every instruction, indexed by pc; the pcs in issue order; every
    token that was passed, as (pusher pc, popper pc), in the order they were popped; and why
    the run stopped early (None when every instruction issued)."""

    start: np.ndarray
    end: np.ndarray
    order: list[int]
    tokens: list[tuple[int, int]]
    blocked: str | None = None

    @property
    def cycles(self) -> int:
        return int(self.end.max()) if len(self.end) else 0


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


def _token_pairs(outgoing: bool) -> list[dict[tuple[int, ...], tuple[int, ...]]]:
    """Per unit, the token-queue indices (`src * UNIT_COUNT + dst`) of each tuple of units an
    instruction waits for (`outgoing=False`) or signals (`outgoing=True`)."""
    return [
        {units: tuple(unit * UNIT_COUNT + other if outgoing else other * UNIT_COUNT + unit for other in units)
         for units in MASK_UNITS}
        for unit in range(UNIT_COUNT)
    ]


_WAIT_PAIRS, _SIGNAL_PAIRS = _token_pairs(outgoing=False), _token_pairs(outgoing=True)


def schedule(ops: list[Op], token_depth: int, *, timing: bool) -> Timeline:
    """Issue every instruction of `ops` (the last one is `halt`, see `program.py`)."""
    if timing:
        timeline = _in_program_order(ops, token_depth)
        if timeline is not None:
            return timeline
    return _event_driven(ops, token_depth, timing)


def _in_program_order(ops: list[Op], token_depth: int) -> Timeline | None:
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
    """
    pairs = UNIT_COUNT * UNIT_COUNT
    push_times: list[list[int]] = [[] for _ in range(pairs)]
    pushers: list[list[int]] = [[] for _ in range(pairs)]
    pop_times: list[list[int]] = [[] for _ in range(pairs)]
    popped = [0] * pairs
    free = [0] * UNIT_COUNT
    start = [0] * len(ops)
    end = [0] * len(ops)
    passed_pushers: list[int] = []
    passed_poppers: list[int] = []
    for op in ops[:-1]:
        body, pc = op.body, op.pc
        unit = body.unit
        at = free[unit]
        wait_pairs = _WAIT_PAIRS[unit][op.waits]
        for pair in wait_pairs:
            times = push_times[pair]
            if popped[pair] == len(times):
                return None  # the token comes from a later instruction, or never
            if times[popped[pair]] > at:
                at = times[popped[pair]]
        signal_pairs = _SIGNAL_PAIRS[unit][op.signals]
        room_at = -1
        for pair in signal_pairs:
            needed_pop = len(push_times[pair]) - token_depth
            if needed_pop >= 0:
                if needed_pop >= popped[pair]:
                    return None  # the room comes from a later instruction, or never
                if pop_times[pair][needed_pop] > room_at:
                    room_at = pop_times[pair][needed_pop]
        if room_at >= at:
            return None  # the exception above
        finish = at + body.cycles
        start[pc] = at
        end[pc] = finish
        free[unit] = finish
        for pair in wait_pairs:
            passed_pushers.append(pushers[pair][popped[pair]])
            passed_poppers.append(pc)
            pop_times[pair].append(at)
            popped[pair] += 1
        for pair in signal_pairs:
            push_times[pair].append(finish)
            pushers[pair].append(pc)
    halt = ops[-1].pc
    start[halt] = end[halt] = max(free)
    starts, ends = np.array(start, np.int64), np.array(end, np.int64)
    order = np.lexsort((np.arange(len(ops)), starts))
    position = np.empty(len(ops), np.int64)
    position[order] = np.arange(len(ops))
    tokens = np.array([passed_pushers, passed_poppers], np.int64).T.reshape(-1, 2)
    tokens = tokens[np.argsort(position[tokens[:, 1]], kind="stable")]  # in the order they are popped
    return Timeline(starts, ends, order.tolist(), list(map(tuple, tokens.tolist())))


def _event_driven(ops: list[Op], token_depth: int, timing: bool) -> Timeline:
    """The schedule by simulating the units: always issue the earliest-starting ready head."""
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
    return Timeline(np.array(start, np.int64), np.array(end, np.int64), order, passed, blocked)


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
