"""`decode_program_columns(code, pcs)`: the instructions `decode_program` builds, and the same
instructions' field values as numpy columns, one group per opcode, each value at the position
of its instruction in the selection (increasing pcs); compared with decoding each word on its
own."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from isa.encoding import Instruction, decode, decode_program_columns, encode_program
from tests.isa.instruction_strategies import RAW_TABLE, instructions

WIDTH = RAW_TABLE["width"] // 8


@settings(max_examples=60, deadline=None)
@given(st.lists(instructions, min_size=1, max_size=30), st.data())
def test_columns_hold_the_values_of_each_selected_instruction(program, data):
    code = encode_program(program)
    pcs = data.draw(st.none() | st.sets(st.integers(0, len(program) - 1)).map(sorted))
    selected, groups = decode_program_columns(code, pcs)
    chosen = list(range(len(program))) if pcs is None else pcs
    assert len(selected) == len(chosen)
    seen = []
    for group in groups:
        assert len(group.positions), "a group with no selected instruction"
        for column in group.values.values():
            assert column.dtype in (np.int64, np.float64) and len(column) == len(group.positions)
        for row, position in enumerate(group.positions.tolist()):
            pc = chosen[position]
            alone = decode(code[pc * WIDTH:(pc + 1) * WIDTH], pc)
            assert selected[position] == alone, f"pc {pc}: {selected[position]} != {alone}"
            assert alone.mnemonic == group.spec.mnemonic
            for name, value in alone.fields.items():
                got = group.values[name][row].item()
                assert got == value or (math.isnan(got) and math.isnan(value)), f"pc {pc} field {name}: {got} != {value}"
            seen.append(position)
    assert sorted(seen) == list(range(len(chosen))), "every selected instruction is in exactly one group"
    opcodes = [group.spec.opcode for group in groups]
    assert opcodes == sorted(opcodes)


def test_pcs_out_of_order_or_repeated_are_refused():
    code = encode_program([Instruction("halt", {})] * 3)
    for pcs in ([1, 0], [1, 1]):
        with pytest.raises(ValueError, match="pcs must increase"):
            decode_program_columns(code, pcs)
