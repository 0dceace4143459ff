"""Hypothesis strategies for valid instructions, built from the instruction table's TOML.

Field ranges come from reading isa/instructions.toml directly (bit ranges and kinds), not from
the code under test, so a wrong range in isa/table.py shows up as a failing test.
"""

import tomllib

from hypothesis import strategies as st

from isa.encoding import Instruction
from isa.table import TABLE_PATH

RAW_TABLE = tomllib.loads(TABLE_PATH.read_text())
UNITS = RAW_TABLE["units"]


def bit_range(bits: str) -> tuple[int, int]:
    """(lsb, width) of a "msb:lsb" or "n" bit range."""
    msb, _, lsb = bits.partition(":")
    lsb = lsb or msb
    return int(lsb), int(msb) - int(lsb) + 1


def _field_strategy(field: dict):
    _, width = bit_range(field["bits"])
    kind = field["kind"]
    if kind == "uint":
        return st.integers(0, (1 << width) - 1)
    if kind == "sint":
        return st.integers(-(1 << (width - 1)), (1 << (width - 1)) - 1)
    if kind == "f32":
        return st.floats(width=32, allow_nan=False)
    return st.integers(0, len(field["values"]) - 1)


def _token_masks(unit: str):
    if unit not in UNITS:
        return st.just(0)
    own = 1 << UNITS.index(unit)
    return st.integers(0, 15).map(lambda m: m & ~own)


def instruction_of(entry: dict):
    """Valid instructions of one raw table entry, every field given (canonical form)."""
    fields = {f["name"]: _field_strategy(f) for f in entry["fields"]}
    fields["wait"] = _token_masks(entry["unit"])
    fields["signal"] = _token_masks(entry["unit"])
    fields["layer"] = st.integers(0, 0xFFFF)
    return st.fixed_dictionaries(fields).map(lambda values: Instruction(entry["mnemonic"], values))


instructions = st.one_of([instruction_of(entry) for entry in RAW_TABLE["instruction"]])
