"""Assembler and disassembler: parsing, directives, errors with line:column, and round trips."""

import struct

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from isa.assembler import assemble, assemble_binary
from isa.config import load_config
from isa.container import Binary, IOEntry, read_vitb, write_vitb
from isa.disassembler import disassemble_binary, format_instruction, format_listing
from isa.encoding import Instruction, canonical, encode_program
from isa.errors import VitcError
from tests.isa.instruction_strategies import instructions

PROGRAM = """\
# a complete hand-written program
.target default
.dram_size 0x10000
.const_addr 0x1000
.layer "embed"    # layer 0
.input "x", dtype=uint8, shape=[1, 16], addr=0x100, scale=0.5, zero_point=3
.output "y", dtype=int8, shape=[1,16], addr=0x200

dma.load mem=spad, addr=0, rows=1, cols=16, bs=1, dram=0x100, dram_stride=16, signal=matrix
    # an indented comment
mm a=0, b=16, c=0, m=1, k=16, n=16, a_bs=1, b_bs=16, c_bs=1, za=-3, au=u8, wait=load, signal=vector
requant src=0, dst=32, rows=1, cols=16, src_bs=1, dst_bs=1, u=i8, zy=-1, lo=-128, hi=127, mult=0.1, wait=matrix
halt
.hex "00ff10"
.byte 1, -1, 255
.i32 -2, 0x7fffffff
.f32 0.1, -inf
"""


def test_program_assembles_to_expected_fields():
    load, mm, requant, halt = assemble(PROGRAM)
    assert load == canonical(Instruction("dma.load", {"mem": 0, "addr": 0, "rows": 1, "cols": 16, "bs": 1,
                                                      "dram": 256, "dram_stride": 16, "signal": 4}))
    assert (mm.fields["za"], mm.fields["au"], mm.fields["wait"], mm.fields["signal"], mm.fields["accum"]) == (-3, 1, 1, 8, 0)
    assert requant.fields["mult"] == float(np.float32(0.1)) and requant.fields["lo"] == -128
    assert halt == canonical(Instruction("halt", {}))


def test_directives_build_the_binary():
    b = assemble_binary(PROGRAM, "prog.s")
    assert b.config_hash == load_config("default").hash
    assert (b.dram_size, b.constants_addr, b.layers) == (0x10000, 0x1000, ["embed"])
    assert b.io == [IOEntry("x", "input", "uint8", (1, 16), 0x100, 0.5, 3), IOEntry("y", "output", "int8", (1, 16), 0x200)]
    expected = bytes([0x00, 0xFF, 0x10, 1, 0xFF, 0xFF]) + struct.pack("<ii", -2, 0x7FFFFFFF) + struct.pack("<ff", 0.1, -np.inf)
    assert b.constants == expected
    assert b.code == encode_program(assemble(PROGRAM))


def test_hw_config_argument():
    body = PROGRAM.replace(".target default\n", "")
    assert assemble_binary(body, config=load_config("large")).config_hash == load_config("large").hash
    assert assemble_binary(PROGRAM, config=load_config("default")).config_hash == load_config("default").hash
    with pytest.raises(VitcError, match="no target configuration"):
        assemble_binary(body)
    with pytest.raises(VitcError, match="not large"):
        assemble_binary(PROGRAM, config=load_config("large"))


MM = "mm a=0, b=0, c=0, m=1, k=1, n=1, a_bs=1, b_bs=1, c_bs=1"
NEXT = len(MM) + 3  # 1-based column of a field appended as ", name=value"


@pytest.mark.parametrize("source, message", [
    ("halt\nnop x=1\n", "t.s:2:1: unknown mnemonic 'nop'"),
    (MM + ", q=1", f"t.s:1:{NEXT}: mm has no field 'q'"),
    (MM + ", opcode=48", f"t.s:1:{NEXT}: mm has no field 'opcode'"),
    (MM.replace("m=1", "m=70000"), f"t.s:1:{MM.index('m=') + 3}: mm: field m=70000 does not fit its 16-bit uint range [0, 65535]"),
    (MM.replace(", n=1", ""), "t.s:1:1: mm: missing field 'n'"),
    (MM + ", a=3", f"t.s:1:{NEXT}: mm: field 'a' given twice"),
    (MM + ", au=f32", f"t.s:1:{NEXT + 3}: mm: field au='f32' is not one of i8, u8"),
    (MM + ", m2=", f"t.s:1:{NEXT + 3}: syntax error"),
    (MM + " k=1", f"t.s:1:{NEXT - 1}: syntax error: unexpected 'k'"),
    (MM + ", wait=matrix", "t.s:1:1: mm: wait names the instruction's own unit 'matrix'"),
    (MM + ", za=1.5", f"t.s:1:{NEXT + 3}: mm: field za (sint) cannot take a float value"),
    (MM + ", wait=load|gpu", f"t.s:1:{NEXT + 5}: mm: field wait: 'gpu' is not one of"),
    ("halt signal=load", "t.s:1:1: halt: a control instruction carries no tokens"),
    ("halt\n$", "t.s:2:1: syntax error: unexpected character '$'"),
    (".layer-1]", "t.s:1:9: syntax error: unexpected ']' (expected ',', end of input, end of line)"),
    (".frobnicate 1", "t.s:1:1: unknown directive '.frobnicate' (known: .byte"),
    (".layer \"a\\q\"", "t.s:1:8: bad string literal"),
    (".input \"x\", dtype=uint8, addr=0", "t.s:1:1: .input: missing shape="),
    (".input \"x\", dtype=uint4, shape=[1], addr=0", "t.s:1:19: .input: dtype must be one of"),
    (".input \"x\", dtype=uint8, shape=[1], addr=0, colour=1", "unknown keyword 'colour'"),
    (".hex \"abc\"", "t.s:1:6: .hex: expected pairs of hex digits"),
    (".byte 1, 256", "t.s:1:10: .byte: 256 outside [-128, 255]"),
    (".target huge", "t.s:1:9: hardware config 'huge': not a built-in name"),
    (".target default\n.target large", "t.s:2:1: the target configuration is already set"),
    (".dram_size -1", "t.s:1:12: .dram_size: must not be negative"),
    (".dram_size 1, 2", "t.s:1:1: .dram_size takes 1 positional argument(s), got 2"),
    (".f32 1, 1" + "0" * 400, "t.s:1:9: expected a number that fits a float"),
    (".input \"x\", dtype=int8, shape=[1], addr=0, scale=\"a\"", "t.s:1:50: .input: scale must be float or int, got string"),
])
def test_errors_point_at_line_and_column(source, message):
    with pytest.raises(VitcError) as err:
        assemble(source, "t.s")
    assert message in str(err.value), str(err.value)


def test_binary_level_errors():
    with pytest.raises(VitcError, match="missing `.dram_size`"):
        assemble_binary(".target default\nhalt")
    with pytest.raises(VitcError, match="input 'x' at 0x0 .* lies outside DRAM of 8 bytes"):
        assemble_binary('.target default\n.dram_size 8\n.input "x", dtype=int32, shape=[4], addr=0')
    with pytest.raises(VitcError, match="dram_size = 18446744073709551616 is not an unsigned 64-bit integer"):
        assemble_binary(f".target default\n.dram_size {1 << 64}")


def test_literal_forms():
    (instr,) = assemble("dma.load mem=1, addr=0b101, rows=+3, cols=007, bs=0x0A, dram=0xFFFFFFFF, dram_stride=0")
    assert [instr.fields[k] for k in ("mem", "addr", "rows", "cols", "bs", "dram")] == [1, 5, 3, 7, 10, 0xFFFFFFFF]
    (instr,) = assemble("dequant src=0, dst=0, rows=1, cols=1, src_bs=1, dst_bs=1, u=u8, zp=0, scale=3")
    assert instr.fields["scale"] == 3.0
    (instr,) = assemble("dequant src=0, dst=0, rows=1, cols=1, src_bs=1, dst_bs=1, u=u8, zp=0, scale=1e-3")
    assert instr.fields["scale"] == float(np.float32(1e-3))


def test_format_instruction():
    (instr,) = assemble("valu op=div, ty=i32, bmode=scalar, dst=1, a=2, rows=3, cols=4, dst_bs=3, a_bs=3, "
                        "imm=0xffffffff, wait=load|matrix, layer=7")
    assert format_instruction(instr) == (
        "valu op=div, ty=i32, bmode=scalar, dst=1, a=2, b=0, rows=3, cols=4, dst_bs=3, a_bs=3, b_bs=0, "
        "imm=0xffffffff, wait=load|matrix, layer=7")
    assert format_instruction(canonical(Instruction("halt", {}))) == "halt"


def test_listing_has_offsets_and_encodings():
    code = encode_program(assemble("halt\nhalt"))
    lines = format_listing(code, show_encoding=True).splitlines()
    assert len(lines) == 2 and lines[1].strip().startswith("halt")
    assert lines[1].endswith("# 0x000040: 01000000 " + " ".join(["00000000"] * 15))
    assert assemble(format_listing(code, show_encoding=True)) == assemble("halt\nhalt")


@settings(max_examples=60, deadline=None)
@given(st.lists(instructions, max_size=25))
def test_text_round_trip(program):
    """instructions -> text -> instructions is the identity (on canonical instructions)."""
    text = "\n".join(format_instruction(i) for i in program)
    assert assemble(text) == [canonical(i) for i in program]


names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@settings(max_examples=40, deadline=None)
@given(st.lists(instructions, max_size=12), st.binary(max_size=300), st.lists(names, max_size=3, unique=True),
       st.sampled_from(["default", "large"]), st.floats(allow_nan=False), st.integers(-2**63, 2**63 - 1))
def test_binary_round_trip(program, constants, io_names, config, scale, zero_point):
    """bin -> disasm -> asm -> bin is the identity, and so is asm -> bin -> disasm -> asm."""
    io = [IOEntry(n, "input" if i % 2 else "output", "float32", (2, i), 8 * i, scale, zero_point)
          for i, n in enumerate(io_names)]
    binary = Binary(load_config(config).hash, encode_program(program), constants, 64, 4096, io, io_names)
    text = disassemble_binary(binary, show_encoding=bool(len(program) % 2))
    again = assemble_binary(text)
    assert write_vitb(again) == write_vitb(binary)
    assert disassemble_binary(again, show_encoding=bool(len(program) % 2)) == text


def test_unknown_config_hash_round_trips():
    binary = Binary("ab" * 32, b"", b"", 0, 0)
    text = disassemble_binary(binary)
    assert '.config_hash "' + "ab" * 32 + '"' in text
    assert read_vitb(write_vitb(assemble_binary(text))) == binary


fragments = st.sampled_from([
    "mm", "halt", "dma.load", ".f32", ".i32", ".byte", ".hex", ".input", ".target", ".layer", ".dram_size",
    " ", ",", "=", "|", "[", "]", "\n", "#", '"', "\\", "a", "mem", "spad", "rows", "za", "mult", "wait",
    "0", "-1", "0x", "1e400", "99999999999999999999999", "1" + "0" * 400, "1.5", "inf", "nan", "-", "dtype",
    "shape", "scale", "addr", "zero_point", "uint8", "default", ".output", ".const_addr", ".config_hash",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(fragments, max_size=30).map("".join))
def test_fuzz_assembler_raises_only_vitc_errors(text):
    try:
        assemble_binary(text, config=load_config("default"))
    except VitcError:
        pass
