"""Elementwise vector instructions work on whole column blocks (`regions.block_view`): they
compute on the lanes past a region's columns too and write only the logical ones. Those lanes
are adversarial here: NaN and infinity bit patterns, zeros (a divisor), arbitrary bytes. Every
instruction must give exactly what it gives with the lanes zeroed (the logical results do not
depend on them), leave the destination's own extra lanes as they were, and raise nothing.

Each case runs an instruction on 7 rows x 23 columns (two blocks, the second with 7 logical
lanes of 16) twice: once with every lane of the source and destination blocks filled first
with the background, then the sources' logical elements loaded over it; once with a zero
background. The destination blocks are stored whole (all 32 lanes)."""

import numpy as np
import pytest

from tests.runtime_emulator.harness import ProgramBuilder, assert_equal, load, store

ROWS, COLS, WIDE = 7, 23, 32
F32 = np.float32
# Where each operand lives: ACC rows (float32 / int32 words) or SPAD rows (bytes).
ACC_A, ACC_B, ACC_C, ACC_DST, ACC_ROWVEC, ACC_COLVEC, SPAD_A, SPAD_B, SPAD_DST, SPAD_TAB = 0, 20, 40, 60, 80, 90, 0, 20, 40, 100


def acc_background(kind: str) -> np.ndarray:
    words = np.zeros((ROWS, WIDE), np.uint32)
    if kind == "hostile":
        words[:] = np.array([0x7FC00001, 0x7F800000, 0xFF800000, 0, 0x80000000, 0x00000001, 0x7F7FFFFF], np.uint32)[:, None]
    return words.view(np.int32)


def spad_background(kind: str) -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, (ROWS, WIDE)).astype(np.uint8) if kind == "hostile" else np.zeros((ROWS, WIDE), np.uint8)


def run_case(instruction, acc_sources, spad_sources, dst_mem: int, background: str) -> np.ndarray:
    """Fill every lane of the ACC rows at ACC_A, ACC_B, ACC_C, ACC_DST, the row vector and the
    column vector rows (and the SPAD rows likewise) with the background, load the logical
    sources over it, run `instruction` and return the destination's two blocks whole."""
    b = ProgramBuilder()
    acc_fill = b.input("acc_fill", acc_background(background))
    spad_fill = b.input("spad_fill", spad_background(background))
    loads = []
    for addr in (ACC_A, ACC_B, ACC_C, ACC_DST):
        loads.append(load(acc_fill, ROWS, WIDE, addr, mem=1, bs=ROWS))
    loads += [load(acc_fill, 2, 16, ACC_ROWVEC, mem=1, bs=2), load(acc_fill, ROWS, 1, ACC_COLVEC, mem=1, bs=ROWS)]
    for addr in (SPAD_A, SPAD_B, SPAD_DST):
        loads.append(load(spad_fill, ROWS, WIDE, addr, bs=ROWS))
    for name, (addr, values) in acc_sources.items():
        rows, cols = values.shape
        loads.append(load(b.input(name, values), rows, cols, addr, mem=1, bs=rows if cols > 1 else rows))
    for name, (addr, values) in spad_sources.items():
        rows, cols = values.shape
        loads.append(load(b.input(name, values), rows, cols, addr, bs=rows))
    dst_addr = ACC_DST if dst_mem else SPAD_DST
    out = b.output("dst", "int32" if dst_mem else "uint8", (ROWS, WIDE))
    b.sequence(loads, [instruction], [store(out, ROWS, WIDE, dst_addr, mem=dst_mem, bs=ROWS)])
    return b.run().outputs["dst"]


def expect_same_logical_lanes(instruction, acc_sources, spad_sources, dst_mem: int) -> None:
    quiet = run_case(instruction, acc_sources, spad_sources, dst_mem, "zero")
    hostile = run_case(instruction, acc_sources, spad_sources, dst_mem, "hostile")
    name = instruction[0]
    assert_equal(f"{name}: logical elements", hostile[:, :COLS], quiet[:, :COLS])
    background = acc_background("hostile") if dst_mem else spad_background("hostile")
    assert_equal(f"{name}: destination lanes past the columns", hostile[:, COLS:], background[:, COLS:])


def f32(value: float) -> float:
    """The float32 nearest `value`, as the Python float an f32 field takes."""
    return float(F32(value))


def f32_words(values) -> np.ndarray:
    return np.asarray(values, F32).view(np.int32)


RNG = np.random.default_rng(11)
X = f32_words((RNG.standard_normal((ROWS, COLS)) * 3).astype(F32))
Y = f32_words((RNG.standard_normal((ROWS, COLS)) + 2).astype(F32))
I = RNG.integers(-5000, 5000, (ROWS, COLS)).astype(np.int32)
NONZERO_I = np.where(I == 0, 7, I).astype(np.int32)
CODES_A = RNG.integers(0, 256, (ROWS, COLS)).astype(np.uint8)
CODES_B = RNG.integers(0, 256, (ROWS, COLS)).astype(np.uint8)
ROW_VECTOR = f32_words((RNG.standard_normal((1, COLS)) * 0.01).astype(F32))
COLUMN_VECTOR = f32_words((RNG.random((ROWS, 1)) + 0.5).astype(F32))
REGION = dict(rows=ROWS, cols=COLS)

CASES = {
    "requant per column": (("requant", dict(src=ACC_A, dst=SPAD_DST, src_bs=ROWS, dst_bs=ROWS, u=1, zy=3, lo=0, hi=255,
                                             pc=1, mult_addr=ACC_ROWVEC) | REGION),
                           {"i": (ACC_A, I), "m": (ACC_ROWVEC, ROW_VECTOR)}, {}, 0),
    "quant per row": (("quant", dict(src=ACC_A, dst=SPAD_DST, src_bs=ROWS, dst_bs=ROWS, u=0, zp=-3, pr=1, s_addr=ACC_COLVEC) | REGION),
                      {"x": (ACC_A, X), "s": (ACC_COLVEC, COLUMN_VECTOR)}, {}, 0),
    "dequant": (("dequant", dict(src=SPAD_A, dst=ACC_DST, src_bs=ROWS, dst_bs=ROWS, u=1, zp=128, scale=0.25) | REGION),
                {}, {"a": (SPAD_A, CODES_A)}, 1),
    "valu f32 div": (("valu", dict(op="div", ty="f32", bmode=0, a=ACC_A, b=ACC_B, dst=ACC_DST, a_bs=ROWS, b_bs=ROWS, dst_bs=ROWS) | REGION),
                     {"x": (ACC_A, X), "y": (ACC_B, Y)}, {}, 1),
    "valu i32 div": (("valu", dict(op="div", ty="i32", bmode=0, a=ACC_A, b=ACC_B, dst=ACC_DST, a_bs=ROWS, b_bs=ROWS, dst_bs=ROWS) | REGION),
                     {"i": (ACC_A, I), "d": (ACC_B, NONZERO_I)}, {}, 1),
    "valu scalef per column": (("valu", dict(op="scalef", ty="f32", bmode=2, a=ACC_A, b=ACC_ROWVEC, dst=ACC_DST, a_bs=ROWS, b_bs=1,
                                             dst_bs=ROWS) | REGION), {"x": (ACC_A, X), "m": (ACC_ROWVEC, ROW_VECTOR)}, {}, 1),
    "vunary recip": (("vunary", dict(fn="recip", src=ACC_A, dst=ACC_DST, src_bs=ROWS, dst_bs=ROWS) | REGION), {"x": (ACC_A, X)}, {}, 1),
    "vfma row and column operands": (("vfma", dict(bmode=1, cmode=2, a=ACC_A, b=ACC_COLVEC, c=ACC_ROWVEC, dst=ACC_DST, a_bs=ROWS,
                                                   b_bs=1, c_bs=1, dst_bs=ROWS) | REGION),
                                     {"x": (ACC_A, X), "s": (ACC_COLVEC, COLUMN_VECTOR), "m": (ACC_ROWVEC, ROW_VECTOR)}, {}, 1),
    "qadd kernel": (("qadd", dict(a=SPAD_A, b=SPAD_B, c=SPAD_DST, a_bs=ROWS, b_bs=ROWS, c_bs=ROWS, mode="kernel", au=1, bu=1, cu=1,
                                  ra=f32(0.134), rb=f32(0.964), fixed=f32(-13.2)) | REGION), {}, {"a": (SPAD_A, CODES_A), "b": (SPAD_B, CODES_B)}, 0),
    "qmul float, b a row vector": (("qmul", dict(a=SPAD_A, b=SPAD_B, c=SPAD_DST, a_bs=ROWS, b_bs=1, c_bs=ROWS, mode="float", bbc=1,
                                                 au=1, bu=0, cu=0, za=120, zb=0, zc=5, sa=f32(0.05), sb=f32(0.1), sc=f32(0.2)) | REGION),
                                   {}, {"a": (SPAD_A, CODES_A), "b": (SPAD_B, CODES_B[:1])}, 0),
    "lut with row offsets": (("lut", dict(src=SPAD_A, dst=SPAD_DST, src_bs=ROWS, dst_bs=ROWS, u=1, out=0, tab=SPAD_TAB, off=3,
                                          pr=1, r_addr=ACC_COLVEC) | REGION),
                             {"r": (ACC_COLVEC, np.arange(ROWS, dtype=np.int32)[:, None] * 37)},
                             {"a": (SPAD_A, CODES_A), "t": (SPAD_TAB, (np.arange(256) * 7 % 256).astype(np.uint8).reshape(16, 16))}, 0),
}


@pytest.mark.parametrize("case", CASES)
def test_lanes_past_the_columns_change_nothing(case):
    instruction, acc_sources, spad_sources, dst_mem = CASES[case]
    expect_same_logical_lanes(instruction, acc_sources, spad_sources, dst_mem)
