"""The instruction table: the shipped table's invariants, and the loader's rejection of bad tables."""

import pytest

from isa.errors import VitcError
from isa.table import TABLE_PATH, load_table, parse_table
from tests.isa.instruction_strategies import RAW_TABLE, bit_range


def test_loads_and_is_cached():
    table = load_table()
    assert load_table() is table
    assert table.width_bits == RAW_TABLE["width"] and table.width_bytes * 8 == table.width_bits
    assert set(table.by_mnemonic) == {e["mnemonic"] for e in RAW_TABLE["instruction"]}
    assert {s.opcode: s.mnemonic for s in table.instructions} == {e["opcode"]: e["mnemonic"] for e in RAW_TABLE["instruction"]}


def test_architecture_instructions_exist_on_their_units():
    units = {s.mnemonic: s.unit for s in load_table().instructions}
    expected = {"dma.load": "load", "dma.store": "store", "mm": "matrix", "halt": "control"}
    expected.update({m: "vector" for m in ("transpose", "copy", "requant", "dequant", "quant", "valu",
                                           "vunary", "rowsum", "rowmax", "lut", "qadd", "qmul", "vfma", "fmm")})
    assert units == expected


def test_no_field_overlaps_or_leaves_the_word():
    """Recomputed from the raw TOML with sets of bit numbers, independently of the loader."""
    common = [bit_range(f["bits"]) for f in RAW_TABLE["common"]]
    for entry in RAW_TABLE["instruction"]:
        used = set()
        for lsb, width in common + [bit_range(f["bits"]) for f in entry["fields"]]:
            bits = set(range(lsb, lsb + width))
            assert not bits & used, entry["mnemonic"]
            assert max(bits) < RAW_TABLE["width"]
            used |= bits


@pytest.mark.parametrize("mnemonic, field, kind, width", [
    ("dma.load", "dram", "uint", 32), ("dma.load", "dram_stride", "uint", 32),
    ("dma.load", "dram_depth_stride", "uint", 32), ("dma.store", "dram", "uint", 32),
    ("dma.load", "addr", "uint", 16), ("dma.load", "rows", "uint", 16), ("dma.load", "cols", "uint", 16),
    ("dma.load", "bs", "uint", 16), ("dma.load", "depth", "uint", 16),
    ("mm", "m", "uint", 16), ("mm", "k", "uint", 16), ("mm", "n", "uint", 16), ("mm", "b_bs", "uint", 16),
    ("mm", "za", "sint", 9), ("requant", "zy", "sint", 9), ("requant", "mult", "f32", 32),
    ("qadd", "ra", "f32", 32), ("qmul", "r", "f32", 32), ("valu", "imm", "uint", 32),
])
def test_field_widths_cover_the_model(mnemonic, field, kind, width):
    f = load_table().by_mnemonic[mnemonic].field_by_name[field]
    assert (f.kind, f.width) == (kind, width)


def test_common_fields_on_every_instruction():
    for spec in load_table().instructions:
        assert [(f.name, f.lsb, f.width) for f in spec.fields[:4]] == [
            ("opcode", 0, 8), ("wait", 8, 4), ("signal", 12, 4), ("layer", 16, 16)]


def _mutated(old: str, new: str, count: int = 1) -> str:
    text = TABLE_PATH.read_text()
    assert old in text, old
    return text.replace(old, new, count)


@pytest.mark.parametrize("old, new, message", [
    ('{ name = "zero", bits = "33"', '{ name = "zero", bits = "32"', "'mem' (bits 32) and 'zero' (bits 32) overlap"),
    ('{ name = "rows", bits = "79:64"', '{ name = "rows", bits = "527:512"', "outside the 512-bit instruction"),
    ('{ name = "rows", bits = "79:64"', '{ name = "rows", bits = "71:56"', "cross a 64-bit word boundary"),
    ("opcode = 0x20", "opcode = 0x10", "opcode 16 already used by 'dma.load'"),
    ('mnemonic = "dma.store"', 'mnemonic = "dma.load"', "mnemonic 'dma.load' already used"),
    ('{ name = "zero", bits = "33"', '{ name = "mem", bits = "33"', "duplicate field name 'mem'"),
    ("opcode = 0x20", "opcode = 0x120", "does not fit the 8-bit opcode field"),
    ('values = ["spad", "acc"]', 'values = ["spad", "acc", "dram"]', "3 values do not fit 1 bits"),
    ('default = 1, doc = "number of depth slices"', 'default = 65536, doc = "number of depth slices"', "does not fit [0, 65535]"),
    ('unit = "store"', 'unit = "dma"', "unit 'dma' is not one of"),
    ('kind = "f32", default = 0.0', 'kind = "float", default = 0.0', "kind 'float' is not one of"),
    ('bits = "7:0"', 'bits = "0:7"', "msb below lsb"),
    ("width = 512", "width = 500", "positive multiple of 64"),
    ('{ name = "rows", bits = "79:64"', '{ name = "rows", bits = 64', "bits must be of type str, got 64"),
    ('mnemonic = "halt"', 'mnemonic = 3', "mnemonic must be of type str"),
])
def test_bad_tables_are_rejected(old, new, message):
    with pytest.raises(VitcError) as err:
        parse_table(_mutated(old, new), source="bad.toml")
    assert "bad.toml" in str(err.value) and message in str(err.value)


def test_f32_default_must_be_float32():
    line = next(l for l in TABLE_PATH.read_text().splitlines() if 'name = "mult"' in l)
    with pytest.raises(VitcError, match="field 'mult': default 0.1 is not a float32 value"):
        parse_table(_mutated(line, line.replace("default = 0.0", "default = 0.1")))
