"""On-chip buffer allocation: bump allocators over halves of the scratchpad and accumulator.

Consecutive IR ops get alternate halves (`OnChipPlan.for_op`), so the loads of one op can run
while the previous op still computes (the token scheduler only orders real conflicts). Within
an op, `Arena.alloc` hands out rows first-come; an op that needs more than its half gets a
`VitcError` naming the op, never an overlapping buffer.
"""

from compiler.codegen.region import Region
from isa.errors import VitcError


class Arena:
    """Rows [base, base + size) of one memory, handed out in order."""

    def __init__(self, mem: str, base: int, size: int, owner: str):
        self.mem, self.base, self.size, self.owner = mem, base, size, owner
        self.used = 0

    @property
    def free(self) -> int:
        return self.size - self.used

    def alloc_rows(self, rows: int, what: str) -> int:
        if rows > self.free:
            raise VitcError(f"{self.owner}: {what} needs {rows} {self.mem} rows, only {self.free} of {self.size} are left")
        addr = self.base + self.used
        self.used += rows
        return addr

    def region(self, rows: int, cols: int, dim: int, what: str) -> Region:
        """A packed `rows x cols` region (block stride = rows)."""
        blocks = -(-cols // dim)
        return Region(self.mem, self.alloc_rows(rows * blocks, what), rows, cols, rows)

    def row_vector(self, cols: int, dim: int, what: str) -> Region:
        """A `1 x cols` region with block stride 1 (one value per column, e.g. multipliers)."""
        return Region(self.mem, self.alloc_rows(-(-cols // dim), what), 1, cols, 1)


class OnChipPlan:
    """Which half of each memory the n-th op uses."""

    def __init__(self, config):
        self.config = config

    def for_op(self, index: int, owner: str) -> tuple[Arena, Arena]:
        spad_half = self.config.spad_rows // 2
        acc_half = self.config.acc_rows // 2
        side = index % 2
        return (Arena("spad", side * spad_half, spad_half, owner),
                Arena("acc", side * acc_half, acc_half, owner))
