"""DRAM memory plan: activations reuse space by liveness; constants follow in one section.

DRAM layout of a binary: `[0, arena)` holds inputs, outputs and activations; `[arena, end)` is
the constant section (loaded by the emulator before the run), which `ConstantPool` grows while
code is emitted (weights, biases, multiplier vectors, tables).

`plan_activations` places the buffers (the `plan-memory` pass records each address as the
`dram_offset` attribute of the op, or graph input, whose value owns the buffer);
`recorded_addresses` reads them back for the driver.

Invariants: two buffers share bytes only if their live ranges (first write .. last read, in op
indices) do not overlap (and, when asked, lie a given number of layers apart); every buffer starts at a multiple of `ALIGN`; placement is first-fit in
a fixed order, so the same graph always gets the same addresses.
"""

from typing import Callable

import numpy as np

from compiler.codegen.layout_plan import Buffer, LayoutPlan
from compiler.ir.graph import Graph
from isa.errors import VitcError

ALIGN = 64


def align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def plan_activations(plan: LayoutPlan, reuse: bool = True, layer_at: Callable[[int], int] | None = None,
                     distance: int = 0) -> int:
    """Give every non-constant buffer an address; returns the arena size in bytes. Without
    `reuse` every buffer gets its own bytes (so a run leaves every intermediate in DRAM).

    With `distance` d > 0, a buffer takes bytes of one that died before it only if it is first
    written at least d layers after that one's last read (`layer_at`: op index -> the number of
    the layer that op is emitted in). The instructions of nearby layers may be interleaved (the
    `interleave` pass); bytes shared within that distance would order them, a false dependency.

    Each buffer, in order of first write (larger first), goes to the lowest aligned address
    below, between or above the buffers placed before it that it conflicts with (in address
    order): the placed buffers are columns, so each placement is a few numpy operations."""
    order = sorted((b for b in plan.buffers if b.kind != "const"), key=lambda b: (b.first, -b.nbytes))
    count = len(order)
    first = np.array([b.first for b in order], np.int64)
    last = np.array([b.last for b in order], np.int64)
    nbytes = np.array([b.nbytes for b in order], np.int64)
    if distance:
        first_layer = np.array([layer_at(b.first) for b in order], np.int64)
        last_layer = np.array([layer_at(b.last) for b in order], np.int64)
    addrs = np.zeros(count, np.int64)
    arena = 0
    for i, buffer in enumerate(order):
        if reuse:  # the placed buffers dead (far enough) before it is written, or written after it dies, are free
            dead_before = last[:i] < first[i]
            born_after = last[i] < first[:i]
            if distance:
                dead_before &= first_layer[i] - last_layer[:i] >= distance
                born_after &= first_layer[:i] - last_layer[i] >= distance
            live = np.flatnonzero(~(dead_before | born_after))
        else:
            live = np.arange(i)
        live = live[np.argsort(addrs[live], kind="stable")]
        starts = addrs[live]
        # The first-fit address before each conflicting buffer: past every one below it.
        below = np.maximum.accumulate(np.concatenate(([0], align_array(starts + nbytes[live]))))
        fits = np.flatnonzero(below[:-1] + nbytes[i] <= starts)
        addr = int(below[fits[0]] if fits.size else below[-1])
        addrs[i] = buffer.addr = addr
        arena = max(arena, align(addr + buffer.nbytes))
    return arena


def align_array(n: np.ndarray) -> np.ndarray:
    return -(-n // ALIGN) * ALIGN


def annotations_of(graph: Graph, producers: dict, buffer: Buffer, create: bool = False) -> dict:
    """The attribute dict that records `buffer`'s offset: that of the op producing the value
    the buffer was made for, or that graph input's annotations (added to the graph if `create`)."""
    producer = producers.get(buffer.value)
    if producer is not None:
        return producer.attrs
    if create:
        return graph.input_attrs.setdefault(buffer.value, {})
    return graph.input_attrs.get(buffer.value, {})


def recorded_addresses(graph: Graph, plan: LayoutPlan) -> int:
    """Set every non-constant buffer's address from its `dram_offset`; returns the arena size."""
    producers = graph.producers()
    arena = 0
    for buffer in plan.buffers:
        if buffer.kind == "const":
            continue
        attrs = annotations_of(graph, producers, buffer)
        if "dram_offset" not in attrs:
            raise VitcError(f"buffer of %{buffer.value.name}: no DRAM offset recorded (attribute 'dram_offset' "
                            f"missing): run the plan-memory pass before code generation")
        buffer.addr = attrs["dram_offset"]
        if buffer.addr % ALIGN:
            raise VitcError(f"buffer of %{buffer.value.name}: dram_offset {buffer.addr} is not a multiple of {ALIGN}")
        arena = max(arena, align(buffer.addr + buffer.nbytes))
    return arena


class ConstantPool:
    """The constant section, appended to as code is emitted; identical blocks are stored once.
    The blocks are kept in a list and joined once (`data`): vit-base's 87 MB of weights are
    copied once, not grown in a bytearray and copied out of it."""

    def __init__(self, base: int):
        self.base = base
        self._blocks: list[bytes] = []  # the section's bytes in order, zero padding included
        self._size = 0
        self._known: dict[bytes, int] = {}

    def add(self, data: bytes) -> int:
        """DRAM address of `data` in the constant section."""
        data = bytes(data)
        addr = self._known.get(data)
        if addr is None:
            padding = align(self._size) - self._size
            self._blocks += [bytes(padding), data]
            addr = self._known[data] = self.base + self._size + padding
            self._size += padding + len(data)
        return addr

    def place(self, buffer: Buffer) -> None:
        if buffer.addr is None:
            buffer.addr = self.add(buffer.const_bytes())

    @property
    def data(self) -> bytes:
        return b"".join(self._blocks)

    @property
    def end(self) -> int:
        return self.base + align(self._size)
