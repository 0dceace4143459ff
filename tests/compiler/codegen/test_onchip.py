"""On-chip arenas around a ring (`onchip.OnChipPlan`): every op's budget is half of each memory
wherever it lies; an op's arenas start where the rows the op before it used end, and at row 0
when a whole budget no longer fits; asking twice for one op number places both after the op
before; arenas stay inside their memory (checked over random sequences of ops); an op that
needs more than its budget gets a VitcError naming it."""

import numpy as np
import pytest

from compiler.codegen.onchip import OnChipPlan
from isa.config import load_config
from isa.errors import VitcError

CONFIG = load_config("default")
SPAD, ACC = CONFIG.spad_rows, CONFIG.acc_rows


def test_each_op_starts_where_the_rows_the_op_before_used_end():
    plan = OnChipPlan(CONFIG)
    spad, acc = plan.for_op(0, "op0")
    assert (spad.base, spad.size, acc.base, acc.size) == (0, SPAD // 2, 0, ACC // 2)
    spad.alloc_rows(100, "x")
    acc.alloc_rows(10, "y")
    spad, acc = plan.for_op(1, "op1")
    assert (spad.base, acc.base) == (100, 10)
    assert (spad.free, acc.free) == (SPAD // 2, ACC // 2)


def test_a_budget_that_no_longer_fits_before_the_end_starts_at_row_zero():
    plan = OnChipPlan(CONFIG)
    spad, _ = plan.for_op(0, "op0")
    spad.alloc_rows(SPAD // 2, "x")
    spad, _ = plan.for_op(1, "op1")
    assert spad.base == SPAD // 2  # exactly fits
    spad.alloc_rows(1, "x")
    spad, _ = plan.for_op(2, "op2")
    assert spad.base == 0


def test_asking_twice_for_one_number_places_both_after_the_op_before():
    plan = OnChipPlan(CONFIG)
    plan.for_op(0, "op0")[0].alloc_rows(64, "x")
    first = plan.for_op(1, "matmul")[0]
    first.alloc_rows(32, "x")
    second = plan.for_op(1, "next op")[0]
    assert first.base == second.base == 64


@pytest.mark.parametrize("seed", range(5))
def test_arenas_stay_inside_memory_and_leave_the_op_before_alone_when_they_can(seed):
    rng = np.random.default_rng(seed)
    plan = OnChipPlan(CONFIG)
    previous = None
    for number in range(60):
        spad, acc = plan.for_op(number, f"op{number}")
        for arena, rows in ((spad, SPAD), (acc, ACC)):
            assert 0 <= arena.base and arena.base + arena.size <= rows
        used = int(rng.integers(1, SPAD // 2 + 1))
        spad.alloc_rows(used, "x")
        if previous is not None and previous.end + SPAD // 2 <= SPAD:
            assert spad.base == previous.end  # right after the op before: no shared rows
        previous = spad


def test_an_op_needing_more_than_its_budget_is_named():
    spad, _ = OnChipPlan(CONFIG).for_op(3, "qmatmul %y")
    spad.alloc_rows(SPAD // 2 - 5, "A tile")
    with pytest.raises(VitcError, match=r"qmatmul %y: B tile needs 6 spad rows, only 5 of \d+ are left"):
        spad.alloc_rows(6, "B tile")
