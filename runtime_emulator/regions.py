"""Block layout of on-chip matrix regions: reading and writing a region as one numpy matrix.

A region `(addr, rows, cols, bs)` of a memory with `dim` lanes per row keeps element (r, c) in
row `addr + (c // dim) * bs + r`, lane `c % dim` (docs/architecture.md). The functions here are
the only place that layout is spelled out; every instruction reads and writes through them.

Invariants:
- reads return a `(rows, cols)` array and writes touch only the logical elements: lanes past
  `cols` in the last column block keep their contents;
- no Python loop over rows or blocks: whole blocks move through one strided view of the memory
  (a fancy-indexed gather only where `depth` copies share rows);
- the caller has checked the region against the memory's size (see `footprint.py`).
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Region:
    """An on-chip matrix region in block layout; `bs` only matters when cols > dim."""

    addr: int
    rows: int
    cols: int
    bs: int

    def blocks(self, dim: int) -> int:
        return -(-self.cols // dim)

    def block_starts(self, dim: int) -> np.ndarray:
        """First row of each column block."""
        return self.addr + np.arange(self.blocks(dim), dtype=np.int64) * self.bs


def stacked_row_index(region: Region, dim: int, depth: int = 1, depth_stride: int = 0) -> np.ndarray:
    """Row of every (copy d, column block j, row r) of `depth` copies of a region, `depth_stride`
    rows apart: shape `(depth, blocks, rows)`."""
    copies = np.arange(depth, dtype=np.int64)[:, None, None] * depth_stride
    blocks = region.block_starts(dim)[None, :, None]
    return copies + blocks + np.arange(region.rows, dtype=np.int64)[None, None, :]


def _stacked_blocks(mem: np.ndarray, region: Region, depth: int, depth_stride: int) -> np.ndarray:
    """`(depth, blocks, rows, dim)` strided view of the region's rows: no gather, no copy.
    `mem` is a whole (C-contiguous) memory; the caller has checked the rows are inside it."""
    row_bytes, lane_bytes = mem.strides
    shape = (depth, region.blocks(mem.shape[1]), region.rows, mem.shape[1])
    strides = (depth_stride * row_bytes, region.bs * row_bytes, row_bytes, lane_bytes)
    return np.ndarray(shape, mem.dtype, mem, region.addr * row_bytes, strides)


def _copies_overlap(region: Region, dim: int, depth: int, depth_stride: int) -> bool:
    """Whether two of the `depth` copies share a row (a strided write would then be ill-defined)."""
    span = (region.blocks(dim) - 1) * region.bs + region.rows
    return depth > 1 and depth_stride < span


def _is_one_slice(region: Region, dim: int, depth: int) -> bool:
    return depth == 1 and region.cols <= dim


def read_regions(mem: np.ndarray, region: Region, depth: int = 1, depth_stride: int = 0) -> np.ndarray:
    """`depth` copies of the region, `depth_stride` rows apart, as a `(depth, rows, cols)` array
    (a view of `mem` when it is one block)."""
    dim = mem.shape[1]
    rows, cols = region.rows, region.cols
    if _is_one_slice(region, dim, depth):
        return mem[None, region.addr:region.addr + rows, :cols]
    blocks = _stacked_blocks(mem, region, depth, depth_stride)  # (depth, blocks, rows, dim)
    return blocks.transpose(0, 2, 1, 3).reshape(depth, rows, -1)[:, :, :cols]


def write_regions(mem: np.ndarray, region: Region, values: np.ndarray, depth_stride: int = 0) -> None:
    """Store a `(depth, rows, cols)` array into `depth` copies of the region, `depth_stride` rows
    apart, leaving lanes outside the logical columns untouched. Where copies share rows, every
    copy's full blocks are written in order, then every copy's last partial block."""
    dim = mem.shape[1]
    depth, rows, cols = values.shape
    if _is_one_slice(region, dim, depth):
        mem[region.addr:region.addr + rows, :cols] = values[0]
        return
    full_blocks, tail = divmod(cols, dim)
    if _copies_overlap(region, dim, depth, depth_stride):
        _write_through_index(mem, stacked_row_index(region, dim, depth, depth_stride), values, full_blocks, tail)
        return
    target = _stacked_blocks(mem, region, depth, depth_stride)
    if full_blocks:
        target[:, :full_blocks] = values[:, :, :full_blocks * dim].reshape(depth, rows, full_blocks, dim).transpose(0, 2, 1, 3)
    if tail:
        target[:, full_blocks, :, :tail] = values[:, :, full_blocks * dim:]


def _write_through_index(mem, row_index, values, full_blocks: int, tail: int) -> None:
    depth, rows, _ = values.shape
    dim = mem.shape[1]
    if full_blocks:
        full = values[:, :, :full_blocks * dim].reshape(depth, rows, full_blocks, dim)
        mem[row_index[:, :full_blocks]] = full.transpose(0, 2, 1, 3)
    if tail:
        mem[row_index[:, full_blocks], :tail] = values[:, :, full_blocks * dim:]


def read_region_as(mem: np.ndarray, region: Region, dtype) -> np.ndarray:
    """The region's elements converted to `dtype`, as a `(rows, cols)` array whose rows are
    C-contiguous up to the last column block: one strided pass over the memory, no other copy."""
    blocks = _stacked_blocks(mem, region, 1, 0)[0]  # (blocks, rows, dim)
    converted = blocks.transpose(1, 0, 2).astype(dtype, order="C")  # (rows, blocks, dim)
    return converted.reshape(region.rows, -1)[:, :region.cols]


def read_region(mem: np.ndarray, region: Region) -> np.ndarray:
    """The region's elements as a `(rows, cols)` array (a view when it is one block)."""
    return read_regions(mem, region)[0]


def write_region(mem: np.ndarray, region: Region, values: np.ndarray) -> None:
    """Store a `(rows, cols)` array into the region, leaving lanes outside it untouched."""
    shape = (region.rows, region.cols)
    write_regions(mem, region, (values if values.shape == shape else np.broadcast_to(values, shape))[None])


def read_row_vector(mem: np.ndarray, addr: int, cols: int) -> np.ndarray:
    """A row vector (one value per column, rows = 1, bs = 1) as a `(cols,)` array."""
    return read_region(mem, Region(addr, 1, cols, 1))[0]


def read_column_vector(mem: np.ndarray, addr: int, rows: int) -> np.ndarray:
    """A column vector (one value per row, lane 0) as a `(rows,)` array."""
    return mem[addr:addr + rows, 0]
