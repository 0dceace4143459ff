"""Block layout reads and writes (`runtime_emulator.regions`) against an element-by-element
reference written from docs/architecture.md: element (r, c) of copy d of a region lives in row
`addr + d*depth_stride + (c // dim) * bs + r`, lane `c % dim`; a write touches nothing else, and
where copies share rows (a DMA with a small depth stride) the copies are written in order, each
copy's full column blocks first and then every copy's last partial block."""

import itertools

import numpy as np
import pytest

from runtime_emulator.regions import Region, read_regions, write_regions

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
