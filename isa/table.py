"""The instruction table: loads and checks `isa/instructions.toml`, the one source of truth.

Everything that knows an instruction's layout (encoder, decoder, assembler, disassembler,
docs/isa.md) reads it from the `InstructionTable` built here; nothing else spells out a bit.

Invariants checked at load time (a violation is a `VitcError` naming instruction and field):
- mnemonics, opcodes and, within an instruction, field names are unique;
- every field lies inside the instruction width, inside one 64-bit word (the decoder extracts
  fields word by word), and overlaps no other field of the same instruction;
- every opcode fits the opcode field; enum and mask value lists fit their field width;
- every default fits its field; units are the declared ones.
"""

import dataclasses
import functools
import math
import re
import struct
import tomllib
from pathlib import Path
from typing import Mapping

from isa.errors import VitcError

TABLE_PATH = Path(__file__).parent / "instructions.toml"

WORD_BITS = 64
FIELD_KINDS = ("uint", "sint", "f32", "enum", "mask")
COMMON_FIELDS = ("opcode", "wait", "signal", "layer")


@dataclasses.dataclass(frozen=True)
class Field:
    """One bit field of an instruction word."""

    name: str
    lsb: int
    width: int
    kind: str  # one of FIELD_KINDS
    doc: str
    values: tuple[str, ...] = ()  # enum: names of codes 0, 1, ...; mask: names of bits 0, 1, ...
    default: int | float | None = None  # encoded form (enum/mask as int); None: required
    hex: bool = False  # print in hexadecimal (disassembler only)

    @property
    def msb(self) -> int:
        return self.lsb + self.width - 1

    @property
    def bits(self) -> str:
        return f"{self.msb}:{self.lsb}" if self.width > 1 else str(self.lsb)

    @property
    def mask(self) -> int:
        return (1 << self.width) - 1

    @property
    def value_range(self) -> tuple[int, int]:
        """Smallest and largest integer the field holds (the code range for enum and mask)."""
        if self.kind == "sint":
            return -(1 << (self.width - 1)), (1 << (self.width - 1)) - 1
        if self.kind == "enum":
            return 0, len(self.values) - 1
        return 0, self.mask

    @property
    def code_by_name(self) -> dict[str, int]:
        """enum: value name -> code; mask: unit name -> bit value."""
        if self.kind == "mask":
            return {name: 1 << i for i, name in enumerate(self.values)}
        return {name: i for i, name in enumerate(self.values)}


@dataclasses.dataclass(frozen=True)
class InstructionSpec:
    """One instruction: its opcode, unit, fields (common ones first) and documentation."""

    mnemonic: str
    opcode: int
    unit: str
    summary: str
    semantics: str
    fields: tuple[Field, ...]

    @functools.cached_property
    def field_by_name(self) -> Mapping[str, Field]:
        return {f.name: f for f in self.fields}

    @property
    def operands(self) -> tuple[Field, ...]:
        """The instruction's own fields (everything but opcode, wait, signal, layer)."""
        return tuple(f for f in self.fields if f.name not in COMMON_FIELDS)


@dataclasses.dataclass(frozen=True)
class InstructionTable:
    width_bits: int
    units: tuple[str, ...]  # token-mask bit order
    control_unit: str
    instructions: tuple[InstructionSpec, ...]

    @property
    def width_bytes(self) -> int:
        return self.width_bits // 8

    @functools.cached_property
    def by_mnemonic(self) -> Mapping[str, InstructionSpec]:
        return {spec.mnemonic: spec for spec in self.instructions}

    @functools.cached_property
    def by_opcode(self) -> Mapping[int, InstructionSpec]:
        return {spec.opcode: spec for spec in self.instructions}

    def unit_index(self, unit: str) -> int | None:
        """Token-mask bit of a unit; None for the control unit."""
        return self.units.index(unit) if unit in self.units else None


# Types of the keys of table entries whose type is fixed (defaults are checked per field kind).
_KEY_TYPES = {"width": int, "units": list, "control_unit": str, "common": list, "instruction": list,
              "mnemonic": str, "unit": str, "summary": str, "semantics": str, "fields": list,
              "name": str, "bits": str, "kind": str, "doc": str, "values": list, "hex": bool}


@functools.lru_cache(maxsize=None)
def load_table() -> InstructionTable:
    """The instruction table of isa/instructions.toml, checked, loaded once."""
    return parse_table(TABLE_PATH.read_text(), source=str(TABLE_PATH))


def parse_table(text: str, source: str = "<table>") -> InstructionTable:
    """Parse and check an instruction table in the TOML form of isa/instructions.toml."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise VitcError(f"instruction table {source}: invalid TOML: {err}") from None
    return _TableBuilder(source).build(data)


class _TableBuilder:
    def __init__(self, source: str):
        self.source = source

    def fail(self, where: str, message: str):
        raise VitcError(f"instruction table {self.source}: {where}: {message}")

    def build(self, data: dict) -> InstructionTable:
        self._expect_keys("top level", data, {"width", "units", "control_unit", "common", "instruction"})
        width = data["width"]
        if not isinstance(width, int) or width <= 0 or width % WORD_BITS:
            self.fail("width", f"must be a positive multiple of {WORD_BITS} bits, got {width!r}")
        units = tuple(data["units"])
        control = data["control_unit"]
        if len(set(units)) != len(units) or control in units:
            self.fail("units", f"duplicate unit names in {list(units) + [control]}")
        common = [self._field("common", f, width) for f in data["common"]]
        if tuple(f.name for f in common) != COMMON_FIELDS:
            self.fail("common", f"must be the fields {', '.join(COMMON_FIELDS)} in that order")
        instructions = [self._instruction(entry, width, units + (control,), common) for entry in data["instruction"]]
        self._check_unique(instructions)
        return InstructionTable(width, units, control, tuple(instructions))

    def _expect_keys(self, where: str, entry, allowed: set, required: set | None = None):
        if not isinstance(entry, dict):
            self.fail(where, f"expected a table, got {entry!r}")
        for key, value in entry.items():
            expected = _KEY_TYPES.get(key)
            if expected is not None and not isinstance(value, expected):
                self.fail(where, f"{key} must be of type {expected.__name__}, got {value!r}")
        unknown = sorted(set(entry) - allowed)
        if unknown:
            self.fail(where, f"unknown key(s) {', '.join(unknown)}")
        missing = sorted((allowed if required is None else required) - set(entry))
        if missing:
            self.fail(where, f"missing key(s) {', '.join(missing)}")

    def _instruction(self, entry: dict, width: int, units: tuple, common: list[Field]) -> InstructionSpec:
        where = f"instruction {entry.get('mnemonic', '?')!r}"
        self._expect_keys(where, entry, {"mnemonic", "opcode", "unit", "summary", "semantics", "fields"})
        if entry["unit"] not in units:
            self.fail(where, f"unit {entry['unit']!r} is not one of {', '.join(units)}")
        fields = common + [self._field(where, f, width) for f in entry["fields"]]
        opcode_lo, opcode_hi = common[0].value_range
        if not isinstance(entry["opcode"], int) or not opcode_lo <= entry["opcode"] <= opcode_hi:
            self.fail(where, f"opcode {entry['opcode']!r} does not fit the {common[0].width}-bit opcode field")
        self._check_layout(where, fields)
        return InstructionSpec(
            mnemonic=entry["mnemonic"],
            opcode=entry["opcode"],
            unit=entry["unit"],
            summary=entry["summary"].strip(),
            semantics=entry["semantics"].strip(),
            fields=tuple(fields),
        )

    def _field(self, where: str, entry: dict, width: int) -> Field:
        where = f"{where} field {entry.get('name', '?')!r}"
        self._expect_keys(where, entry, {"name", "bits", "kind", "doc", "values", "default", "hex"},
                          required={"name", "bits", "kind", "doc"})
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", entry["name"]):
            self.fail(where, "names are lower-case identifiers")
        match = re.fullmatch(r"(\d+)(?::(\d+))?", entry["bits"])
        if not match:
            self.fail(where, f"bits {entry['bits']!r} is not 'msb:lsb' or a bit number")
        msb = int(match.group(1))
        lsb = int(match.group(2)) if match.group(2) is not None else msb
        if msb < lsb:
            self.fail(where, f"bits {entry['bits']!r}: msb below lsb")
        if msb >= width:
            self.fail(where, f"bits {entry['bits']!r} lie outside the {width}-bit instruction")
        if lsb // WORD_BITS != msb // WORD_BITS:
            self.fail(where, f"bits {entry['bits']!r} cross a {WORD_BITS}-bit word boundary")
        kind = entry["kind"]
        if kind not in FIELD_KINDS:
            self.fail(where, f"kind {kind!r} is not one of {', '.join(FIELD_KINDS)}")
        field = Field(name=entry["name"], lsb=lsb, width=msb - lsb + 1, kind=kind, doc=entry["doc"],
                      values=tuple(entry.get("values", ())), hex=bool(entry.get("hex", False)))
        self._check_kind(where, field)
        if "default" in entry:
            field = dataclasses.replace(field, default=self._default(where, field, entry["default"]))
        return field

    def _check_kind(self, where: str, field: Field):
        if field.kind == "f32" and field.width != 32:
            self.fail(where, "an f32 field is 32 bits wide")
        if (field.kind in ("enum", "mask")) != bool(field.values):
            self.fail(where, "enum and mask fields, and only they, list values")
        if len(set(field.values)) != len(field.values):
            self.fail(where, f"duplicate values in {list(field.values)}")
        if field.kind == "enum" and len(field.values) > 1 << field.width:
            self.fail(where, f"{len(field.values)} values do not fit {field.width} bits")
        if field.kind == "mask" and len(field.values) != field.width:
            self.fail(where, f"a mask has one value per bit: {len(field.values)} values for {field.width} bits")

    def _default(self, where: str, field: Field, value) -> int | float:
        if field.kind == "f32":
            if not isinstance(value, float) or not f32_exact(value):
                self.fail(where, f"default {value!r} is not a float32 value")
            return value
        if field.kind == "enum" and isinstance(value, str):
            if value not in field.values:
                self.fail(where, f"default {value!r} is not one of {', '.join(field.values)}")
            return field.code_by_name[value]
        lo, hi = field.value_range
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            self.fail(where, f"default {value!r} does not fit [{lo}, {hi}]")
        return value

    def _check_layout(self, where: str, fields: list[Field]):
        seen: dict[str, Field] = {}
        for field in fields:
            if field.name in seen:
                self.fail(where, f"duplicate field name {field.name!r}")
            seen[field.name] = field
        ordered = sorted(fields, key=lambda f: f.lsb)
        for left, right in zip(ordered, ordered[1:]):
            if right.lsb <= left.msb:
                self.fail(where, f"fields {left.name!r} (bits {left.bits}) and {right.name!r} (bits {right.bits}) overlap")

    def _check_unique(self, instructions: list[InstructionSpec]):
        for attribute in ("mnemonic", "opcode"):
            seen = {}
            for spec in instructions:
                key = getattr(spec, attribute)
                if key in seen:
                    self.fail(f"instruction {spec.mnemonic!r}", f"{attribute} {key!r} already used by {seen[key]!r}")
                seen[key] = spec.mnemonic
        if not instructions:
            self.fail("instruction", "the table defines no instruction")


def f32_exact(value: float) -> bool:
    """True when a Python float is exactly a float32 value (NaN counts as representable)."""
    try:
        return math.isnan(value) or struct.unpack("<f", struct.pack("<f", value))[0] == value
    except OverflowError:
        return False
