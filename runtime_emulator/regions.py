"""Block layout of on-chip matrix regions: reading and writing a region as one numpy matrix.

A region `(addr, rows, cols, bs)` of a memory with `dim` lanes per row keeps element (r, c) in
row `addr + (c // dim) * bs + r`, lane `c % dim` (docs/architecture.md). The functions here are
the only place that layout is spelled out; every instruction reads and writes through them.

Two views of a region: as a matrix (`region_reader` / `region_writer`, `(depth, rows, cols)`),
and in block space (`block_view` / `block_writer`, `(blocks, rows, dim)`: every lane of each
column block, for elementwise work with no gather); DMAs copy between DRAM and a region through
views made once (`copier_into_region`, `copier_from_region`). Gathers in matrix order move a
block row (`dim` elements) as one item of bytes (`block_row_items`).

Invariants:
- matrix reads return a `(rows, cols)` array; block views also read the lanes past `cols` in
  the last column block, and every write touches only the logical elements: those lanes keep
  their contents;
- no Python loop over rows or blocks: whole blocks move through one strided view of the memory
  (a fancy-indexed gather only where `depth` copies share rows);
- the caller has checked the region against the memory's size (see `footprint.py`).
"""

import functools
from typing import Callable, NamedTuple

import numpy as np


class Region(NamedTuple):
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


class Placement(NamedTuple):
    """A strided view of a memory's rows with the address taken out: its shape, item type and
    strides. Views of the same shape at different rows are one `Placement` placed at each row
    (`at`, one ndarray constructor): a binder making many views of one shape makes the
    placement once (a pure function of the shape, cacheable)."""

    shape: tuple
    dtype: np.dtype
    strides: tuple

    def at(self, mem: np.ndarray, addr: int) -> np.ndarray:
        """The view starting at row `addr` of `mem`, a whole (C-contiguous) memory of the
        placement's row size; the caller has checked the rows are inside it."""
        return np.ndarray(self.shape, self.dtype, mem, addr * mem.strides[0], self.strides)


def blocks_placement(dtype, dim: int, rows: int, cols: int, bs: int, depth: int = 1,
                     depth_stride: int = 0) -> Placement:
    """`stacked_blocks`'s view of a region of `rows x cols` (block stride `bs`) of a memory of
    `dim` lanes of `dtype`: `(depth, blocks, rows, dim)`."""
    dtype = np.dtype(dtype)
    lane_bytes = dtype.itemsize
    row_bytes = dim * lane_bytes
    return Placement((depth, -(-cols // dim), rows, dim), dtype,
                     (depth_stride * row_bytes, bs * row_bytes, row_bytes, lane_bytes))


def stacked_blocks(mem: np.ndarray, region: Region, depth: int = 1, depth_stride: int = 0) -> np.ndarray:
    """`(depth, blocks, rows, dim)` strided view of the region's rows: no gather, no copy.
    `mem` is a whole (C-contiguous) memory; the caller has checked the rows are inside it."""
    placement = blocks_placement(mem.dtype, mem.shape[1], region.rows, region.cols, region.bs, depth, depth_stride)
    return placement.at(mem, region.addr)


@functools.lru_cache(maxsize=None)
def _row_item(nbytes: int) -> np.dtype:
    """The type of one item of `nbytes` raw bytes (a block row of a memory)."""
    return np.dtype((np.void, nbytes))


def row_items_placement(row_bytes: int, dim: int, rows: int, cols: int, bs: int, depth: int = 1,
                        depth_stride: int = 0) -> Placement:
    """`block_row_items`'s view of a region of `rows x cols` (block stride `bs`) of a memory of
    `dim` lanes, `row_bytes` a row: `(depth, rows, blocks)` items of a row's bytes."""
    return Placement((depth, rows, -(-cols // dim)), _row_item(row_bytes),
                     (depth_stride * row_bytes, row_bytes, bs * row_bytes))


def block_row_items(mem: np.ndarray, region: Region, depth: int = 1, depth_stride: int = 0) -> np.ndarray:
    """`(depth, rows, blocks)` strided view of the region's block rows, each one item of raw
    bytes (the row's `dim` elements, lanes past `cols` included), in row-major order of the
    matrix: copying it (or a same-shaped view of items) moves one item per block row instead of
    `dim` elements, several times faster than an element copy whose inner loop is a block row.
    `mem` is a whole (C-contiguous) memory; the caller has checked the rows are inside it."""
    placement = row_items_placement(mem.strides[0], mem.shape[1], region.rows, region.cols, region.bs, depth, depth_stride)
    return placement.at(mem, region.addr)


def _copies_overlap(region: Region, dim: int, depth: int, depth_stride: int) -> bool:
    """Whether two of the `depth` copies share a row (a strided write would then be ill-defined)."""
    span = (region.blocks(dim) - 1) * region.bs + region.rows
    return depth > 1 and depth_stride < span


def _is_one_slice(region: Region, dim: int, depth: int) -> bool:
    return depth == 1 and region.cols <= dim


def region_reader(mem: np.ndarray, region: Region, depth: int = 1, depth_stride: int = 0) -> Callable[[], np.ndarray]:
    """A function reading `depth` copies of the region, `depth_stride` rows apart, as a
    `(depth, rows, cols)` array (a view of `mem` when it is one block). The views it reads
    through are made once, here."""
    dim = mem.shape[1]
    rows, cols = region.rows, region.cols
    if _is_one_slice(region, dim, depth):
        view = mem[None, region.addr:region.addr + rows, :cols]
        return lambda: view
    items = block_row_items(mem, region, depth, depth_stride)
    return lambda: items.copy().view(mem.dtype).reshape(depth, rows, -1)[:, :, :cols]


def _broadcast(values: np.ndarray, shape: tuple) -> np.ndarray:
    """`values` as an array of `shape` (depth, rows, cols); cheap in the common cases."""
    if values.shape == shape:
        return values
    if values.shape == shape[1:]:
        return values[None]
    return np.broadcast_to(values, shape)


def region_writer(mem: np.ndarray, region: Region, depth: int = 1, depth_stride: int = 0) -> Callable[[np.ndarray], None]:
    """A function storing a `(depth, rows, cols)` array (or one broadcasting to it) into `depth`
    copies of the region, `depth_stride` rows apart, leaving lanes outside the logical columns
    untouched. Where copies share rows, every copy's full blocks are written in order, then
    every copy's last partial block. The views it writes through are made once, here."""
    dim = mem.shape[1]
    rows, cols = region.rows, region.cols
    shape = (depth, rows, cols)
    if _is_one_slice(region, dim, depth):
        target = mem[region.addr:region.addr + rows, :cols]

        def write_slice(values):
            target[...] = values[0] if values.ndim == 3 else values
        return write_slice
    full_blocks, tail = divmod(cols, dim)
    if _copies_overlap(region, dim, depth, depth_stride):
        row_index = stacked_row_index(region, dim, depth, depth_stride)
        full_rows, tail_rows = row_index[:, :full_blocks], row_index[:, full_blocks] if tail else None

        def write_indexed(values):
            values = _broadcast(values, shape)
            if full_blocks:
                mem[full_rows] = values[:, :, :full_blocks * dim].reshape(depth, rows, full_blocks, dim).transpose(0, 2, 1, 3)
            if tail:
                mem[tail_rows, :tail] = values[:, :, full_blocks * dim:]
        return write_indexed
    blocks = stacked_blocks(mem, region, depth, depth_stride)
    full_by_row = blocks[:, :full_blocks].transpose(0, 2, 1, 3)  # (depth, rows, full_blocks, dim)
    split = (depth, rows, full_blocks, dim)
    if not tail:  # the common case, in the fewest numpy calls

        def write_full_blocks(values):
            full_by_row[...] = _broadcast(values, shape).reshape(split)
        return write_full_blocks
    tail_target = blocks[:, full_blocks, :, :tail]

    def write_blocks(values):
        values = _broadcast(values, shape)
        if full_blocks:
            full_by_row[...] = values[:, :, :full_blocks * dim].reshape(split)
        tail_target[...] = values[:, :, full_blocks * dim:]
    return write_blocks


def _part_pairs(mem: np.ndarray, region: Region, other: np.ndarray, depth: int, depth_stride: int) -> list[tuple]:
    """The logical elements of `depth` copies of the region and of `other`, a `(depth, rows,
    cols)` array whose rows are contiguous, as pairs of views of the same shape, (on-chip part,
    other's part), each pair copying in one numpy call: the full column blocks, then the last
    partial block (the parts that exist). Where both hold the same element type a block row is
    one item of bytes (its `dim` elements), so that a copy moves one item per block row instead
    of `dim` elements, several times faster on long rows; a byte-swapped DRAM word copies
    element-wise, as a value."""
    dim = mem.shape[1]
    full_blocks, tail = divmod(region.cols, dim)
    pairs = []
    if full_blocks and other.dtype == mem.dtype:
        onchip = block_row_items(mem, region, depth, depth_stride)[:, :, :full_blocks]
        pairs.append((onchip, other[..., :full_blocks * dim].view(onchip.dtype)))
    elif full_blocks:
        blocks = stacked_blocks(mem, region, depth, depth_stride)[:, :full_blocks].transpose(0, 2, 1, 3)
        pairs.append((blocks, other[..., :full_blocks * dim].reshape(*blocks.shape)))
    if tail:
        pairs.append((stacked_blocks(mem, region, depth, depth_stride)[:, full_blocks, :, :tail],
                      other[..., full_blocks * dim:region.cols]))
    return pairs


def _copier(pairs: list[tuple]) -> Callable[[], None]:
    """A function copying each pair's second view into its first."""
    # Assignments, not np.copyto: the same copy without copyto's Python-level dispatch (~0.3 us,
    # tens of thousands of times a run).
    if len(pairs) == 1:
        target, source = pairs[0]
        return functools.partial(target.__setitem__, Ellipsis, source)

    def copy_parts():
        for target, source in pairs:
            target[...] = source
    return copy_parts


def copier_into_region(mem: np.ndarray, region: Region, source: np.ndarray, depth: int = 1,
                       depth_stride: int = 0) -> Callable[[], None]:
    """A function copying `source`, a fixed `(depth, rows, cols)` array (a view of memory the
    region does not share, e.g. DRAM, its rows contiguous), into `depth` copies of the region as
    `region_writer` would, in one numpy call per part through views made once, here."""
    if _copies_overlap(region, mem.shape[1], depth, depth_stride):
        write = region_writer(mem, region, depth, depth_stride)
        return lambda: write(source)
    return _copier(_part_pairs(mem, region, source, depth, depth_stride))


def copier_from_region(mem: np.ndarray, region: Region, target: np.ndarray, depth: int = 1,
                       depth_stride: int = 0) -> Callable[[], None]:
    """A function copying `depth` copies of the region into `target`, a fixed
    `(depth, rows, cols)` array whose elements are distinct memory the region does not share
    (e.g. DRAM, its rows contiguous), in one numpy call per part through views made once, here."""
    return _copier([(theirs, ours) for ours, theirs in _part_pairs(mem, region, target, depth, depth_stride)])


def block_view(mem: np.ndarray, region: Region) -> np.ndarray:
    """`(blocks, rows, dim)` strided view of the region's column blocks, every lane of each
    (lanes past `cols` in the last block included): elementwise work runs on whole blocks with
    no gather. Operands of one instruction have the same rows and columns, so their block views
    line up lane for lane; `block_writer` stores only the logical lanes."""
    return stacked_blocks(mem, region)[0]


def block_row_vector(mem: np.ndarray, addr: int, cols: int) -> np.ndarray:
    """A row vector (one value per column, rows = 1, bs = 1) as a `(blocks, 1, dim)` view, which
    broadcasts against the block view of a region of `cols` columns."""
    return mem[addr:addr + -(-cols // mem.shape[1]), None, :]


def block_column_vector(mem: np.ndarray, addr: int, rows: int) -> np.ndarray:
    """A column vector (one value per row, lane 0) as a `(1, rows, 1)` view, which broadcasts
    against the block view of a region of `rows` rows."""
    return mem[addr:addr + rows, 0][None, :, None]


def block_writer(mem: np.ndarray, region: Region) -> Callable[[np.ndarray], None]:
    """A function storing a `(blocks, rows, dim)` array (or one broadcasting to it) into the
    region's logical elements: every lane of its full column blocks and the first `cols mod dim`
    lanes of its partial last block, nothing else. Values convert to the memory's type as an
    assignment does (float codes of `numerics.round_to_code` exactly)."""
    full_blocks, tail = divmod(region.cols, mem.shape[1])
    blocks = block_view(mem, region)
    if not tail:
        return functools.partial(blocks.__setitem__, Ellipsis)
    full_target, tail_target = blocks[:full_blocks], blocks[full_blocks, :, :tail]

    def write_blocks(values):
        if full_blocks:
            full_target[...] = values[:full_blocks]
        tail_target[...] = values[-1, :, :tail]
    return write_blocks


def read_regions(mem: np.ndarray, region: Region, depth: int = 1, depth_stride: int = 0) -> np.ndarray:
    """`depth` copies of the region as a `(depth, rows, cols)` array (see `region_reader`)."""
    return region_reader(mem, region, depth, depth_stride)()


def write_regions(mem: np.ndarray, region: Region, values: np.ndarray, depth_stride: int = 0) -> None:
    """Store a `(depth, rows, cols)` array into `depth` copies of the region (see `region_writer`)."""
    region_writer(mem, region, values.shape[0], depth_stride)(values)


def read_region(mem: np.ndarray, region: Region) -> np.ndarray:
    """The region's elements as a `(rows, cols)` array (a view when it is one block)."""
    return read_regions(mem, region)[0]


def write_region(mem: np.ndarray, region: Region, values: np.ndarray) -> None:
    """Store a `(rows, cols)` array (or one broadcasting to it) into the region, leaving lanes
    outside it untouched."""
    region_writer(mem, region)(values)


def read_row_vector(mem: np.ndarray, addr: int, cols: int) -> np.ndarray:
    """A row vector (one value per column, rows = 1, bs = 1) as a `(cols,)` array."""
    return read_region(mem, Region(addr, 1, cols, 1))[0]


def read_column_vector(mem: np.ndarray, addr: int, rows: int) -> np.ndarray:
    """A column vector (one value per row, lane 0) as a `(rows,)` array."""
    return mem[addr:addr + rows, 0]
