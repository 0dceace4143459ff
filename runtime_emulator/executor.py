"""Running the instructions' semantics in the order the scheduler issued them.

The issue order (`scheduler.Timeline.order`) respects every token, so each instruction sees
every value a token promised it. With a `HazardChecker`, every instruction is checked before it
runs: a popped token carries the vector clock its pusher had when it issued, exactly as the
units would pass it.

Invariants: BLAS is single-threaded and float warnings are off while instructions run (IEEE
inf and NaN are the semantics, not something to warn about); an error from an instruction is
re-raised naming it (`program.describe`).
"""

import numpy as np

from isa.errors import VitcError
from runtime_emulator.blas import single_threaded_blas
from runtime_emulator.hazards import HazardChecker
from runtime_emulator.program import Op, describe
from runtime_emulator.scheduler import Timeline


def execute(ops: list[Op], timeline: Timeline, hazards: HazardChecker | None) -> None:
    """Run `timeline.order`'s instructions (bound to their machine by `program.prepare`),
    checking hazards when given a checker."""
    with np.errstate(all="ignore"), single_threaded_blas():
        if hazards is None:
            _run(ops, timeline.order)
        else:
            _run_checked(ops, timeline, hazards)


def _run(ops: list[Op], order) -> None:
    runs = [ops[pc].body.run for pc in order]
    running = 0  # position in `order` of the instruction running, named if it raises
    try:
        for running, run in enumerate(runs):
            run()
    except VitcError as err:
        op = ops[order[running]]
        raise VitcError(f"{describe(op.pc, op.instruction)}: {err}") from None


def _run_checked(ops: list[Op], timeline: Timeline, hazards: HazardChecker) -> None:
    pushers: dict[int, list[int]] = {}  # popper pc -> pcs whose tokens it pops
    for pusher, popper in timeline.tokens:
        pushers.setdefault(popper, []).append(pusher)
    clocks: dict[int, np.ndarray] = {}  # pusher pc -> the clock its tokens carry
    for pc in timeline.order:
        op = ops[pc]
        if op.unit >= 0:
            seq = hazards.start(op.unit, [clocks[pusher] for pusher in pushers.get(pc, ())])
            hazards.access(op.unit, seq, op.accesses)
            hazards.access_dram(op.unit, seq, op)
            if op.signals:
                clocks[pc] = hazards.token_clock(op.unit)
        _run(ops, (pc,))
