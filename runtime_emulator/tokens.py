"""Dependency-token queues: one counting FIFO per ordered pair of distinct units.

A token records when it was pushed (the producer's finish cycle), by which instruction, and,
when hazard checking is on, the producer's vector clock. A consumer pops the oldest token when it starts. Each queue
holds at most `depth` tokens: the n-th push (0-based) needs pop number `n - depth` to have
happened, so an instruction with a signal bit for a full queue cannot start before that pop.
"""

from collections import deque
from dataclasses import dataclass

import numpy as np

from runtime_emulator.units import UNITS


@dataclass(frozen=True, slots=True)
class Token:
    pushed_at: int
    pusher_pc: int
    clock: np.ndarray | None


class TokenQueues:
    def __init__(self, depth: int):
        self.depth = depth
        pairs = [(src, dst) for src in range(len(UNITS)) for dst in range(len(UNITS)) if src != dst]
        self.pending = {pair: deque() for pair in pairs}
        self.pushes = dict.fromkeys(pairs, 0)
        self.pop_times = {pair: [] for pair in pairs}

    def front(self, src: int, dst: int) -> Token | None:
        queue = self.pending[src, dst]
        return queue[0] if queue else None

    def pop(self, src: int, dst: int, cycle: int) -> Token:
        self.pop_times[src, dst].append(cycle)
        return self.pending[src, dst].popleft()

    def push(self, src: int, dst: int, token: Token) -> None:
        self.pushes[src, dst] += 1
        self.pending[src, dst].append(token)

    def space_at(self, src: int, dst: int) -> int | None:
        """Earliest cycle the next push to src -> dst fits; None if it waits for a future pop."""
        needed_pop = self.pushes[src, dst] - self.depth
        if needed_pop < 0:
            return 0
        pops = self.pop_times[src, dst]
        return pops[needed_pop] if needed_pop < len(pops) else None
