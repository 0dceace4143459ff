"""Event-driven execution of a prepared program over the four in-order units.

Each unit runs its own instructions in program order, one at a time. An instruction starts at
`max(unit free, push time of every token it pops, time its full signal queues got space)`; it
finishes `cycles` later and then pushes its tokens. The scheduler repeatedly issues, among the
units whose next instruction can start (its tokens are there and its signal queues have room),
the one with the earliest start (ties: lowest pc). Issuing executes the instruction's semantics
at once, so the functional order is the simulated start order, which respects every token.
An instruction can never start earlier than one already issued could have finished producing
its token, so issuing in start order is consistent.

Functional-only mode gives every instruction zero cycles: then the order is program order
wherever the tokens allow.

When no unit can issue but some have work left, the run stops with an error naming each
blocked unit's next instruction and what it waits for (a token never pushed, or a deadlock).
"""

from dataclasses import dataclass

import numpy as np

from isa.errors import VitcError
from runtime_emulator.blas import single_threaded_blas
from runtime_emulator.hazards import HazardChecker
from runtime_emulator.machine import Machine
from runtime_emulator.program import Op, describe
from runtime_emulator.tokens import Token, TokenQueues
from runtime_emulator.units import UNITS


@dataclass
class Timeline:
    """Start and end cycle of every instruction, indexed by pc, and every token that was
    passed, as (pusher pc, popper pc)."""

    start: np.ndarray
    end: np.ndarray
    tokens: list[tuple[int, int]]

    @property
    def cycles(self) -> int:
        return int(self.end.max()) if len(self.end) else 0


class Scheduler:
    def __init__(self, ops: list[Op], machine: Machine, token_depth: int, *, timing: bool, hazards: HazardChecker | None):
        self.ops = ops
        self.machine = machine
        self.timing = timing
        self.hazards = hazards
        self.tokens = TokenQueues(token_depth)
        self.queues = [[op for op in ops if op.unit == u] for u in range(len(UNITS))]
        self.heads = [0] * len(UNITS)
        self.free = [0] * len(UNITS)
        self.start = np.zeros(len(ops), np.int64)
        self.end = np.zeros(len(ops), np.int64)
        self.passed_tokens: list[tuple[int, int]] = []

    def run(self) -> Timeline:
        # IEEE float32 results (inf, NaN) are the semantics, not something to warn about.
        with np.errstate(all="ignore"), single_threaded_blas():
            self._issue_all()
        if any(self._head(unit) is not None for unit in range(len(UNITS))):
            raise VitcError(self._blocked_message())
        halt = self.ops[-1]
        self.start[halt.pc] = self.end[halt.pc] = max(self.free)
        return Timeline(self.start, self.end, self.passed_tokens)

    def _issue_all(self) -> None:
        # (start, pc) of each unit's next instruction, None while it cannot start. Issuing on
        # unit u changes only u's own head, the token fronts of the units it signals, and the
        # queue space of the units it popped from: only those entries are recomputed.
        ready = [self._head_ready(unit) for unit in range(len(UNITS))]
        while True:
            candidates = [entry for entry in ready if entry is not None]
            if not candidates:
                return
            start, pc = min(candidates)
            op = self.ops[pc]
            self._issue(op, start)
            for unit in {op.unit, *op.waits, *op.signals}:
                ready[unit] = self._head_ready(unit)

    def _head_ready(self, unit: int) -> tuple[int, int] | None:
        op = self._head(unit)
        if op is None:
            return None
        start = self._ready_at(op)
        return None if start is None else (start, op.pc)

    def _head(self, unit: int) -> Op | None:
        queue = self.queues[unit]
        return queue[self.heads[unit]] if self.heads[unit] < len(queue) else None

    def _ready_at(self, op: Op) -> int | None:
        start = self.free[op.unit]
        for src in op.waits:
            token = self.tokens.front(src, op.unit)
            if token is None:
                return None
            start = max(start, token.pushed_at)
        for dst in op.signals:
            space = self.tokens.space_at(op.unit, dst)
            if space is None:
                return None
            start = max(start, space)
        return start

    def _issue(self, op: Op, start: int) -> None:
        unit = op.unit
        popped = [self.tokens.pop(src, unit, start) for src in op.waits]
        self.passed_tokens += [(token.pusher_pc, op.pc) for token in popped]
        if self.hazards is not None:
            seq = self.hazards.start(unit, [token.clock for token in popped])
            self.hazards.access(unit, seq, op.accesses)
            self.hazards.access_dram(unit, seq, op)
        try:
            op.execute(self.machine, op.fields)
        except VitcError as err:
            raise VitcError(f"{describe(op.pc, op.instruction)}: {err}") from None
        end = start + (op.cycles if self.timing else 0)
        self.start[op.pc], self.end[op.pc] = start, end
        self.free[unit] = end
        self.heads[unit] += 1
        clock = self.hazards.token_clock(unit) if self.hazards is not None else None
        for dst in op.signals:
            self.tokens.push(unit, dst, Token(end, op.pc, clock))

    def _future_pushes(self, src: int, dst: int) -> int:
        return sum(1 for op in self.queues[src][self.heads[src]:] if dst in op.signals)

    def _blocked_message(self) -> str:
        lines, never_pushed = [], False
        for unit in range(len(UNITS)):
            op = self._head(unit)
            if op is None:
                continue
            for src in op.waits:
                if self.tokens.front(src, unit) is not None:
                    continue
                if self._future_pushes(src, unit):
                    reason = f"waits for a token from {UNITS[src]}"
                else:
                    never_pushed = True
                    reason = f"pops a token from {UNITS[src]} that is never pushed"
                lines.append(f"  {UNITS[unit]}: {describe(op.pc, op.instruction)} {reason}")
            for dst in op.signals:
                if self.tokens.space_at(unit, dst) is None:
                    lines.append(
                        f"  {UNITS[unit]}: {describe(op.pc, op.instruction)} needs room in the full "
                        f"token queue to {UNITS[dst]} (depth {self.tokens.depth})"
                    )
        title = "token popped that was never pushed" if never_pushed else "deadlock: every unit with work left is blocked"
        return title + "\n" + "\n".join(lines)

