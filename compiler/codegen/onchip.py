"""On-chip buffer allocation: each op's arenas placed one after the other around a ring.

Every op gets, in the scratchpad and in the accumulator, an arena of half the memory (its
budget: tiling decisions are made against it, so they do not depend on placement), and
`Arena.alloc_rows` hands out its rows first-come; an op that needs more than its budget gets a
`VitcError` naming the op, never an overlapping buffer. The n-th op's arena starts where the
rows the (n-1)-th op really used end, or at row 0 when a whole budget no longer fits before
the end of the memory (`OnChipPlan.for_op`). Ops that use little of their budget thus leave
the rows of several ops before them untouched, so more than two layers can be in flight at
once (the `interleave` pass overlaps them; `tokens.py` orders whatever does overlap).

Invariants: an arena is contiguous and lies inside its memory; an op's own buffers never
overlap each other; the placement depends only on the order of the ops and what each used.
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

    @property
    def end(self) -> int:
        """One past the last row handed out."""
        return self.base + self.used

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
    """Where each op's arenas lie: after those of the op before it, around a ring."""

    def __init__(self, config):
        self.config = config
        self._arenas: dict[int, tuple[Arena, Arena]] = {}  # op number -> the arenas last handed out for it

    def for_op(self, index: int, owner: str) -> tuple[Arena, Arena]:
        before = self._arenas.get(index - 1)
        arenas = (self._next(0 if before is None else before[0].end, self.config.spad_rows, "spad", owner),
                  self._next(0 if before is None else before[1].end, self.config.acc_rows, "acc", owner))
        self._arenas[index] = arenas
        return arenas

    @staticmethod
    def _next(start: int, rows: int, mem: str, owner: str) -> Arena:
        budget = rows // 2
        return Arena(mem, start if start + budget <= rows else 0, budget, owner)
