"""The emulator and the ISA table agree: every instruction, field and enum value of the table has
semantics, a cost and a footprint here. When the ISA grows, this fails until the emulator does;
meanwhile programs using what the emulator lacks are refused with a clear error."""

import pytest

from isa.encoding import Instruction
from isa.errors import VitcError
from isa.table import load_table
from runtime_emulator.footprint import ACCESSES
from runtime_emulator.implemented import IMPLEMENTED, check_implemented
from runtime_emulator.program import SEMANTICS


def test_table_and_emulator_cover_the_same_instructions_fields_and_values():
    table = {spec.mnemonic: {f.name: (tuple(f.values) if f.kind == "enum" else None) for f in spec.operands}
             for spec in load_table().instructions}
    assert table == IMPLEMENTED
    assert set(table) == set(SEMANTICS) == set(ACCESSES)


def test_what_the_emulator_lacks_is_refused(monkeypatch):
    spec = load_table().by_mnemonic["valu"]
    fields = {f.name: f.default or 0 for f in spec.fields if f.name != "opcode"}
    # Pretend the table is ahead of the emulator: `imm` is a new field, `op` only knows add.
    narrower = {k: v for k, v in IMPLEMENTED["valu"].items() if k != "imm"} | {"op": ("add",)}
    monkeypatch.setitem(IMPLEMENTED, "valu", narrower)
    check_implemented(spec, Instruction("valu", fields | {"op": 0, "imm": 0}))  # new field at its default
    with pytest.raises(VitcError, match=r"does not implement field imm=5 of valu"):
        check_implemented(spec, Instruction("valu", fields | {"op": 0, "imm": 5}))
    with pytest.raises(VitcError, match=r"does not implement op=sub of valu"):
        check_implemented(spec, Instruction("valu", fields | {"op": 1}))
    monkeypatch.delitem(IMPLEMENTED, "valu")
    with pytest.raises(VitcError, match=r"does not implement 'valu' yet"):
        check_implemented(spec, Instruction("valu", fields))
