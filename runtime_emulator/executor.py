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
from runtime_emulator.program import Program, describe
from runtime_emulator.scheduler import Timeline


def execute(program: Program, timeline: Timeline, hazards: HazardChecker | None) -> None:
    """Run `timeline.order`'s instructions (bound to their machine by `program.prepare`),
    checking hazards when given a checker."""
    with np.errstate(all="ignore"), single_threaded_blas():
        if hazards is None:
            _run(program, timeline.order)
        else:
            _run_checked(program, timeline, hazards)


def _run(program: Program, order: list[int]) -> None:
    """Run the instructions at `order`'s pcs: their bodies' semantics, looked up by the `body`
    column (no op is made unless one raises and is named)."""
    body_runs = [body.run for body in program.bodies]
    runs = list(map(body_runs.__getitem__, program.body[np.asarray(order, np.int64)].tolist()))
    running = 0  # position in `order` of the instruction running, named if it raises
    try:
        for running, run in enumerate(runs):
            run()
    except VitcError as err:
        raise _named(program, order[running], err) from None


def _run_checked(program: Program, timeline: Timeline, hazards: HazardChecker) -> None:
    ops = program.ops
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
        try:
            op.body.run()
        except VitcError as err:
            raise _named(program, pc, err) from None


def _named(program: Program, pc: int, err: VitcError) -> VitcError:
    """`err` raised by the instruction at `pc`, its message naming the instruction."""
    op = program.op(pc)
    return VitcError(f"{describe(op.pc, op.instruction)}: {err}")
