"""The run pauses CPython's cycle collector and leaves it as it found it: enabled or disabled,
a caller's frozen objects still frozen, and the run's own objects promoted to the oldest
generation (none left young for the next collection to walk)."""

import gc

import numpy as np
import pytest

from tests.runtime_emulator.harness import ProgramBuilder, load, store


def small_program() -> ProgramBuilder:
    b = ProgramBuilder()
    x = b.input("x", np.arange(256, dtype=np.uint8).reshape(16, 16))
    out = b.output("y", "uint8", (16, 16))
    b.sequence([load(x, 16, 16, 0)], [store(out, 16, 16, 0)])
    return b


@pytest.mark.parametrize("check_hazards", [False, True])
def test_collector_enabled_again_with_no_young_objects_left(check_hazards):
    assert gc.isenabled()
    result = small_program().run(check_hazards=check_hazards)
    assert gc.isenabled()
    oldest = {id(obj) for obj in gc.get_objects(2)}
    kept = [result.program, *result.program.bodies] + (result.program.known_ops if check_hazards else [])
    assert all(id(obj) in oldest for obj in kept), "the run's objects are not in the oldest generation"
    assert np.array_equal(result.outputs["y"], np.arange(256, dtype=np.uint8).reshape(16, 16))


def test_collector_left_disabled_and_a_callers_frozen_objects_left_frozen():
    program = small_program()
    kept = [[] for _ in range(10)]
    gc.disable()
    try:
        program.run()
        assert not gc.isenabled()
    finally:
        gc.enable()
    gc.freeze()
    try:
        small_program().run()
        in_generations = {id(obj) for generation in range(3) for obj in gc.get_objects(generation)}
        assert id(kept) not in in_generations, "the run unfroze the caller's frozen objects"
    finally:
        gc.unfreeze()
