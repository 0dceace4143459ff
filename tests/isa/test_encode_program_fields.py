"""`encode_program_fields`: a program given as mnemonics, per-instruction field dicts (any subset
of the fields with a default left out, in any key order) and shared columns (the compiler's
token masks and layers) encodes to exactly the words of an independent packer, and a bad value
is reported with its instruction's index."""

import pytest
from hypothesis import given, settings, strategies as st

from isa.encoding import Instruction, encode_program_fields
from isa.errors import VitcError
from tests.isa.instruction_strategies import RAW_TABLE, instructions
from tests.isa.test_encoding import ENTRIES, MM, reference_encode

SHARED = ("wait", "signal", "layer")


def _default_code(field: dict):
    """A field's default as the packer takes it (an enum's default may be given by name)."""
    default = field["default"]
    return field["values"].index(default) if isinstance(default, str) else default


DEFAULTS = {e["mnemonic"]: {f["name"]: _default_code(f) for f in RAW_TABLE["common"][1:] + e["fields"] if "default" in f}
            for e in RAW_TABLE["instruction"]}


@st.composite
def split_programs(draw):
    """(program of canonical instructions, its per-instruction fields with some defaults left out
    and keys shuffled, the shared columns, the instructions as the packer must see them)."""
    program = draw(st.lists(instructions, max_size=40))
    share = draw(st.sets(st.sampled_from(SHARED)))
    fields, expected = [], []
    for instr in program:
        defaults = DEFAULTS[instr.mnemonic]
        left_out = draw(st.sets(st.sampled_from(sorted(defaults)))) if defaults else set()
        given = {name: value for name, value in instr.fields.items() if name not in left_out}
        names = draw(st.permutations(sorted(given)))
        fields.append({name: given[name] for name in names})
        full = {**instr.fields, **{name: defaults[name] for name in left_out}}
        expected.append(Instruction(instr.mnemonic, full))
    shared = {name: [e.fields[name] for e in expected] for name in share}
    return [i.mnemonic for i in program], fields, shared, expected


@settings(max_examples=100, deadline=None)
@given(split_programs())
def test_fields_and_shared_columns_encode_like_the_packer(case):
    mnemonics, fields, shared, expected = case
    code = encode_program_fields(mnemonics, fields, shared)
    for pc, instr in enumerate(expected):
        assert code[pc * 64:(pc + 1) * 64] == reference_encode(instr), f"instruction {pc} ({instr.mnemonic})"
    assert len(code) == 64 * len(expected)


def test_a_shared_column_overrides_the_fields():
    fields = [dict(MM, wait=1, layer=7)]
    assert encode_program_fields(["mm"], fields, {"wait": [8], "layer": [3]}) == \
        reference_encode(Instruction("mm", {**DEFAULTS["mm"], **MM, "wait": 8, "layer": 3}))


@pytest.mark.parametrize("fields, shared, message", [
    ([{}, dict(MM, m=70000)], {}, r"^instruction 1: mm: field m=70000"),
    ([{}, dict(MM)], {"wait": [0, 4]}, r"^instruction 1: mm: wait names the instruction's own unit"),
    ([{}, dict(MM, accum=True)], {}, r"^instruction 1: mm: field accum=True is not an integer"),
    ([{}, {k: v for k, v in MM.items() if k != "m"}], {}, r"^instruction 1: mm: missing field 'm'"),
])
def test_errors_name_the_instruction(fields, shared, message):
    with pytest.raises(VitcError, match=message):
        encode_program_fields(["halt", "mm"], fields, shared)


def test_every_mnemonic_is_covered():
    assert set(DEFAULTS) == set(ENTRIES)
