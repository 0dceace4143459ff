"""`program.prepare` checks every instruction on the field columns of all instructions of a kind
at once (`footprint.check_columns`, `implemented_checks`); these tests hold it to checking each
instruction on its own, against the ISA's meaning written out element by element here:

- random programs of DMAs, copies and `valu`s (most with some field out of range): `prepare`
  refuses exactly when the spec below finds a bad instruction, names the first one in program
  order, and gives the message that preparing that instruction alone gives;
- at one instruction the order is: not implemented, then its layer, then its operands;
- the first bad instruction is reported even when a later one's kind is checked first.

The spec: a region `(addr, rows, cols, bs)` holds element (r, c) in row `addr + (c // dim) * bs
+ r` (copies `d*depth_stride` further); sizes are at least 1, a region of several column blocks
has rows <= bs, no access touches more rows (with repeats) than its memory has nor a row past
its end, a copy's destination shares no row with its source, and a DMA's DRAM bytes
`dram + d*dram_depth_stride + r*dram_stride + c*esize + (0..esize-1)` lie inside DRAM.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isa.config import load_config
from isa.encoding import Instruction, encode_program
from isa.errors import VitcError
from runtime_emulator import program
from runtime_emulator.implemented import IMPLEMENTED
from runtime_emulator.machine import Machine

CONFIG = load_config("default")
DIM = CONFIG.dim
DRAM_SIZE = 4096
ROWS = {0: CONFIG.spad_rows, 1: CONFIG.acc_rows}  # by `mem`


def prepare(instructions: list[Instruction], layer_count: int = 1):
    machine = Machine(DRAM_SIZE, CONFIG.spad_rows, CONFIG.acc_rows, DIM)
    return program.prepare(encode_program(instructions + [Instruction("halt", {})]), CONFIG, machine, layer_count)


def region_rows(addr, rows, cols, bs, depth=1, depth_stride=0) -> np.ndarray:
    """Every row of every element (copies, rows, columns), repeats included."""
    d, r, c = np.meshgrid(np.arange(depth), np.arange(rows), np.arange(cols), indexing="ij")
    return (addr + d * depth_stride + (c // DIM) * bs + r).ravel()


def region_fault(mem_rows, addr, rows, cols, bs, depth=1, depth_stride=0) -> bool:
    if -(-cols // DIM) > 1 and rows > bs:
        return True
    touched = region_rows(addr, rows, cols, bs, depth, depth_stride)
    blocks_touched = depth * rows * -(-cols // DIM)  # with repeats, one per row of each block
    return blocks_touched > mem_rows or touched.max() >= mem_rows


def spec_fault(instr: Instruction) -> bool:
    """Whether the ISA refuses the instruction (module docstring), by enumeration."""
    f, mnemonic = instr.fields, instr.mnemonic
    if any(f.get(name, 1) < 1 for name in ("rows", "cols", "depth")):
        return True
    if mnemonic.startswith("dma."):
        if region_fault(ROWS[f["mem"]], f["addr"], f["rows"], f["cols"], f["bs"], f["depth"], f["depth_stride"]):
            return True
        if f.get("zero"):
            return False
        esize = 4 if f["mem"] else 1
        d, r = np.meshgrid(np.arange(f["depth"]), np.arange(f["rows"]), indexing="ij")
        last = f["dram"] + d * f["dram_depth_stride"] + r * f["dram_stride"] + f["cols"] * esize - 1
        return last.max() >= DRAM_SIZE
    if mnemonic == "copy":
        src = (f["src"], f["rows"], f["cols"], f["src_bs"])
        dst = (f["dst"], f["rows"], f["cols"], f["dst_bs"])
        if region_fault(ROWS[f["mem"]], *src) or region_fault(ROWS[f["mem"]], *dst):
            return True
        return bool(np.intersect1d(region_rows(*src), region_rows(*dst)).size)
    assert mnemonic == "valu"
    regions = [(f["a"], f["rows"], f["cols"], f["a_bs"]), (f["dst"], f["rows"], f["cols"], f["dst_bs"])]
    regions += [[(f["b"], f["rows"], f["cols"], f["b_bs"])], [(f["b"], f["rows"], 1, 1)],
                [(f["b"], 1, f["cols"], 1)], []][f["bmode"]]  # full, row (column vector), col (row vector), scalar
    return any(region_fault(ROWS[1], *region) for region in regions)


# Mostly valid values, boundaries included (a size of 0, bs equal to rows, the last rows).
sizes = st.sampled_from([1, 1, 3, 3, 16, 16, 17, 40, 40, 0])
strides = st.sampled_from([0, 1, 3, 16, 16, 17, 40, 40, 60])
spad_addrs = st.sampled_from([0, 8, 100, CONFIG.spad_rows - 40, CONFIG.spad_rows - 1])
acc_addrs = st.sampled_from([0, 8, 30, CONFIG.acc_rows - 40, CONFIG.acc_rows - 1])


@st.composite
def dma(draw):
    mnemonic = draw(st.sampled_from(["dma.load", "dma.store"]))
    mem = draw(st.integers(0, 1))
    fields = dict(mem=mem, addr=draw(acc_addrs if mem else spad_addrs), rows=draw(sizes), cols=draw(sizes),
                  bs=draw(strides), depth=draw(st.sampled_from([1, 1, 1, 2, 3, 0])), depth_stride=draw(strides),
                  dram=draw(st.sampled_from([0, 1000, 3500, 4090])), dram_stride=draw(st.sampled_from([0, 16, 40, 160])),
                  dram_depth_stride=draw(st.sampled_from([0, 100, 700])))
    if mnemonic == "dma.load":
        fields["zero"] = draw(st.integers(0, 1))
    return Instruction(mnemonic, fields)


@st.composite
def copy(draw):
    mem = draw(st.integers(0, 1))
    addrs = acc_addrs if mem else spad_addrs
    return Instruction("copy", dict(mem=mem, src=draw(addrs), dst=draw(st.one_of(addrs, st.integers(0, 60))),
                                    rows=draw(sizes), cols=draw(sizes), src_bs=draw(strides), dst_bs=draw(strides)))


@st.composite
def valu(draw):
    return Instruction("valu", dict(op=0, ty=0, bmode=draw(st.integers(0, 3)), dst=draw(acc_addrs), a=draw(acc_addrs),
                                    b=draw(acc_addrs), rows=draw(sizes), cols=draw(sizes), dst_bs=draw(strides),
                                    a_bs=draw(strides), b_bs=draw(strides)))


def refusal(instructions: list[Instruction]) -> str | None:
    try:
        prepare(instructions)
    except VitcError as err:
        return str(err)
    return None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(dma(), copy(), valu()), min_size=1, max_size=12))
def test_a_program_is_refused_at_its_first_bad_instruction_as_that_instruction_alone(instructions):
    faults = [spec_fault(instr) for instr in instructions]
    message = refusal(instructions)
    if not any(faults):
        assert message is None, f"refused a program the spec accepts: {message}"
        return
    first = faults.index(True)
    assert message is not None, f"pc {first} breaks the spec, prepare accepted it"
    assert message.startswith(f"pc {first} (offset 0x{first * 64:x}) `{instructions[first].mnemonic} "), message
    alone = refusal([instructions[first]])
    assert alone is not None and alone.split("`: ", 1)[1] == message.split("`: ", 1)[1], (alone, message)


VALID_COPY = Instruction("copy", dict(mem=0, src=0, dst=32, rows=16, cols=16, src_bs=16, dst_bs=16))
BAD_LOAD = Instruction("dma.load", dict(mem=0, addr=CONFIG.spad_rows - 1, rows=16, cols=16, bs=16, dram=0, dram_stride=16))
OVERLAPPING_COPY = Instruction("copy", dict(mem=0, src=0, dst=8, rows=16, cols=16, src_bs=16, dst_bs=16))


def test_the_first_bad_instruction_is_reported_whatever_the_order_kinds_are_checked_in():
    # dma.load's opcode is lower than copy's: its checks run first, its error comes later.
    with pytest.raises(VitcError, match=r"^pc 1 .*`copy .*overlap at spad row 8"):
        prepare([VALID_COPY, OVERLAPPING_COPY, BAD_LOAD])
    with pytest.raises(VitcError, match=r"^pc 1 .*`dma.load .*spad row 16398 is out of range"):
        prepare([VALID_COPY, BAD_LOAD, OVERLAPPING_COPY])


def test_at_one_instruction_unimplemented_then_layer_then_operands(monkeypatch):
    bad_both = Instruction("copy", dict(OVERLAPPING_COPY.fields, layer=3))
    with pytest.raises(VitcError, match=r"^pc 1 .*layer 3 is not in the binary's layer table \(1 names\)"):
        prepare([VALID_COPY, bad_both])
    monkeypatch.setitem(IMPLEMENTED, "copy", {**IMPLEMENTED["copy"], "mem": ("acc",)})
    with pytest.raises(VitcError, match=r"^pc 0 .*does not implement mem=spad of copy yet"):
        prepare([VALID_COPY, bad_both])


def test_an_access_of_exactly_the_whole_memory_is_accepted_one_more_row_is_not():
    whole = dict(mem=1, zero=1, addr=0, rows=CONFIG.acc_rows // 2, cols=1, bs=1, depth=2,
                 depth_stride=CONFIG.acc_rows // 2, dram=0, dram_stride=0)
    prepare([Instruction("dma.load", whole)])
    with pytest.raises(VitcError, match=r"addr: touches 1026 acc rows \(with repeats\), more than the 1024 it has"):
        prepare([Instruction("dma.load", dict(whole, rows=CONFIG.acc_rows // 2 + 1))])
