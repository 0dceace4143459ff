"""The assembler: vitc assembly text -> instructions, or a complete `.vitb` Binary.

One statement per line; `#` starts a comment. An instruction is `mnemonic field=value, ...`;
a directive is `.name argument, ...`. The grammar (isa/assembly.lark) is generic: which
mnemonics, fields and values are valid comes from the instruction table, so adding an
instruction never touches the assembler. Values by field kind:
- `uint` / `sint`: integer literals (decimal, `0x` hex, `0b` binary, optional sign);
- `f32`: decimal or integer literals, `inf`, `nan`, rounded to the nearest float32 (like C's
  `0.1f`); every NaN becomes the canonical quiet NaN;
- `enum`: a value name (`op=add`) or its integer code;
- `mask` (`wait`, `signal`): unit names joined by `|` (`wait=load|matrix`) or an integer.

Omitted fields take the table's default; a field without one is required.

Directives describe the rest of a binary; constant data is appended in source order:
- `.target NAME` or `.target "path.toml"`: the hardware configuration (records its hash);
  `.config_hash "HEX"` records a hash directly. `vitc asm --hw` must agree with either.
- `.dram_size N` (required for a binary), `.const_addr N` (default 0): DRAM size and the
  address where the constant data is loaded.
- `.layer "name"`: appends a layer name; instruction field `layer` indexes this list.
- `.input "name", dtype=D, shape=[d0, ...], addr=N[, scale=F][, zero_point=N]` and `.output`
  likewise: the I/O table (D one of int8, uint8, int32, float32, int64).
- `.hex "0a0b..."`, `.byte v, ...` (-128..255), `.i32 v, ...`, `.f32 v, ...`: constant data,
  little-endian.

Example:

    .target default
    .dram_size 0x10000
    .input "x", dtype=uint8, shape=[4, 16], addr=0x0, scale=0.5, zero_point=3
    .output "y", dtype=uint8, shape=[4, 16], addr=0x40, scale=0.5, zero_point=3
    dma.load mem=spad, addr=0, rows=4, cols=16, bs=4, dram=0x0, dram_stride=16, signal=store
    dma.store mem=spad, addr=0, rows=4, cols=16, bs=4, dram=0x40, dram_stride=16, wait=load
    halt

Invariant: every error is a VitcError `SOURCE:LINE:COLUMN: message` pointing at the offending
token, and assembling the disassembler's output gives back the identical instructions/binary.
"""

import dataclasses
import functools
import json
from pathlib import Path

import lark
import numpy as np

from isa.config import HardwareConfig, load_config
from isa.container import DTYPES, Binary, IOEntry, check_binary
from isa.encoding import Instruction, canonical, encode_program, field_value
from isa.errors import VitcError
from isa.table import Field, InstructionSpec, load_table

GRAMMAR_PATH = Path(__file__).parent / "assembly.lark"


@functools.lru_cache(maxsize=None)
def _parser() -> lark.Lark:
    return lark.Lark(GRAMMAR_PATH.read_text(), parser="lalr", maybe_placeholders=False)


def assemble(text: str, source: str = "<asm>") -> list[Instruction]:
    """The instructions of an assembly source, in canonical form; directives are checked, not used."""
    return _Assembler(source).run(text).instructions


def assemble_binary(text: str, source: str = "<asm>", config: HardwareConfig | None = None) -> Binary:
    """A complete binary from an assembly source. `config` (e.g. `vitc asm --hw`) must agree
    with a `.target` / `.config_hash` directive when the source has one."""
    program = _Assembler(source).run(text)
    config_hash = program.config_hash
    if config is not None:
        if config_hash is not None and config_hash != config.hash:
            raise VitcError(f"{source}: the source targets configuration {config_hash[:12]}..., "
                            f"not {config.name} ({config.hash[:12]}...)")
        config_hash = config.hash
    if config_hash is None:
        raise VitcError(f"{source}: no target configuration: add `.target default` or pass one (--hw)")
    if program.dram_size is None:
        raise VitcError(f"{source}: missing `.dram_size` directive")
    binary = Binary(config_hash, encode_program(program.instructions), bytes(program.constants),
                    program.const_addr, program.dram_size, program.io, program.layers)
    try:
        check_binary(binary)
    except VitcError as err:
        raise VitcError(f"{source}: {err}") from None
    return binary


@dataclasses.dataclass
class _Program:
    instructions: list = dataclasses.field(default_factory=list)
    config_hash: str | None = None
    dram_size: int | None = None
    const_addr: int = 0
    constants: bytearray = dataclasses.field(default_factory=bytearray)
    io: list = dataclasses.field(default_factory=list)
    layers: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class _Value:
    """A literal with where it was written."""

    kind: str  # int, float, names, string, list
    value: object  # int, float, tuple of names, str, tuple of _Value
    line: int
    column: int


class _Assembler:
    def __init__(self, source: str):
        self.source = source
        self.program = _Program()

    def fail(self, at, message: str):
        raise VitcError(f"{self.source}:{at.line}:{at.column}: {message}")

    def run(self, text: str) -> _Program:
        try:
            tree = _parser().parse(text if text.endswith("\n") else text + "\n")
        except lark.exceptions.UnexpectedInput as err:
            raise VitcError(f"{self.source}:{err.line}:{err.column}: syntax error: {_describe(err)}") from None
        for statement in tree.children:
            if statement.data == "instruction":
                self.program.instructions.append(self.instruction(statement))
            else:
                self.directive(statement)
        return self.program

    # -- instructions -------------------------------------------------------------------------

    def instruction(self, tree) -> Instruction:
        mnemonic_token, *operands = tree.children
        spec = load_table().by_mnemonic.get(str(mnemonic_token))
        if spec is None:
            self.fail(mnemonic_token, f"unknown mnemonic {str(mnemonic_token)!r}")
        fields = {}
        for operand in operands:
            name_token, value_tree = operand.children
            name = str(name_token)
            field = spec.field_by_name.get(name)
            if field is None or name == "opcode":
                self.fail(name_token, f"{spec.mnemonic} has no field {name!r} (fields: {', '.join(f.name for f in spec.fields[1:])})")
            if name in fields:
                self.fail(name_token, f"{spec.mnemonic}: field {name!r} given twice")
            fields[name] = self.field(spec, field, self.value(value_tree))
        try:
            return canonical(Instruction(spec.mnemonic, fields))
        except VitcError as err:
            self.fail(mnemonic_token, str(err))

    def field(self, spec: InstructionSpec, field: Field, value: _Value) -> int | float:
        literal = value.value
        if field.kind == "f32" and value.kind in ("int", "float"):
            literal = float(np.float32(self.as_float(value)))  # nearest float32, like a C `f` suffix
        elif value.kind == "names" and field.kind == "enum" and len(literal) == 1:
            literal = literal[0]
        elif value.kind == "names" and field.kind == "mask":
            literal = list(literal)
        elif value.kind != "int":
            self.fail(value, f"{spec.mnemonic}: field {field.name} ({field.kind}) cannot take a {value.kind} value")
        try:
            return field_value(spec, field, literal)
        except VitcError as err:
            self.fail(value, str(err))

    # -- directives -----------------------------------------------------------------------------

    def directive(self, tree):
        name_token, *arguments = tree.children
        handler = getattr(self, "directive_" + str(name_token)[1:], None)
        if handler is None:
            self.fail(name_token, f"unknown directive {str(name_token)!r} (known: {', '.join(_DIRECTIVES)})")
        positional, keywords = [], {}
        for argument in arguments:
            if argument.data == "keyword":
                key, value_tree = argument.children
                if str(key) in keywords:
                    self.fail(key, f"{name_token}: {key} given twice")
                keywords[str(key)] = self.value(value_tree)
            else:
                positional.append(self.value(argument))
        handler(name_token, positional, keywords)

    def expect(self, at, args: list, count: int | None, kinds: tuple, keywords: dict | None = None, allowed=()):
        """Check a directive's arguments: `count` positional ones (None: any number) of `kinds`,
        and only `allowed` keywords."""
        if count is not None and len(args) != count:
            self.fail(at, f"{at} takes {count} positional argument(s), got {len(args)}")
        for arg in args:
            if arg.kind not in kinds:
                self.fail(arg, f"{at}: expected {' or '.join(kinds)}, got {arg.kind}")
        for key in keywords or {}:
            if key not in allowed:
                self.fail(at, f"{at}: unknown keyword {key!r} (allowed: {', '.join(allowed)})")

    def single_int(self, at, args, keywords) -> int:
        self.expect(at, args, 1, ("int",), keywords)
        if args[0].value < 0:
            self.fail(args[0], f"{at}: must not be negative")
        return args[0].value

    def directive_target(self, at, args, keywords):
        self.expect(at, args, 1, ("names", "string"), keywords)
        if args[0].kind == "names" and len(args[0].value) != 1:
            self.fail(args[0], ".target: expected one configuration name or a quoted path")
        name = args[0].value if args[0].kind == "string" else args[0].value[0]
        try:
            self.set_config_hash(at, load_config(name).hash)
        except VitcError as err:
            self.fail(args[0], str(err))

    def directive_config_hash(self, at, args, keywords):
        self.expect(at, args, 1, ("string",), keywords)
        text = args[0].value
        if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
            self.fail(args[0], ".config_hash: expected 64 lower-case hex digits")
        self.set_config_hash(at, text)

    def set_config_hash(self, at, config_hash: str):
        if self.program.config_hash is not None:
            self.fail(at, "the target configuration is already set")
        self.program.config_hash = config_hash

    def directive_dram_size(self, at, args, keywords):
        self.program.dram_size = self.single_int(at, args, keywords)

    def directive_const_addr(self, at, args, keywords):
        self.program.const_addr = self.single_int(at, args, keywords)

    def directive_layer(self, at, args, keywords):
        self.expect(at, args, 1, ("string",), keywords)
        self.program.layers.append(args[0].value)

    def directive_input(self, at, args, keywords):
        self.io_entry(at, "input", args, keywords)

    def directive_output(self, at, args, keywords):
        self.io_entry(at, "output", args, keywords)

    def io_entry(self, at, kind: str, args, keywords):
        self.expect(at, args, 1, ("string",), keywords, allowed=("dtype", "shape", "addr", "scale", "zero_point"))
        for key in ("dtype", "shape", "addr"):
            if key not in keywords:
                self.fail(at, f"{at}: missing {key}=")
        dtype = keywords["dtype"]
        if dtype.kind != "names" or len(dtype.value) != 1 or dtype.value[0] not in DTYPES:
            self.fail(dtype, f"{at}: dtype must be one of {', '.join(DTYPES)}")
        shape = keywords["shape"]
        if shape.kind != "list" or any(d.kind != "int" or d.value < 0 for d in shape.value):
            self.fail(shape, f"{at}: shape must be a list of non-negative integers")
        addr = self.keyword(at, keywords, "addr", ("int",), None)
        scale = self.keyword(at, keywords, "scale", ("float", "int"), None)
        scale = 1.0 if scale is None else self.as_float(keywords["scale"])
        zero_point = self.keyword(at, keywords, "zero_point", ("int",), 0)
        self.program.io.append(IOEntry(args[0].value, kind, dtype.value[0], tuple(d.value for d in shape.value),
                                       addr, scale, zero_point))

    def keyword(self, at, keywords, key, kinds, default):
        if key not in keywords:
            return default
        value = keywords[key]
        if value.kind not in kinds:
            self.fail(value, f"{at}: {key} must be {' or '.join(kinds)}, got {value.kind}")
        return value.value

    def directive_hex(self, at, args, keywords):
        self.expect(at, args, 1, ("string",), keywords)
        try:
            self.program.constants += bytes.fromhex(args[0].value)
        except ValueError:
            self.fail(args[0], ".hex: expected pairs of hex digits")

    def directive_byte(self, at, args, keywords):
        self.integer_data(at, args, keywords, np.uint8, -128, 255)  # int8 or uint8 codes

    def directive_i32(self, at, args, keywords):
        self.integer_data(at, args, keywords, np.dtype("<i4"), -(1 << 31), (1 << 31) - 1)

    def directive_f32(self, at, args, keywords):
        self.expect(at, args, None, ("int", "float"), keywords)
        self.program.constants += np.array([self.as_float(a) for a in args], dtype="<f4").tobytes()

    def integer_data(self, at, args, keywords, dtype, lo, hi):
        self.expect(at, args, None, ("int",), keywords)
        for arg in args:
            if not lo <= arg.value <= hi:
                self.fail(arg, f"{at}: {arg.value} outside [{lo}, {hi}]")
        # Through int64, then wrap to the stored type: -1 as a byte is 0xff.
        self.program.constants += np.array([a.value for a in args], dtype=np.int64).astype(dtype).tobytes()

    # -- literals -------------------------------------------------------------------------------

    def value(self, tree) -> _Value:
        if tree.data == "list":
            bracket, *items = tree.children
            return _Value("list", tuple(self.value(child) for child in items), bracket.line, bracket.column)
        token = tree.children[0]
        if tree.data == "int":
            return _Value("int", _parse_int(str(token)), token.line, token.column)
        if tree.data == "float":
            return _Value("float", float(str(token)), token.line, token.column)
        if tree.data == "string":
            return _Value("string", self.string(token), token.line, token.column)
        return _Value("names", tuple(str(t) for t in tree.children), token.line, token.column)

    def as_float(self, value: _Value) -> float:
        """A numeric literal as a Python float (an integer too large for a float is an error)."""
        try:
            return float(value.value)
        except (OverflowError, TypeError):
            self.fail(value, f"expected a number that fits a float, got {value.kind} {str(value.value)[:20]}")

    def string(self, token) -> str:
        try:
            return json.loads(str(token))
        except json.JSONDecodeError as err:
            self.fail(token, f"bad string literal: {err.msg}")


_DIRECTIVES = sorted("." + name[len("directive_"):] for name in dir(_Assembler) if name.startswith("directive_"))


def _parse_int(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    base = {"0x": 16, "0b": 2}.get(digits[:2], 10)
    return sign * int(digits[2:] if base != 10 else digits, base)


def _describe(err: lark.exceptions.UnexpectedInput) -> str:
    if isinstance(err, lark.exceptions.UnexpectedToken):
        expected = ", ".join(sorted(_terminal_text(name) for name in err.expected))
        found = "end of line" if err.token.type == "_NL" else repr(str(err.token))
        return f"unexpected {found} (expected {expected})"
    if isinstance(err, lark.exceptions.UnexpectedCharacters):
        return f"unexpected character {err.char!r}"
    return "unexpected end of input"


def _terminal_text(name: str) -> str:
    """How a grammar terminal reads in an error: punctuation as itself, tokens by their kind."""
    if name == "_NL":
        return "end of line"
    if name == "$END":  # lark's end-of-input pseudo-terminal, not in the grammar's terminal table
        return "end of input"
    terminal = _parser().get_terminal(name)
    if terminal.pattern.type == "str":
        return repr(terminal.pattern.value)
    return name.lower()
