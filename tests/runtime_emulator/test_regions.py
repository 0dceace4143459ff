"""Block layout reads and writes (`runtime_emulator.regions`) against an element-by-element
reference written from docs/architecture.md: element (r, c) of copy d of a region lives in row
`addr + d*depth_stride + (c // dim) * bs + r`, lane `c % dim`; a write touches nothing else, and
where copies share rows (a DMA with a small depth stride) the copies are written in order, each
copy's full column blocks first and then every copy's last partial block."""

import itertools

import numpy as np
import pytest

from runtime_emulator.regions import Region, copier_from_region, copier_into_region, read_regions, write_regions
from tests.runtime_emulator.harness import assert_equal

DIM = 16


def reference_write(mem, region, values, depth_stride):
    depth, rows, cols = values.shape
    full_blocks = cols // DIM
    order = sorted(itertools.product(range(depth), range(rows), range(cols)),
                   key=lambda drc: (drc[2] // DIM >= full_blocks, drc[0]))  # full blocks, then tails
    for d, r, c in order:
        mem[region.addr + d * depth_stride + (c // DIM) * region.bs + r, c % DIM] = values[d, r, c]


CASES = [  # (rows, cols, bs, depth, depth_stride)
    (5, 40, 7, 1, 0),    # three blocks with gaps between them, a partial last block
    (4, 32, 4, 1, 0),    # contiguous full blocks
    (3, 20, 3, 3, 12),   # copies apart
    (3, 20, 5, 3, 2),    # copies sharing rows
    (2, 16, 2, 4, 0),    # one row block repeated (broadcast)
    (6, 9, 6, 2, 3),     # one partial block, copies overlapping
]


@pytest.mark.parametrize("rows, cols, bs, depth, depth_stride", CASES)
def test_write_then_read(rows, cols, bs, depth, depth_stride):
    rng = np.random.default_rng(rows * 100 + cols)
    region = Region(9, rows, cols, bs)
    values = rng.integers(-2**31, 2**31, (depth, rows, cols)).astype(np.int32)
    before = rng.integers(-2**31, 2**31, (128, DIM)).astype(np.int32)
    got, expected = before.copy(), before.copy()
    write_regions(got, region, values, depth_stride)
    reference_write(expected, region, values, depth_stride)
    differs = got != expected
    assert not differs.any(), f"row, lane {tuple(np.argwhere(differs)[0])}: got {got[differs][0]}, expected {expected[differs][0]}"
    read = read_regions(got, region, depth, depth_stride)
    for d, r, c in itertools.product(range(depth), range(rows), range(cols)):
        row = region.addr + d * depth_stride + (c // DIM) * bs + r
        assert read[d, r, c] == got[row, c % DIM], f"read ({d}, {r}, {c}): {read[d, r, c]} != row {row}"


def strided_source(rng, depth, rows, cols, dtype):
    """A `(depth, rows, cols)` view with gaps between its rows and copies (as a DMA's DRAM
    window is), filled with random values."""
    backing = rng.integers(0, 256, (depth, rows + 1, cols + 3)).astype(dtype)
    return backing[:, 1:, 2:cols + 2]


@pytest.mark.parametrize("rows, cols, bs, depth, depth_stride", CASES)
def test_copier_into_region_equals_writing_the_values(rows, cols, bs, depth, depth_stride):
    """The DMA load's copy through views made once writes what `write_regions` writes, copies
    sharing rows included, and nothing else."""
    rng = np.random.default_rng(rows * 100 + cols + 7)
    region = Region(9, rows, cols, bs)
    source = strided_source(rng, depth, rows, cols, np.int32)
    before = rng.integers(-2**31, 2**31, (128, DIM)).astype(np.int32)
    got, expected = before.copy(), before.copy()
    copy = copier_into_region(got, region, source, depth, depth_stride)
    source[...] += 1  # the copier reads the source when it runs, not when it is made
    copy()
    reference_write(expected, region, source, depth_stride)
    assert_equal(f"memory after copying into {region} depth {depth}", got, expected)


@pytest.mark.parametrize("rows, cols, bs, depth, depth_stride", CASES)
def test_copier_from_region_equals_reading_the_values(rows, cols, bs, depth, depth_stride):
    """The DMA store's copy through views made once gives the values `read_regions` reads, and
    touches nothing of the target's backing array but its elements."""
    rng = np.random.default_rng(rows * 100 + cols + 11)
    region = Region(9, rows, cols, bs)
    mem = rng.integers(-2**31, 2**31, (128, DIM)).astype(np.int32)
    backing = rng.integers(-2**31, 2**31, (depth, rows + 1, cols + 3)).astype(np.int32)
    expected_backing = backing.copy()
    target = backing[:, 1:, 2:cols + 2]
    copy = copier_from_region(mem, region, target, depth, depth_stride)
    mem += 1  # the copier reads the region when it runs, not when it is made
    copy()
    expected_backing[:, 1:, 2:cols + 2] = read_regions(mem, region, depth, depth_stride)
    assert_equal(f"target after copying from {region} depth {depth}", backing, expected_backing)


@pytest.mark.parametrize("cols", [DIM, 3 * DIM + 5])
def test_copiers_convert_words_of_the_other_byte_order(cols):
    """A DRAM view in the other byte order holds the same values in different bytes: the copiers
    move values, not bytes (a block row copied as one item of bytes would swap them)."""
    other = np.dtype(np.int32).newbyteorder("S")
    rng = np.random.default_rng(cols)
    region = Region(5, 6, cols, 8)
    values = rng.integers(-2**31, 2**31, (1, 6, cols)).astype(np.int32)
    got = np.zeros((64, DIM), np.int32)
    copier_into_region(got, region, values.astype(other))()
    assert_equal("region loaded from other-order words", read_regions(got, region), values)
    stored = np.zeros((1, 6, cols), other)
    copier_from_region(got, region, stored)()
    assert_equal("other-order words stored from the region", stored.astype(np.int32), values)
