"""Instructions as Python values, and their fixed-width binary encoding, both from the table.

`Instruction(mnemonic, fields)` is what the compiler emits and the emulator executes.
`fields` maps field names to values:
- uint / sint fields: Python ints;
- f32 fields: Python floats that are exactly float32 values (`encode` also accepts numpy
  floats and ints with an exact float32 value; `decode` always gives Python floats);
- enum fields: the integer code (the index in the table's `values`); `encode` also accepts the
  value name, e.g. `op="add"`;
- mask fields (`wait`, `signal`): the integer bit set (bit i = unit i: load 0, store 1,
  matrix 2, vector 3); `encode` also accepts an iterable of unit names.
`opcode` is implied by the mnemonic and never appears in `fields`. Fields with a default in the
table may be omitted when encoding.

Invariants:
- `decode` returns the canonical form: every field but `opcode` present, enums and masks as
  ints, so `decode(encode(i)) == canonical(i)` and `encode(decode(w)) == w` for every valid word.
- Encoding rejects unknown fields, missing required fields, values outside their field, floats
  that are not float32 values, and a token bit naming the instruction's own unit (control
  instructions carry no tokens at all). Decoding rejects a short program, an unknown opcode, a
  set reserved bit, an enum code with no name and the same token errors; every message names
  the instruction index and byte offset.
- `decode_program` extracts each field for all instructions of one opcode at once with numpy
  (shift and mask per 64-bit word), so 100k instructions decode in a fraction of a second;
  given `pcs`, it checks every instruction the same way but builds `Instruction`s only there;
  `decode_program_columns` also returns those instructions' field values as numpy columns,
  one `FieldColumns` per opcode (the emulator checks and costs them column by column);
  `encode_program` (and `encode_program_fields`, which takes the fields and shared columns
  instead of `Instruction`s) inserts them the same way, and gives exactly the bytes of `encode`.
"""

import dataclasses
import functools
import itertools
import operator
import struct
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np

from isa.errors import VitcError
from isa.table import Field, InstructionSpec, InstructionTable, f32_exact, load_table


@dataclasses.dataclass(frozen=True, slots=True)
class Instruction:
    """One instruction: its mnemonic and its field values (see the module docstring)."""

    mnemonic: str
    fields: Mapping[str, int | float]

    def __hash__(self):
        return hash((self.mnemonic, tuple(sorted(self.fields.items()))))


def canonical(instr: Instruction) -> Instruction:
    """The checked, complete form of an instruction, as `decode` returns it."""
    spec = _spec(instr)
    codes = _field_codes(spec, instr)
    values = {f.name: _value_of_code(f, codes[f.name]) for f in spec.fields if f.name != "opcode"}
    return Instruction(spec.mnemonic, values)


def encode(instr: Instruction) -> bytes:
    """The instruction's fixed-width encoding (table width, little-endian)."""
    table = load_table()
    spec = _spec(instr)
    word = 0
    for field, code in zip(spec.fields, _field_codes(spec, instr).values()):
        word |= code << field.lsb
    return word.to_bytes(table.width_bytes, "little")


def encode_program(instructions: Iterable[Instruction]) -> bytes:
    """The concatenated encodings; an error names the instruction's index."""
    instructions = list(instructions)
    return encode_program_fields([i.mnemonic for i in instructions], [i.fields for i in instructions])


def encode_program_fields(mnemonics: Sequence[str], fields: Sequence[Mapping[str, int | float]],
                          shared: Mapping[str, Sequence[int | float]] | None = None) -> bytes:
    """`encode_program` of the instructions `Instruction(mnemonics[pc], {**fields[pc], name:
    shared[name][pc] for each shared name})`, without building them (the compiler keeps the
    token masks and layers of its instructions as columns).

    Instructions with one mnemonic and one set of given fields are encoded at once, field by
    field with numpy, when every value is a plain int (a float for f32 fields) inside its field.
    Otherwise (enum names, unit names, numpy scalars, a bad value) the program is encoded one
    instruction at a time by `encode`, which gives the same bytes, or the error of the first bad
    instruction.
    """
    shared = dict(shared or {})
    words = np.zeros((len(mnemonics), load_table().width_bytes // 8), dtype="<u8")
    for mnemonic, names, pcs, columns in _field_groups(mnemonics, fields):
        given = {name: column for name, column in zip(names, columns) if name not in shared}
        given.update((name, tuple(map(column.__getitem__, pcs))) for name, column in shared.items())
        group_words = _encode_group(mnemonic, given, len(pcs))
        if group_words is None:
            return _encode_one_by_one([Instruction(m, {**f, **{name: column[pc] for name, column in shared.items()}})
                                       for pc, (m, f) in enumerate(zip(mnemonics, fields))])
        words[pcs] = group_words
    return words.tobytes()


def _field_groups(mnemonics: Sequence[str], fields: Sequence[Mapping]) -> Iterator[tuple[str, tuple, list[int], list]]:
    """The instructions grouped by mnemonic and set of given field names: (mnemonic, names, pcs,
    one column of values per name). A mnemonic whose instructions all give the same fields (the
    usual case) is one group, its columns read by `itemgetter` whatever each dict's key order;
    otherwise its instructions are grouped by their exact key order."""
    by_mnemonic: dict[str, list[int]] = {}
    for pc, mnemonic in enumerate(mnemonics):
        by_mnemonic.setdefault(mnemonic, []).append(pc)
    for mnemonic, pcs in by_mnemonic.items():
        group = [fields[pc] for pc in pcs]
        names = tuple(group[0])
        columns = _columns_of_same_fields(group, names)
        if columns is not None:
            yield mnemonic, names, pcs, columns
            continue
        by_names: dict[tuple, list[int]] = {}
        for pc, f in zip(pcs, group):
            by_names.setdefault(tuple(f), []).append(pc)
        for names, same in by_names.items():
            yield mnemonic, names, same, list(zip(*(fields[pc].values() for pc in same)))


def _columns_of_same_fields(group: list[Mapping], names: tuple) -> list[tuple] | None:
    """One column per name when every dict of `group` has exactly the fields `names` (in any
    order), else None."""
    if len(names) < 2 or set(map(len, group)) != {len(names)}:
        return None  # (one name: itemgetter would give values, not tuples)
    try:
        return list(zip(*map(operator.itemgetter(*names), group)))
    except KeyError:  # as many fields, other names
        return None


def _encode_one_by_one(instructions: list[Instruction]) -> bytes:
    parts = []
    for pc, instr in enumerate(instructions):
        try:
            parts.append(encode(instr))
        except VitcError as err:
            raise VitcError(f"instruction {pc}: {err}") from None
    return b"".join(parts)


def _encode_group(mnemonic: str, given: dict[str, tuple], count: int) -> np.ndarray | None:
    """The words of `count` instructions of `mnemonic` whose field values are the columns
    `given` (name -> one value per instruction; fields not given take their default), or None
    when a value is not in the numeric fast path (`encode` then handles it, or reports it)."""
    spec = load_table().by_mnemonic.get(mnemonic)
    if spec is None:
        return None
    plan = _encoding_plan(mnemonic)
    if not plan.names.issuperset(given):
        return None
    words = np.zeros((count, load_table().width_bits // 64), dtype=np.uint64)
    opcode = spec.fields[0]
    words[:, opcode.lsb // 64] |= np.uint64(spec.opcode << (opcode.lsb % 64))
    columns = {}
    for names in (plan.int_fields, plan.f32_fields):
        if not names:
            continue
        values = [given[name] if name in given else (plan.defaults[name],) * count for name in names]
        codes = _field_codes_columns([plan.field_of[n] for n in names], values)
        if codes is None:
            return None
        columns.update(zip(names, codes))
    for name, column in columns.items():
        field = plan.field_of[name]
        words[:, field.lsb // 64] |= column << np.uint64(field.lsb % 64)
    own = load_table().unit_index(spec.unit)
    tokens = columns["wait"] | columns["signal"]
    if (tokens != 0).any() if own is None else ((tokens >> np.uint64(own)) & np.uint64(1)).any():
        return None
    return words


def _field_codes_columns(fields: list[Field], values: list[tuple]) -> np.ndarray | None:
    """The codes (uint64, one row per field) of columns of values of int fields (enum names
    allowed), or of f32 fields; None when a value is outside the fast path."""
    values = [tuple(map(f.code_by_name.get, column, column)) if f.kind == "enum" else column
              for f, column in zip(fields, values)]
    kinds = set(map(type, itertools.chain.from_iterable(values)))
    if fields[0].kind == "f32":
        if not kinds <= {float}:
            return None
        exact = np.array(values, dtype=np.float64)
        single = exact.astype(np.float32)
        if np.isnan(exact).any() or not np.array_equal(single.astype(np.float64), exact):
            return None
        return single.view(np.uint32).astype(np.uint64)
    if kinds != {int}:
        return None
    try:
        table = np.array(values, dtype=np.int64)
    except OverflowError:
        return None
    lo = np.array([[f.value_range[0]] for f in fields], dtype=np.int64)
    hi = np.array([[f.value_range[1]] for f in fields], dtype=np.int64)
    if (table < lo).any() or (table > hi).any():
        return None
    return table.astype(np.uint64) & np.array([[f.mask] for f in fields], dtype=np.uint64)


def decode(word: bytes, pc: int = 0) -> Instruction:
    """Decode one instruction word; `pc` (its index in the program) only labels errors."""
    width = load_table().width_bytes
    if len(word) != width:
        raise VitcError(f"instruction {pc} (offset 0x{pc * width:x}): {len(word)} bytes, an instruction is {width}")
    return _decode_words(word, first_pc=pc)[0][0]


def decode_program(code: bytes, pcs: Sequence[int] | None = None) -> list[Instruction]:
    """Decode a code section: a whole number of instruction words. Every instruction is checked;
    with `pcs`, only the instructions at those indices are built, and returned in that order
    (an emulator that shares work between equal operands needs one per distinct word)."""
    decoded, _ = _decode_words(code, first_pc=0, pcs=pcs)
    return decoded if pcs is None else [decoded[pc] for pc in pcs]


@dataclasses.dataclass(frozen=True)
class FieldColumns:
    """The decoded field values of the selected instructions of one opcode, as columns."""

    spec: InstructionSpec
    positions: np.ndarray  # each instruction's index in the selection (`pcs`, else the program)
    values: dict  # field name (all but `opcode`) -> int64 array, float64 for f32 fields


def decode_program_columns(code: bytes, pcs: Sequence[int] | None = None) -> tuple[list[Instruction], list[FieldColumns]]:
    """`decode_program(code, pcs)` and the same instructions' field values as columns, one
    `FieldColumns` per opcode present in the selection, in opcode order. `pcs`, when given,
    must increase (each instruction at most once)."""
    decoded, groups = _decode_words(code, first_pc=0, pcs=pcs)
    if pcs is None:
        return decoded, groups
    pcs = np.asarray(pcs, dtype=np.int64)
    if (np.diff(pcs) <= 0).any():
        raise ValueError("decode_program_columns: pcs must increase")
    return [decoded[pc] for pc in pcs.tolist()], [
        FieldColumns(group.spec, np.searchsorted(pcs, group.positions), group.values) for group in groups
    ]


def _spec(instr: Instruction) -> InstructionSpec:
    spec = load_table().by_mnemonic.get(instr.mnemonic)
    if spec is None:
        raise VitcError(f"unknown mnemonic {instr.mnemonic!r}")
    return spec


def _field_codes(spec: InstructionSpec, instr: Instruction) -> dict[str, int]:
    """Field name -> the unsigned integer stored in its bits, every value checked."""
    fields = instr.fields
    plan = _encoding_plan(spec.mnemonic)
    if not plan.names.issuperset(fields):
        unknown = sorted(set(fields) - plan.names)
        raise VitcError(f"{spec.mnemonic}: unknown field(s) {', '.join(unknown)}")
    codes = {"opcode": spec.opcode}
    for name, lo, hi, mask, default, field in plan.fields:
        value = fields.get(name, default)
        if type(value) is int and lo <= value <= hi:
            codes[name] = value & mask  # the common case, checked inline for speed
            continue
        if value is None:
            raise VitcError(f"{spec.mnemonic}: missing field {name!r}")
        codes[name] = _code_of_value(spec, field, value)
    if codes["wait"] or codes["signal"]:
        _check_tokens(spec, codes["wait"], codes["signal"], lambda msg: VitcError(f"{spec.mnemonic}: {msg}"))
    return codes


@dataclasses.dataclass(frozen=True)
class _EncodingPlan:
    names: frozenset  # fields an Instruction may carry (`opcode` is implied by the mnemonic)
    fields: tuple  # (name, lo, hi, mask, default, Field); lo > hi for f32, which has no int fast path
    defaults: dict  # name -> default (None: required), for `encode_program`
    int_fields: tuple  # names of the fields holding ints (uint, sint, enum, mask)
    f32_fields: tuple
    field_of: dict  # name -> Field


@functools.lru_cache(maxsize=None)
def _encoding_plan(mnemonic: str) -> _EncodingPlan:
    spec = load_table().by_mnemonic[mnemonic]
    fields = []
    for field in spec.fields[1:]:
        lo, hi = field.value_range if field.kind != "f32" else (1, 0)
        fields.append((field.name, lo, hi, field.mask, field.default, field))
    own = spec.fields[1:]
    return _EncodingPlan(frozenset(f.name for f in own), tuple(fields), {f.name: f.default for f in own},
                         tuple(f.name for f in own if f.kind != "f32"), tuple(f.name for f in own if f.kind == "f32"),
                         {f.name: f for f in own})


def _code_of_value(spec: InstructionSpec, field: Field, value) -> int:
    lo, hi = field.value_range
    where = f"{spec.mnemonic}: field {field.name}"
    if field.kind == "f32":
        exact = isinstance(value, (int, float, np.floating)) and not isinstance(value, bool) and _finite_or_float(value)
        if not exact or not f32_exact(float(value)):
            raise VitcError(f"{where}={value!r} is not a float32 value")
        return struct.unpack("<I", struct.pack("<f", float(value)))[0]
    if isinstance(value, str) and field.kind == "enum":
        if value not in field.values:
            raise VitcError(f"{where}={value!r} is not one of {', '.join(field.values)}")
        return field.code_by_name[value]
    if field.kind == "mask" and not isinstance(value, (int, np.integer)):
        return _mask_of_names(where, field, value)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise VitcError(f"{where}={value!r} is not an integer")
    if not lo <= value <= hi:
        raise VitcError(f"{where}={value} does not fit its {field.width}-bit {field.kind} range [{lo}, {hi}]")
    return int(value) & field.mask


def _finite_or_float(value) -> bool:
    """False for an integer too large to convert to a float at all."""
    try:
        float(value)
    except OverflowError:
        return False
    return True


def _mask_of_names(where: str, field: Field, names) -> int:
    names = [names] if isinstance(names, str) else list(names)
    unknown = [n for n in names if n not in field.values]
    if unknown:
        raise VitcError(f"{where}: {unknown[0]!r} is not one of {', '.join(field.values)}")
    return sum({field.code_by_name[n] for n in names})


def _value_of_code(field: Field, code: int) -> int | float:
    if field.kind == "f32":
        return struct.unpack("<f", struct.pack("<I", code))[0]
    if field.kind == "sint" and code >> (field.width - 1):
        return code - (1 << field.width)
    return code


def _check_tokens(spec: InstructionSpec, wait: int, signal: int, error) -> None:
    table = load_table()
    own = table.unit_index(spec.unit)
    if own is None:
        if wait or signal:
            raise error(f"a {spec.unit} instruction carries no tokens: wait={wait:#x} signal={signal:#x}")
        return
    for name, mask in (("wait", wait), ("signal", signal)):
        if mask >> own & 1:
            raise error(f"{name} names the instruction's own unit {spec.unit!r}")


def _decode_words(code: bytes, first_pc: int, pcs: Sequence[int] | None = None) -> tuple[list[Instruction | None], list[FieldColumns]]:
    """Check every word; build the instructions at `pcs` (all when None) into a list indexed by
    pc (None elsewhere), and their columns, `positions` their pcs."""
    table = load_table()
    width = table.width_bytes
    if len(code) % width:
        whole = len(code) // width
        raise VitcError(
            f"instruction {first_pc + whole} (offset 0x{(first_pc + whole) * width:x}): truncated, "
            f"{len(code) % width} of {width} bytes"
        )
    words = np.frombuffer(code, dtype="<u8").reshape(-1, width // 8)
    opcodes = words[:, 0] & 0xFF if len(words) else np.zeros(0, dtype=np.uint64)
    wanted = np.zeros(len(words), dtype=bool)
    wanted[slice(None) if pcs is None else np.asarray(pcs, dtype=np.int64)] = True
    decoded: list[Instruction | None] = [None] * len(words)
    _check_opcodes(table, opcodes, first_pc)
    groups = []
    # The opcodes present, in order (8 bits; bincount: np.unique would import numpy.ma, ~20 ms).
    for opcode in np.flatnonzero(np.bincount(opcodes.astype(np.intp), minlength=1)).tolist():
        index = np.flatnonzero(opcodes == opcode)
        group = _decode_group(table.by_opcode[opcode], words[index], index, wanted[index], first_pc, decoded)
        if len(group.positions):
            groups.append(group)
    return decoded, groups


def _check_opcodes(table: InstructionTable, opcodes: np.ndarray, first_pc: int) -> None:
    opcode_known = np.zeros(1 << 8, dtype=bool)  # the opcode field is the low byte
    opcode_known[list(table.by_opcode)] = True
    known = opcode_known[opcodes.astype(np.intp)]
    if known.all():
        return
    pc = int(np.argmin(known))
    raise VitcError(_where(pc + first_pc) + f": unknown opcode 0x{int(opcodes[pc]):02x}")


def _where(pc: int) -> str:
    return f"instruction {pc} (offset 0x{pc * load_table().width_bytes:x})"


def _decode_group(spec: InstructionSpec, rows: np.ndarray, index: np.ndarray, wanted: np.ndarray, first_pc: int,
                  decoded: list) -> FieldColumns:
    """Check all instructions of one opcode and build the `wanted` ones: `rows` are their words,
    `index` their positions. Returns the wanted ones' columns, `positions` their pcs."""

    def fail(row: int, message: str):
        pc = first_pc + int(index[row])
        raise VitcError(f"{_where(pc)}: {spec.mnemonic}: {message}")

    reserved = ~_used_bits(spec)
    stray = (rows & reserved) != 0
    if stray.any():
        row, word = np.argwhere(stray)[0]
        fail(row, f"reserved bits set in 64-bit word {word}: 0x{int(rows[row, word] & reserved[word]):016x}")
    # Only enum fields and the tokens can be wrong in a word without reserved bits: only they
    # are extracted from every word; the other fields only from the words to build.
    for field in spec.fields[1:]:
        if field.kind != "enum":
            continue
        column = _codes(rows, field)
        bad = column >= len(field.values)
        if bad.any():
            row = int(np.argmax(bad))
            fail(row, f"field {field.name}: code {int(column[row])} names none of {', '.join(field.values)}")
    _check_group_tokens(spec, {name: _codes(rows, spec.field_by_name[name]) for name in ("wait", "signal")}, fail)
    keep = np.flatnonzero(wanted)
    kept = rows[keep]
    values = {field.name: _column_values(field, _codes(kept, field)) for field in spec.fields[1:]}
    mnemonic, names = spec.mnemonic, list(values)
    group = [Instruction(mnemonic, dict(zip(names, row))) for row in zip(*(column.tolist() for column in values.values()))]
    positions = index[keep]
    for position, instr in zip(positions.tolist(), group):
        decoded[position] = instr
    return FieldColumns(spec, positions, values)


def _codes(rows: np.ndarray, field: Field) -> np.ndarray:
    """The field's code (its bits, unsigned) in each instruction word of `rows`."""
    return (rows[:, field.lsb // 64] >> np.uint64(field.lsb % 64)) & np.uint64(field.mask)


def _column_values(field: Field, column: np.ndarray) -> np.ndarray:
    """Field codes as values: float64 for f32 fields (exactly the float32 values), else int64."""
    if field.kind == "f32":
        # A signalling NaN's bits come out quiet, as Python's float of it would; numpy flags
        # that cast as invalid, which is not an error in a decoded field.
        with np.errstate(invalid="ignore"):
            return column.astype(np.uint32).view(np.float32).astype(np.float64)
    signed = column.astype(np.int64)
    if field.kind == "sint":
        return signed - ((signed >> (field.width - 1)) << field.width)
    return signed


def _check_group_tokens(spec: InstructionSpec, codes: dict, fail) -> None:
    wait, signal = codes["wait"], codes["signal"]
    own = load_table().unit_index(spec.unit)
    owned = (wait | signal) != 0 if own is None else ((wait | signal) >> np.uint64(own) & np.uint64(1)) != 0
    if not owned.any():
        return
    row = int(np.argmax(owned))
    _check_tokens(spec, int(wait[row]), int(signal[row]), lambda msg: fail(row, msg))


@functools.lru_cache(maxsize=None)
def _used_bits(spec: InstructionSpec) -> np.ndarray:
    words = [0] * (load_table().width_bits // 64)
    for field in spec.fields:
        words[field.lsb // 64] |= field.mask << (field.lsb % 64)
    return np.array(words, dtype=np.uint64)


def field_value(spec: InstructionSpec, field: Field, value) -> int | float:
    """Check one field's value (any form `encode` accepts) and return its canonical form."""
    return _value_of_code(field, _code_of_value(spec, field, value))
