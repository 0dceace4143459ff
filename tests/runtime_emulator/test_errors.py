"""Bad input stops with one VitcError naming what and where: a corrupt or foreign binary, an
unknown opcode, an address out of range, a token never pushed, a deadlock, bad inputs."""

import numpy as np
import pytest

from isa.container import Binary, write_vitb
from isa.encoding import Instruction, encode, encode_program
from isa.errors import VitcError
from runtime_emulator import run_binary
from tests.runtime_emulator.harness import ProgramBuilder, mask

X = np.zeros((16, 16), np.int8)


def simple():
    b = ProgramBuilder()
    b.input("x", X)
    b.emit("dma.load", mem=0, addr=0, rows=16, cols=16, bs=16, dram=0, dram_stride=16)
    return b


def raw_binary(b: ProgramBuilder, code: bytes) -> bytes:
    return write_vitb(Binary(b.config.hash, code, b"", b.dram_size, b.dram_size, b.io, b.layers))


def test_truncated_and_corrupt_files():
    b = simple()
    image = b.binary()
    with pytest.raises(VitcError, match="offset"):
        run_binary(image[:-7], b.inputs, b.config)
    with pytest.raises(VitcError, match="magic"):
        run_binary(b"XXXX" + image[4:], b.inputs, b.config)
    with pytest.raises(VitcError, match="version"):
        run_binary(image[:4] + b"\x09\x00\x00\x00" + image[8:], b.inputs, b.config)


def test_binary_for_another_configuration():
    b = simple()
    with pytest.raises(VitcError, match=r"built for hardware configuration .* not 'large'"):
        run_binary(b.binary(), b.inputs, "large")


def test_unknown_opcode_names_pc_and_offset():
    b = simple()
    word = bytearray(encode(Instruction("halt", {})))
    word[0] = 0xEE
    code = encode_program(b.instructions) + bytes(word)
    with pytest.raises(VitcError, match=r"instruction 1 \(offset 0x40\): unknown opcode 0xee"):
        run_binary(raw_binary(b, code), b.inputs, b.config)


@pytest.mark.parametrize("fields,message", [
    (dict(mem=0, addr=16380, rows=16, cols=16, bs=16, dram=0, dram_stride=16), r"addr: spad row 16395 is out of range \(spad has 16384 rows\)"),
    (dict(mem=1, addr=1010, rows=4, cols=40, bs=8, dram=0, dram_stride=160), r"addr: acc row 1029 is out of range \(acc has 1024 rows\)"),
    (dict(mem=0, addr=0, rows=16, cols=16, bs=16, dram=(1 << 20) - 100, dram_stride=16), r"DRAM bytes \[0xfff9c, 0x10009c\) exceed the DRAM size 0x100000"),
    (dict(mem=0, addr=0, rows=0, cols=16, bs=16, dram=0, dram_stride=16), r"field rows=0 must be at least 1"),
    (dict(mem=0, addr=0, rows=16, cols=32, bs=8, dram=0, dram_stride=32), r"addr: region of 16 rows and 32 columns has block stride 8 < rows"),
])
def test_out_of_range_is_caught_before_running(fields, message):
    b = simple()
    b.emit("dma.load", **fields)
    with pytest.raises(VitcError, match=r"pc 1 \(offset 0x40\) `dma.load .*`: " + message):
        b.run()


def test_token_never_pushed():
    b = simple()
    b.emit("copy", mem=0, src=0, dst=32, rows=16, cols=16, src_bs=16, dst_bs=16, wait=mask("load"))
    with pytest.raises(VitcError) as err:
        b.run()
    assert str(err.value).startswith("token popped that was never pushed")
    assert "vector: pc 1 (offset 0x40) `copy" in str(err.value) and "pops a token from load that is never pushed" in str(err.value)


def test_deadlock_reports_every_blocked_unit():
    b = ProgramBuilder()
    b.emit("dma.load", mem=0, addr=0, rows=1, cols=1, bs=1, dram=0, dram_stride=1, wait=mask("matrix"), signal=mask("matrix"))
    b.emit("mm", a=0, b=0, c=0, m=1, k=1, n=1, a_bs=1, b_bs=1, c_bs=1, wait=mask("load"), signal=mask("load"))
    with pytest.raises(VitcError) as err:
        b.run()
    lines = str(err.value).splitlines()
    assert lines[0] == "deadlock: every unit with work left is blocked"
    assert lines[1].startswith("  load: pc 0 (offset 0x0) `dma.load") and lines[1].endswith("waits for a token from matrix")
    assert lines[2].startswith("  matrix: pc 1 (offset 0x40) `mm") and lines[2].endswith("waits for a token from load")


def test_missing_halt_and_code_after_halt():
    b = simple()
    with pytest.raises(VitcError, match="no halt"):
        run_binary(raw_binary(b, encode_program(b.instructions)), b.inputs, b.config)
    code = encode_program([Instruction("halt", {})] + b.instructions + [Instruction("halt", {})])
    with pytest.raises(VitcError, match=r"pc 1 .*code after halt \(pc 0\)"):
        run_binary(raw_binary(b, code), b.inputs, b.config)


def test_layer_outside_the_layer_table():
    b = simple()
    b.layers = ["only"]
    b.emit("copy", mem=0, src=0, dst=32, rows=1, cols=1, src_bs=1, dst_bs=1, layer=1)
    with pytest.raises(VitcError, match=r"pc 1 .*layer 1 is not in the binary's layer table \(1 names\)"):
        b.run()


@pytest.mark.parametrize("inputs,message", [
    ({}, r"input 'x' \(int8 \[16, 16\]\) was not given"),
    ({"x": X, "y": X}, r"input 'y' is not an input of the binary \(inputs: x\)"),
    ({"x": X.astype(np.uint8)}, r"input 'x': got uint8 \[16, 16\], the binary expects int8 \[16, 16\]"),
    ({"x": X[:8]}, r"input 'x': got int8 \[8, 16\], the binary expects int8 \[16, 16\]"),
])
def test_inputs_are_checked(inputs, message):
    with pytest.raises(VitcError, match=message):
        simple().run(inputs=inputs)


@pytest.mark.parametrize("mnemonic,fields,row", [
    ("copy", dict(mem=0, src=0, dst=8, rows=16, cols=16, src_bs=16, dst_bs=16), 8),
    ("transpose", dict(src=0, dst=20, rows=4, cols=40, src_bs=20, dst_bs=40), 20),
])
def test_overlapping_source_and_destination(mnemonic, fields, row):
    b = simple()
    b.emit(mnemonic, **fields)
    with pytest.raises(VitcError, match=rf"pc 1 .*`{mnemonic} .*`: source \(src\) and destination \(dst\) overlap at spad row {row}"):
        b.run()


def test_blocks_interleaved_with_another_region_are_not_an_overlap():
    b = simple()
    # src blocks at rows 0..3 and 8..11; dst rows 4..7 sit between them.
    b.emit("copy", mem=0, src=0, dst=4, rows=4, cols=16, src_bs=8, dst_bs=4)
    b.emit("copy", mem=0, src=0, dst=4, rows=4, cols=32, src_bs=8, dst_bs=8)
    b.run(check_hazards=False)


def test_dram_larger_than_addresses_reach():
    b = simple()
    b.dram_size = 1 << 40
    with pytest.raises(VitcError, match=r"asks for 0x10000000000 bytes of DRAM; 32-bit addresses reach 0x100000000"):
        b.run()


@pytest.mark.parametrize("check_hazards", [False, True])
def test_an_error_while_running_names_the_instruction(check_hazards):
    """An instruction that fails when it runs is named by pc, offset and disassembly, its own
    tokens included, whether or not the run checks hazards."""
    b = ProgramBuilder()
    b.input("x", np.zeros((2, 4), np.int8))
    b.emit("dma.load", mem=0, addr=0, rows=2, cols=4, bs=2, dram=0, dram_stride=4, signal=mask("vector"))
    b.emit("rowmax", mem=0, ty="f32", src=0, dst=40, rows=2, cols=4, src_bs=2, wait=mask("load"))
    with pytest.raises(VitcError) as err:
        b.run(check_hazards=check_hazards)
    assert str(err.value) == (
        "pc 1 (offset 0x40) `rowmax mem=spad, u=i8, src=0, dst=40, rows=2, cols=4, src_bs=2, ty=f32, wait=load`: "
        "rowmax: ty=f32 needs mem=acc (SPAD holds 8-bit codes)")
