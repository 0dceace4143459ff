"""dma.load / dma.store against numpy written from the ISA reference (docs/architecture.md)."""

import numpy as np

from tests.runtime_emulator.harness import ProgramBuilder, assert_equal, load, mask, store

DIM = 16


def block_layout(matrix: np.ndarray, bs: int, dim: int = DIM) -> dict[tuple[int, int], object]:
    """(row, lane) -> value of a matrix stored at row 0 in block layout, from the formula
    element (r, c) -> row (c // dim) * bs + r, lane c % dim."""
    return {((c // dim) * bs + r, c % dim): matrix[r, c] for r in range(matrix.shape[0]) for c in range(matrix.shape[1])}


def test_spad_round_trip_with_column_blocks_and_untouched_lanes():
    rng = np.random.default_rng(1)
    x = rng.integers(-128, 128, (5, 37), dtype=np.int8)
    b = ProgramBuilder()
    src = b.input("x", x)
    out = b.output("y", "int8", (5, 37))
    # Fill rows 0..23 with a marker, then load x over it with bs = 8: lanes past col 37 keep it.
    marker = np.full((24, DIM), 7, np.int8)
    fill = b.input("marker", marker)
    b.sequence([load(fill, 24, DIM, 0), load(src, 5, 37, 0, bs=8)], [store(out, 5, 37, 0, bs=8)])
    result = b.run()
    assert_equal("y", result.outputs["y"], x)


def test_layout_of_loaded_region_matches_block_formula():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (3, 40), dtype=np.uint8)
    b = ProgramBuilder()
    src = b.input("x", x)
    out = b.output("spad", "uint8", (24, DIM))
    # Load with bs = 8, then dump the raw rows 0..23 (a 24 x 16 single-block region).
    b.sequence([load(src, 3, 40, 0, bs=8)], [store(out, 24, DIM, 0)])
    raw = b.run().outputs["spad"]
    expected = np.zeros((24, DIM), np.uint8)
    for (row, lane), value in block_layout(x, 8).items():
        expected[row, lane] = value
    assert_equal("spad rows", raw, expected)


def test_acc_words_depth_and_strides():
    rng = np.random.default_rng(3)
    x = rng.integers(-2**31, 2**31, (2, 4, 20), dtype=np.int64).astype(np.int32)
    b = ProgramBuilder()
    src = b.input("x", x)
    out = b.output("y", "int32", (2, 4, 20))
    common = dict(mem=1, bs=4, depth=2, depth_stride=8, dram_depth_stride=4 * 20 * 4)
    b.sequence([load(src, 4, 20, 10, **common)], [store(out, 4, 20, 10, **common)])
    assert_equal("y", b.run().outputs["y"], x)


def test_broadcast_row_and_zero_fill():
    row = np.arange(20, dtype=np.int32) - 5
    b = ProgramBuilder()
    src = b.input("row", row)
    out = b.output("y", "int32", (6, 20))
    zeros = b.output("z", "int32", (3, 20))
    b.sequence(
        [("dma.load", dict(mem=1, addr=0, rows=6, cols=20, bs=6, dram=src, dram_stride=0)),
         ("dma.load", dict(mem=1, addr=20, rows=3, cols=20, bs=3, dram=0, dram_stride=0, zero=1))],
        [store(out, 6, 20, 0, mem=1, bs=6), store(zeros, 3, 20, 20, mem=1, bs=3)],
    )
    result = b.run()
    assert_equal("y", result.outputs["y"], np.broadcast_to(row, (6, 20)).copy())
    assert_equal("z", result.outputs["z"], np.zeros((3, 20), np.int32))


def test_store_with_dram_stride_leaves_gaps_untouched():
    x = np.arange(4 * 16, dtype=np.uint8).reshape(4, 16)
    b = ProgramBuilder()
    src = b.input("x", x)
    out = b.output("y", "uint8", (4, 32))
    b.sequence([load(src, 4, 16, 0)], [("dma.store", dict(mem=0, addr=0, rows=4, cols=16, bs=4, dram=out, dram_stride=32))])
    expected = np.zeros((4, 32), np.uint8)
    expected[:, :16] = x
    assert_equal("y", b.run().outputs["y"], expected)


def test_store_whose_dram_rows_overlap_keeps_the_last_row():
    """`dram_stride` below the row's bytes (0: every row on the same bytes; 8: each row over
    half of the one before): the rows are written in order, so where they overlap the later
    row's bytes win."""
    x = np.arange(4 * 16, dtype=np.uint8).reshape(4, 16)
    for stride in (0, 8):
        b = ProgramBuilder()
        src = b.input("x", x)
        out = b.output("y", "uint8", (48,))
        b.sequence([load(src, 4, 16, 0)], [("dma.store", dict(mem=0, addr=0, rows=4, cols=16, bs=4, dram=out, dram_stride=stride))])
        expected = np.zeros(48, np.uint8)
        for r in range(4):
            expected[r * stride:r * stride + 16] = x[r]
        assert_equal(f"y (dram_stride {stride})", b.run().outputs["y"], expected)
