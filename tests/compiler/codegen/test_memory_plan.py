"""plan_activations against the placement rule its docstring states, written out one buffer and
one candidate address at a time: buffers in order of first write (larger first), each at the
lowest multiple of 64 where it overlaps no placed buffer it conflicts with (live ranges that
overlap, or that lie fewer than `distance` layers apart; every placed buffer without reuse)."""

import types

import numpy as np
import pytest

from compiler.codegen.layout_plan import Buffer
from compiler.codegen.memory_plan import ALIGN, plan_activations


def _random_buffers(rng, count: int) -> list[Buffer]:
    buffers = []
    for i in range(count):
        first = int(rng.integers(-1, 40))
        last = first + int(rng.integers(0, 12))
        buffers.append(Buffer(f"b{i}", int(rng.integers(1, 5000)), "activation", first=first, last=last))
    buffers.append(Buffer("w", 100, "const", array=np.zeros(100, np.uint8)))  # constants are not placed
    return buffers


def _layer_at(op_index: int) -> int:
    return op_index // 3  # three ops per layer


def _conflict(a: Buffer, b: Buffer, reuse: bool, distance: int) -> bool:
    if not reuse:
        return True

    def dead_before(x: Buffer, y: Buffer) -> bool:
        return x.last < y.first and (distance == 0 or _layer_at(y.first) - _layer_at(x.last) >= distance)

    return not (dead_before(a, b) or dead_before(b, a))


def _reference(buffers: list[Buffer], reuse: bool, distance: int) -> dict[str, int]:
    placed: dict[str, tuple[int, Buffer]] = {}
    for buffer in sorted((b for b in buffers if b.kind != "const"), key=lambda b: (b.first, -b.nbytes)):
        taken = [(addr, other) for addr, other in placed.values() if _conflict(buffer, other, reuse, distance)]
        addr = 0
        while any(addr < start + other.nbytes and start < addr + buffer.nbytes for start, other in taken):
            addr += ALIGN
        placed[buffer.name] = (addr, buffer)
    return {name: addr for name, (addr, _) in placed.items()}


@pytest.mark.parametrize("reuse, distance", [(True, 0), (True, 2), (False, 0)])
@pytest.mark.parametrize("seed", range(6))
def test_placement_follows_the_first_fit_rule(seed, reuse, distance):
    rng = np.random.default_rng(seed)
    buffers = _random_buffers(rng, 60)
    arena = plan_activations(types.SimpleNamespace(buffers=buffers), reuse, _layer_at, distance)
    want = _reference(buffers, reuse, distance)
    for buffer in buffers:
        if buffer.kind == "const":
            assert buffer.addr is None, buffer.name
            continue
        assert buffer.addr == want[buffer.name], f"{buffer.name}: placed at {buffer.addr}, the rule gives {want[buffer.name]}"
    ends = [-(-(b.addr + b.nbytes) // ALIGN) * ALIGN for b in buffers if b.kind != "const"]
    assert arena == max(ends)
