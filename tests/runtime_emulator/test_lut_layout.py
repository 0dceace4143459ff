"""lut, transpose and copy against numpy written from the ISA reference."""

import numpy as np
import pytest

from tests.runtime_emulator.harness import ProgramBuilder, assert_equal, load, store

ROWS, COLS = 6, 40


@pytest.mark.parametrize("u,out,per_row", [(0, 0, False), (1, 0, True), (0, 1, True)])
def test_lut(u, out, per_row):
    rng = np.random.default_rng(90 + u + 2 * out)
    x = rng.integers(0, 256, (ROWS, COLS)).astype(np.uint8 if u else np.int8)
    table = (rng.integers(-2**31, 2**31, 256).astype(np.int32) if out else rng.integers(0, 256, 256).astype(np.uint8))
    rowvec = rng.integers(-300, 300, (ROWS, 1)).astype(np.int32)
    off = -77
    b = ProgramBuilder()
    x_dram, t_dram, r_dram = b.input("x", x), b.input("table", table), b.input("rowvec", rowvec)
    y = b.output("y", str(table.dtype), (ROWS, COLS))
    fields = dict(src=0, dst=100, rows=ROWS, cols=COLS, src_bs=ROWS, dst_bs=ROWS, u=u, out=out, tab=200, off=off)
    if per_row:
        fields |= dict(pr=1, r_addr=300)
    b.sequence(
        [load(x_dram, ROWS, COLS, 0), load(t_dram, 1, 256, 200, mem=out, bs=1), load(r_dram, ROWS, 1, 300, mem=1)],
        [("lut", fields)],
        [store(y, ROWS, COLS, 100, mem=out)],
    )
    index = x.astype(np.int64) + off - (rowvec if per_row else 0)
    assert_equal("lut", b.run().outputs["y"], table[index % 256])


def test_transpose_multi_block():
    rng = np.random.default_rng(95)
    x = rng.integers(0, 256, (20, 35)).astype(np.uint8)
    b = ProgramBuilder()
    src = b.input("x", x)
    out = b.output("y", "uint8", (35, 20))
    b.sequence([load(src, 20, 35, 0, bs=20)],
               [("transpose", dict(src=0, dst=100, rows=20, cols=35, src_bs=20, dst_bs=40))],
               [store(out, 35, 20, 100, bs=40)])
    assert_equal("transpose", b.run().outputs["y"], x.T.copy())


@pytest.mark.parametrize("mem", [0, 1])
def test_copy_changes_block_stride(mem):
    x = np.arange(9 * 33, dtype=np.int32 if mem else np.uint8).reshape(9, 33)
    b = ProgramBuilder()
    src = b.input("x", x)
    out = b.output("y", str(x.dtype), x.shape)
    b.sequence([load(src, 9, 33, 0, mem=mem, bs=9)],
               [("copy", dict(mem=mem, src=0, dst=50, rows=9, cols=33, src_bs=9, dst_bs=12))],
               [store(out, 9, 33, 50, mem=mem, bs=12)])
    assert_equal("copy", b.run().outputs["y"], x)

