"""DRAM memory plan: activations reuse space by liveness; constants follow in one section.

DRAM layout of a binary: `[0, arena)` holds inputs, outputs and activations; `[arena, end)` is
the constant section (loaded by the emulator before the run), which `ConstantPool` grows while
code is emitted (weights, biases, multiplier vectors, tables).

Invariants: two buffers share bytes only if their live ranges (first write .. last read, in op
indices) do not overlap; every buffer starts at a multiple of `ALIGN`; placement is first-fit in
a fixed order, so the same graph always gets the same addresses.
"""

from compiler.codegen.layout_plan import Buffer, LayoutPlan

ALIGN = 64


def align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def plan_activations(plan: LayoutPlan, reuse: bool = True) -> int:
    """Give every non-constant buffer an address; returns the arena size in bytes. Without
    `reuse` every buffer gets its own bytes (so a run leaves every intermediate in DRAM)."""
    placed: list[Buffer] = []
    arena = 0
    for buffer in sorted((b for b in plan.buffers if b.kind != "const"), key=lambda b: (b.first, -b.nbytes)):
        live = sorted((b for b in placed if not reuse or not (b.last < buffer.first or buffer.last < b.first)), key=lambda b: b.addr)
        addr = 0
        for other in live:
            if addr + buffer.nbytes <= other.addr:
                break
            addr = max(addr, align(other.addr + other.nbytes))
        buffer.addr = addr
        placed.append(buffer)
        arena = max(arena, align(addr + buffer.nbytes))
    return arena


class ConstantPool:
    """The constant section, appended to as code is emitted; identical blocks are stored once."""

    def __init__(self, base: int):
        self.base = base
        self.data = bytearray()
        self._known: dict[bytes, int] = {}

    def add(self, data: bytes) -> int:
        """DRAM address of `data` in the constant section."""
        data = bytes(data)
        if data not in self._known:
            self.data += bytes(align(len(self.data)) - len(self.data))
            self._known[data] = self.base + len(self.data)
            self.data += data
        return self._known[data]

    def place(self, buffer: Buffer) -> None:
        if buffer.addr is None:
            buffer.addr = self.add(buffer.data)

    @property
    def end(self) -> int:
        return self.base + align(len(self.data))
