"""Encoder and decoder: bit layout against an independent packer, round trips, errors, speed, fuzz."""

import math
import struct
import time

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from isa.encoding import Instruction, canonical, decode, decode_program, encode, encode_program
from isa.errors import VitcError
from tests.isa.instruction_strategies import RAW_TABLE, bit_range, instructions

WIDTH = RAW_TABLE["width"] // 8
ENTRIES = {e["mnemonic"]: e for e in RAW_TABLE["instruction"]}


def reference_encode(instr: Instruction) -> bytes:
    """Pack a canonical instruction straight from the raw TOML: code << lsb for every field."""
    entry = ENTRIES[instr.mnemonic]
    word = entry["opcode"]
    for field in RAW_TABLE["common"][1:] + entry["fields"]:
        lsb, width = bit_range(field["bits"])
        value = instr.fields[field["name"]]
        if field["kind"] == "f32":
            value = struct.unpack("<I", struct.pack("<f", value))[0]
        word |= (value % (1 << width)) << lsb
    return word.to_bytes(WIDTH, "little")


def assert_same_instruction(got: Instruction, want: Instruction):
    assert got.mnemonic == want.mnemonic
    for name, value in want.fields.items():
        assert name in got.fields, f"{want.mnemonic}: field {name} missing"
        g = got.fields[name]
        same = struct.pack("<f", g) == struct.pack("<f", value) if isinstance(value, float) else g == value
        assert same, f"{want.mnemonic}: field {name}: got {g!r}, want {value!r}"
    assert set(got.fields) == set(want.fields)


@settings(max_examples=300, deadline=None)
@given(instructions)
def test_encoding_matches_independent_packing(instr):
    assert encode(instr) == reference_encode(instr)


@settings(max_examples=300, deadline=None)
@given(instructions)
def test_decode_inverts_encode(instr):
    assert_same_instruction(decode(encode(instr)), instr)
    assert decode(encode(instr)) == canonical(instr)


@settings(max_examples=50, deadline=None)
@given(st.lists(instructions, max_size=40))
def test_program_round_trip(program):
    code = encode_program(program)
    assert len(code) == WIDTH * len(program)
    decoded = decode_program(code)
    assert len(decoded) == len(program)
    for got, want in zip(decoded, program):
        assert_same_instruction(got, want)
    assert encode_program(decoded) == code


@settings(max_examples=50, deadline=None)
@given(st.lists(instructions, min_size=1, max_size=40), st.data())
def test_decoding_selected_instructions_gives_the_same_values(program, data):
    """`decode_program(code, pcs)` builds the instructions at `pcs` (any order, repeats allowed)
    exactly as decoding every word on its own does."""
    code = encode_program(program)
    pcs = data.draw(st.lists(st.integers(0, len(program) - 1), max_size=2 * len(program)))
    selected = decode_program(code, pcs)
    assert len(selected) == len(pcs)
    for pc, got in zip(pcs, selected):
        alone = decode(code[pc * WIDTH:(pc + 1) * WIDTH], pc)
        assert got == alone, f"pc {pc}: {got} != {alone}"
        assert_same_instruction(got, program[pc])


def test_hand_checked_layout():
    instr = Instruction("dma.load", {"mem": "acc", "addr": 5, "rows": 3, "cols": 20, "bs": 3,
                                     "dram": 0x12345678, "dram_stride": 80, "wait": ["store"],
                                     "signal": ["matrix", "vector"], "layer": 0x0102})
    word = encode(instr)
    assert word[0] == 0x10  # opcode
    assert word[1] == 0b0010 | 0b1100 << 4  # wait = store (bit 1); signal = matrix|vector (bits 2, 3)
    assert word[2:4] == b"\x02\x01"  # layer, little-endian
    dram_lsb, _ = bit_range(next(f["bits"] for f in ENTRIES["dma.load"]["fields"] if f["name"] == "dram"))
    assert int.from_bytes(word, "little") >> dram_lsb & 0xFFFFFFFF == 0x12345678
    fields = decode(word).fields
    assert (fields["mem"], fields["depth"], fields["zero"], fields["wait"], fields["signal"]) == (1, 1, 0, 2, 12)


def test_names_defaults_and_special_values():
    instr = Instruction("valu", {"op": "mul", "ty": "f32", "bmode": "scalar", "dst": 1, "a": 2, "rows": 3,
                                 "cols": 4, "dst_bs": 3, "a_bs": 3, "imm": 0x3F800000})
    fields = decode(encode(instr)).fields
    assert (fields["op"], fields["ty"], fields["bmode"], fields["b"], fields["b_bs"]) == (2, 0, 3, 0, 0)
    requant = {"src": 0, "dst": 0, "rows": 1, "cols": 1, "src_bs": 1, "dst_bs": 1, "u": "u8", "zy": -256,
               "lo": 255, "hi": 255}
    for mult in (math.inf, -math.inf, -0.0, 2.0 ** -149, 3.4028234663852886e38):
        got = decode(encode(Instruction("requant", dict(requant, mult=mult)))).fields
        assert struct.pack("<f", got["mult"]) == struct.pack("<f", mult) and got["zy"] == -256 and got["u"] == 1
    assert math.isnan(decode(encode(Instruction("requant", dict(requant, mult=math.nan)))).fields["mult"])


def test_equal_instructions_hash_equal():
    a = canonical(Instruction("halt", {}))
    assert a == decode(encode(a)) and hash(a) == hash(decode(encode(a)))


MM = {"a": 0, "b": 0, "c": 0, "m": 1, "k": 1, "n": 1, "a_bs": 1, "b_bs": 1, "c_bs": 1}


@pytest.mark.parametrize("instr, message", [
    (Instruction("mm", dict(MM, m=70000)), "mm: field m=70000 does not fit its 16-bit uint range [0, 65535]"),
    (Instruction("mm", dict(MM, za=300)), "mm: field za=300 does not fit its 9-bit sint range [-256, 255]"),
    (Instruction("mm", dict(MM, k=-1)), "mm: field k=-1 does not fit"),
    (Instruction("mm", dict(MM, k=1.5)), "mm: field k=1.5 is not an integer"),
    (Instruction("mm", dict(MM, accum=True)), "mm: field accum=True is not an integer"),
    (Instruction("mm", dict(MM, au="f32")), "mm: field au='f32' is not one of i8, u8"),
    (Instruction("mm", dict(MM, au=2)), "mm: field au=2 does not fit its 1-bit enum range [0, 1]"),
    (Instruction("mm", dict(MM, q=1)), "mm: unknown field(s) q"),
    (Instruction("mm", dict(MM, opcode=0x30)), "mm: unknown field(s) opcode"),
    (Instruction("mm", {k: v for k, v in MM.items() if k != "n"}), "mm: missing field 'n'"),
    (Instruction("mm", dict(MM, wait=["matrix"])), "mm: wait names the instruction's own unit 'matrix'"),
    (Instruction("mm", dict(MM, signal=4)), "mm: signal names the instruction's own unit 'matrix'"),
    (Instruction("mm", dict(MM, wait=["gpu"])), "mm: field wait: 'gpu' is not one of load, store, matrix, vector"),
    (Instruction("halt", {"signal": 1}), "a control instruction carries no tokens"),
    (Instruction("requant", {"src": 0, "dst": 0, "rows": 1, "cols": 1, "src_bs": 1, "dst_bs": 1, "u": 0,
                             "zy": 0, "lo": 0, "hi": 0, "mult": 0.1}), "requant: field mult=0.1 is not a float32 value"),
    (Instruction("requant", {"src": 0, "dst": 0, "rows": 1, "cols": 1, "src_bs": 1, "dst_bs": 1, "u": 0,
                             "zy": 0, "lo": 0, "hi": 0, "mult": 1e39}), "requant: field mult=1e+39 is not a float32 value"),
    (Instruction("nop", {}), "unknown mnemonic 'nop'"),
])
def test_encode_rejects(instr, message):
    with pytest.raises(VitcError) as err:
        encode(instr)
    assert message in str(err.value)


def test_encode_program_names_the_instruction():
    with pytest.raises(VitcError, match=r"^instruction 2: mm: field m=70000"):
        encode_program([Instruction("halt", {}), Instruction("halt", {}), Instruction("mm", dict(MM, m=70000))])


HALT = encode(Instruction("halt", {}))


def _with_bits(word: bytes, lsb: int, width: int, value: int) -> bytes:
    n = int.from_bytes(word, "little") & ~(((1 << width) - 1) << lsb) | value << lsb
    return n.to_bytes(WIDTH, "little")


def test_decode_errors_name_pc_offset_and_value():
    mm = encode(Instruction("mm", MM))
    op_lsb = bit_range(next(f["bits"] for f in ENTRIES["valu"]["fields"] if f["name"] == "op"))[0]
    valu = encode(Instruction("valu", {"op": 0, "ty": 0, "bmode": 0, "dst": 0, "a": 0, "rows": 1, "cols": 1,
                                       "dst_bs": 1, "a_bs": 1}))
    cases = [
        (HALT + _with_bits(HALT, 0, 8, 0x7F), "instruction 1 (offset 0x40): unknown opcode 0x7f"),
        (HALT + HALT + _with_bits(HALT, 0, 8, 0), "instruction 2 (offset 0x80): unknown opcode 0x00"),
        (HALT + _with_bits(HALT, 500, 1, 1), "instruction 1 (offset 0x40): halt: reserved bits set in 64-bit word 7"),
        (_with_bits(valu, op_lsb, 3, 7), "instruction 0 (offset 0x0): valu: field op: code 7 names none of add, sub"),
        (HALT + _with_bits(mm, 8, 4, 0b0100), "instruction 1 (offset 0x40): mm: wait names the instruction's own unit"),
        (_with_bits(HALT, 12, 4, 1), "halt: a control instruction carries no tokens"),
        (HALT + HALT[:10], "instruction 1 (offset 0x40): truncated, 10 of 64 bytes"),
    ]
    for code, message in cases:
        for pcs in (None, [0]):  # building only instruction 0 still checks every word
            with pytest.raises(VitcError) as err:
                decode_program(code, pcs)
            assert message in str(err.value)
    with pytest.raises(VitcError, match=r"instruction 5 \(offset 0x140\): unknown opcode 0xff"):
        decode(_with_bits(HALT, 0, 8, 0xFF), pc=5)
    with pytest.raises(VitcError, match="instruction 3 .*: 63 bytes, an instruction is 64"):
        decode(HALT[:63], pc=3)


def test_decode_program_is_fast():
    program = [
        Instruction("mm", dict(MM, accum=1, signal=["vector"])),
        Instruction("dma.load", {"mem": 0, "addr": 1, "rows": 2, "cols": 3, "bs": 2, "dram": 7, "dram_stride": 3}),
        Instruction("qadd", {"a": 0, "b": 1, "c": 2, "rows": 1, "cols": 1, "a_bs": 1, "c_bs": 1, "mode": 0,
                             "au": 0, "bu": 0, "cu": 0, "ra": 0.5, "rb": 0.25, "fixed": -3.0}),
        Instruction("halt", {}),
    ] * 25_000
    code = encode_program(program)
    start = time.process_time()  # CPU time: the suite may share the machine with other jobs
    decoded = decode_program(code)
    elapsed = time.process_time() - start
    assert len(decoded) == 100_000 and decoded[2].fields["fixed"] == -3.0 and decoded[99_999].mnemonic == "halt"
    assert elapsed < 1.0, f"decoding 100k instructions took {elapsed:.2f} s"


def _f32_nan_free(program) -> bool:
    return not any(isinstance(v, float) and math.isnan(v) for i in program for v in i.fields.values())


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=4 * WIDTH))
def test_fuzz_random_bytes(data):
    code = data[:len(data) // WIDTH * WIDTH]
    try:
        program = decode_program(code)
    except VitcError:
        return
    if _f32_nan_free(program):
        assert encode_program(program) == code


@settings(max_examples=300, deadline=None)
@given(st.lists(instructions, min_size=1, max_size=6), st.lists(st.integers(0, 6 * WIDTH * 8 - 1), max_size=4),
       st.integers(0, 6 * WIDTH))
def test_fuzz_mutated_programs(program, flips, cut):
    code = bytearray(encode_program(program))
    for bit in flips:
        if bit // 8 < len(code):
            code[bit // 8] ^= 1 << bit % 8
    code = bytes(code[:cut]) if cut < len(code) else bytes(code)
    try:
        decoded = decode_program(code)
    except VitcError:
        return
    if _f32_nan_free(decoded):
        assert encode_program(decoded) == code


def test_decoded_values_are_python_scalars():
    fields = decode(encode(Instruction("dequant", {"src": 0, "dst": 1, "rows": 1, "cols": 1, "src_bs": 1,
                                                   "dst_bs": 1, "u": 1, "zp": -5, "scale": 0.5}))).fields
    assert all(type(v) in (int, float) for v in fields.values())
    assert type(fields["scale"]) is float and type(fields["zp"]) is int and not isinstance(fields["zp"], np.integer)
