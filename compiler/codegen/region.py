"""An on-chip matrix in block layout: the unit of addressing shared by every lowering.

A `Region(mem, addr, rows, cols, bs)` is the matrix whose element (r, c) lives in row
`addr + (c // dim) * bs + r`, lane `c % dim` of memory `mem` ("spad" or "acc"), exactly the
block layout of docs/architecture.md that every instruction's region fields describe.

Invariants kept here: `rows <= bs` (column blocks never overlap), every size is positive, and a
sub-region keeps the parent's block stride so it addresses the same elements. A Region is an
immutable named tuple (checked when made): every tile of every lowering makes and hashes
several, so they must be cheap.
"""

from typing import NamedTuple

from isa.errors import VitcError

MEMORIES = ("spad", "acc")


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


class _RegionFields(NamedTuple):
    mem: str
    addr: int
    rows: int
    cols: int
    bs: int


class Region(_RegionFields):
    """A `rows x cols` matrix at row `addr` of `mem`, column blocks `bs` rows apart."""

    __slots__ = ()

    def __new__(cls, mem: str, addr: int, rows: int, cols: int, bs: int) -> "Region":
        region = tuple.__new__(cls, (mem, addr, rows, cols, bs))
        if mem not in MEMORIES:
            raise VitcError(f"region: memory must be one of {MEMORIES}, got {mem!r}")
        if addr < 0 or rows <= 0 or cols <= 0:
            raise VitcError(f"region {region}: address must be >= 0 and sizes positive")
        if rows > bs:
            raise VitcError(f"region {region}: {rows} rows exceed the block stride {bs}")
        return region

    @classmethod
    def packed(cls, mem: str, addr: int, rows: int, cols: int) -> "Region":
        """A region whose column blocks follow each other with no gap (bs = rows)."""
        return cls(mem, addr, rows, cols, rows)

    def n_blocks(self, dim: int) -> int:
        """Number of column blocks (`dim` lanes each)."""
        return ceil_div(self.cols, dim)

    def footprint_rows(self, dim: int) -> int:
        """Rows from `addr` up to and including the last row this region touches."""
        return (self.n_blocks(dim) - 1) * self.bs + self.rows

    def end(self, dim: int) -> int:
        """One past the last row this region touches."""
        return self.addr + self.footprint_rows(dim)

    def row_slice(self, start: int, count: int) -> "Region":
        """Rows `start .. start+count-1` of this region, same columns and block stride."""
        if start < 0 or count <= 0 or start + count > self.rows:
            raise VitcError(f"region {self}: row range {start}+{count} out of bounds")
        return Region(self.mem, self.addr + start, count, self.cols, self.bs)

    def col_blocks(self, first_block: int, cols: int, dim: int) -> "Region":
        """Columns starting at block `first_block` (a multiple of `dim` columns), `cols` wide."""
        start = first_block * dim
        if first_block < 0 or cols <= 0 or start + cols > self.cols:
            raise VitcError(f"region {self}: column range {start}+{cols} out of bounds")
        return Region(self.mem, self.addr + first_block * self.bs, self.rows, cols, self.bs)
