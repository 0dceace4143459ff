"""A decoded program prepared for execution: its instructions as columns (unit, tokens, layer,
cycles, body, by pc), the `Body` each shares with the instructions of equal operands, and, made
only when asked for, one `Op` per instruction for what walks the program one instruction at a
time (traces, the hazard checker, the event-driven schedule, messages).

Everything that does not depend on data is computed once here, before anything runs: the unit,
the token bits, the bounds-checked on-chip accesses, the cycle cost, MACs, vector elements and
DRAM bytes, and the semantics bound to the run's machine (`Body.run`, made by the mnemonic's
binder in `SEMANTICS`: views of the memories and derived constants are made once). The run loop
then does no per-instruction decoding. Instructions that differ only in their tokens and layer
share one `Body` (a program repeats its tiles and blocks many times): they are found by
comparing the instruction words with those bits masked out, which the one-to-one encoding
makes the same as comparing the operand fields. Only those classes' first instructions are
decoded into `Instruction`s (every word is still checked); an `Op` builds its own from its
body's when a message or a trace asks for it. The checks and the work counts run on the
classes' field columns, a few numpy operations per kind of instruction (`footprint`,
`implemented`, `timing`, `isa.costs`); only binding is per class.

Invariants:
- the program contains exactly one `halt`, as its last instruction (code after `halt` could
  never run, so it is reported rather than ignored);
- every instruction's sizes and addresses are checked before the first instruction runs, and
  nothing is bound before its checks passed; the error reported is the first in program order
  (at one instruction: what the emulator does not implement, then its layer, then its operands,
  each in the order of `implemented_checks` and `footprint.check_columns`), naming the
  instruction by `describe`: pc, byte offset and disassembly;
- classes are numbered in the order of their first instruction, so `bodies` are too.
"""

import functools
import itertools
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, NamedTuple

import numpy as np

from isa import costs
from isa.config import HardwareConfig
from isa.disassembler import format_instruction
from isa.encoding import FieldColumns, Instruction, decode_program_columns
from isa.errors import VitcError
from isa.table import COMMON_FIELDS, WORD_BITS, load_table
from runtime_emulator import footprint, timing
from runtime_emulator.implemented import IMPLEMENTED, implemented_checks
from runtime_emulator.machine import Machine
from runtime_emulator.semantics import (
    dma, elementwise, float_matmul, layout, lut, matrix, qlinear, quantization, reductions,
)
from runtime_emulator.units import CONTROL, MASK_UNITS, UNIT_INDEX

Binder = Callable[[Machine, dict], Callable[[], None]]


def _at_run_time(semantics: Callable[[Machine, dict], None]) -> Binder:
    """The binder of a semantic function that does all its work when the instruction runs."""
    return lambda machine, fields: functools.partial(semantics, machine, fields)


SEMANTICS: dict[str, Binder] = {
    "dma.load": dma.bind_load,
    "dma.store": dma.bind_store,
    "mm": matrix.bind_mm,
    "transpose": _at_run_time(layout.transpose),
    "copy": layout.bind_copy,
    "requant": quantization.bind_requant,
    "dequant": quantization.bind_dequant,
    "quant": quantization.bind_quant,
    "valu": elementwise.bind_valu,
    "vunary": elementwise.bind_vunary,
    "vfma": elementwise.bind_vfma,
    "fmm": _at_run_time(float_matmul.fmm),
    "rowsum": reductions.bind_rowsum,
    "rowmax": _at_run_time(reductions.rowmax),
    "lut": lut.bind_lut,
    "qadd": qlinear.bind_qadd,
    "qmul": qlinear.bind_qmul,
    "halt": lambda machine, fields: _nothing,
}


# What a kind's instructions share, made for all of them at once from their field columns
# before any is bound (its binder then finds it made). Pure arithmetic on the fields, nothing of
# the machine, so it may see fields that fail their checks.
BEFORE_BINDING: dict[str, Callable[[dict], None]] = {
    "qadd": qlinear.make_qadd_tables_of_columns,
}


def _nothing() -> None:
    return None


@dataclass(slots=True, eq=False)
class Body:
    """Everything about an instruction that its operand fields (all but wait, signal, layer)
    determine; instructions with the same operands share one (compared and hashed as itself)."""

    instruction: Instruction  # the first instruction with these operands (its tokens and layer are its own)
    unit: int  # index into units.UNITS, or CONTROL
    run: Callable[[], None]  # the instruction's semantics, bound to the run's machine
    cycles: int
    dim: int  # the configuration's, for the accesses
    known_accesses: list | None = None  # `accesses`, once asked for

    @property
    def accesses(self) -> list:
        """The on-chip accesses (`footprint.Access`), made when first asked for (the hazard
        checker asks; a run without it never does)."""
        if self.known_accesses is None:
            self.known_accesses = footprint.ACCESSES[self.instruction.mnemonic](self.instruction.fields, self.dim)
        return self.known_accesses

    @property
    def dram_span(self) -> tuple[int, int] | None:
        """DRAM bytes [lo, hi) a DMA reads or writes (`footprint.dram_range`)."""
        return footprint.dram_range(self.instruction.mnemonic, self.instruction.fields)


class Op(NamedTuple):
    """One instruction of the program. A named tuple so that a program's ops are made without a
    Python call each (`_make_ops`)."""

    pc: int
    waits: tuple[int, ...]  # units to pop a token from before starting
    signals: tuple[int, ...]  # units to push a token to when finished
    layer: int
    body: Body

    @property
    def instruction(self) -> Instruction:
        """The decoded instruction, built when asked for (messages, traces): its operands are
        its body's, its tokens and layer its own."""
        return _with_common(self.body.instruction, _mask(self.waits), _mask(self.signals), self.layer)

    @property
    def mnemonic(self) -> str:
        return self.body.instruction.mnemonic

    @property
    def fields(self):
        return self.instruction.fields

    @property
    def unit(self) -> int:
        return self.body.unit

    @property
    def run(self) -> Callable[[], None]:
        return self.body.run

    @property
    def accesses(self) -> list:
        return self.body.accesses

    @property
    def cycles(self) -> int:
        return self.body.cycles

    @property
    def dram_span(self) -> tuple[int, int] | None:
        return self.body.dram_span


@dataclass(eq=False)
class Work:
    """What each body's instruction does, for the statistics (`timing.py`): int64 arrays
    indexed by body."""

    macs: np.ndarray
    vector_elements: np.ndarray
    dram_read: np.ndarray
    dram_written: np.ndarray


@dataclass(eq=False)
class Program:
    """A prepared program: its instructions as int64 columns indexed by pc (`body` indexes
    `bodies`), and `ops[pc]`, made from the columns when first asked for (a trace, the hazard
    checker, the event-driven schedule; a plain run needs only the columns and the bodies).
    Iterating or indexing it gives the ops."""

    bodies: list[Body]
    work: Work
    body: np.ndarray
    opcode: np.ndarray
    unit: np.ndarray  # CONTROL for halt
    wait: np.ndarray  # token masks
    signal: np.ndarray
    layer: np.ndarray
    cycles: np.ndarray
    known_ops: list[Op] | None = None  # `ops`, once asked for

    @property
    def ops(self) -> list[Op]:
        if self.known_ops is None:
            self.known_ops = _make_ops(self.wait, self.signal, self.layer, map(self.bodies.__getitem__, self.body.tolist()))
        return self.known_ops

    def op(self, pc: int) -> Op:
        """The instruction at `pc`, without making every op (an error names one)."""
        if self.known_ops is not None:
            return self.known_ops[pc]
        return Op(pc, MASK_UNITS[int(self.wait[pc])], MASK_UNITS[int(self.signal[pc])], int(self.layer[pc]),
                  self.bodies[int(self.body[pc])])

    def __len__(self) -> int:
        return len(self.body)

    def __getitem__(self, pc: int) -> Op:
        return self.ops[pc]

    def __iter__(self) -> Iterator[Op]:
        return iter(self.ops)


def describe(pc: int, instruction: Instruction) -> str:
    """How every emulator message names an instruction."""
    offset = pc * load_table().width_bytes
    return f"pc {pc} (offset 0x{offset:x}) `{format_instruction(instruction)}`"


def prepare(code: bytes, config: HardwareConfig, machine: Machine, layer_count: int) -> Program:
    """Decode the code section and prepare its instructions, their semantics bound to `machine`
    (whose DRAM size bounds the DMAs)."""
    table = load_table()
    whole = len(code) // table.width_bytes  # a truncated last word is reported by decode_program_columns
    words = np.frombuffer(code, "<u8", count=whole * table.width_bytes // 8).reshape(whole, table.width_bytes // 8)
    body, firsts = _operand_classes(words)
    operands, groups = decode_program_columns(code, firsts)  # checks every word, one instruction per class
    common = {name: _common_field(words, name) for name in COMMON_FIELDS}

    def instruction_at(pc: int) -> Instruction:
        return _with_common(operands[body[pc]], int(common["wait"][pc]), int(common["signal"][pc]), int(common["layer"][pc]))

    halts = np.flatnonzero(common["opcode"] == table.by_mnemonic["halt"].opcode).tolist()
    if not halts:
        raise VitcError("program has no halt instruction")
    if halts[0] != whole - 1:
        pc = halts[0] + 1
        raise VitcError(f"{describe(pc, instruction_at(pc))}: code after halt (pc {halts[0]}) can never run")
    failures, work, body_units, body_cycles = _check_and_count(groups, firsts, config, len(machine.dram))
    bad_layers = np.flatnonzero(common["layer"] >= max(layer_count, 1))
    if len(bad_layers):
        layer = int(common["layer"][bad_layers[0]])
        failures.append((int(bad_layers[0]), 1, lambda: f"layer {layer} is not in the binary's layer table ({layer_count} names)"))
    first_failure = min(failures, key=lambda failure: failure[:2], default=None)
    checked = len(operands) if first_failure is None else int(np.searchsorted(firsts, first_failure[0]))
    for group in groups:
        if group.spec.mnemonic in BEFORE_BINDING:
            BEFORE_BINDING[group.spec.mnemonic](group.values)
    bodies = _bind(operands[:checked], firsts[:checked], body_units.tolist(), body_cycles.tolist(), config.dim, machine)
    if first_failure is not None:
        pc, _, message = first_failure
        raise VitcError(f"{describe(pc, instruction_at(pc))}: {message()}")
    return Program(bodies, work, body, common["opcode"], body_units[body], common["wait"], common["signal"],
                   common["layer"], body_cycles[body])


def _make_ops(waits: np.ndarray, signals: np.ndarray, layers: np.ndarray, bodies: Iterable[Body]) -> list[Op]:
    """`Op(pc, ...)` for every pc, each made by `tuple.__new__` straight from C (`Op(...)`
    would run the named tuple's Python `__new__`, most of the cost at 20k+ instructions)."""
    columns = zip(range(len(waits)), map(MASK_UNITS.__getitem__, waits.tolist()),
                  map(MASK_UNITS.__getitem__, signals.tolist()), layers.tolist(), bodies)
    return list(itertools.starmap(tuple.__new__, zip(itertools.repeat(Op), columns)))


Failure = tuple[int, int, Callable[[], str]]  # (pc, rank at that pc, the message)


def _check_and_count(groups: list[FieldColumns], firsts: np.ndarray, config: HardwareConfig,
                     dram_size: int) -> tuple[list[Failure], Work, np.ndarray, np.ndarray]:
    """Each kind of instruction's first failure (rank 0: not implemented, 2: operands; the
    layer check is rank 1), every class's work, unit and cycle cost, from the classes' field
    columns."""
    memory_rows = footprint.memory_rows(config)
    work = Work(*(np.zeros(len(firsts), np.int64) for _ in range(4)))
    units, cycles = np.full(len(firsts), CONTROL, np.int64), np.zeros(len(firsts), np.int64)
    failures = []
    for group in groups:
        pcs, mnemonic, count = firsts[group.positions], group.spec.mnemonic, len(group.positions)
        failures += _first_failure(implemented_checks(group.spec, group.values, count), pcs, rank=0)
        if mnemonic not in IMPLEMENTED:
            continue
        unit_name = group.spec.unit
        units[group.positions] = UNIT_INDEX.get(unit_name, CONTROL)
        for rows, f in _by_selectors(mnemonic, group.values):
            checks = footprint.check_columns(mnemonic, f, len(rows), config.dim, memory_rows, dram_size)
            failures += _first_failure(checks, pcs[rows], rank=2)
            classes = group.positions[rows]
            cycles[classes] = costs.cycles_of_columns(mnemonic, f, len(rows), config)
            moved = timing.dram_bytes_moved(mnemonic, f)
            work.macs[classes] = timing.macs(mnemonic, f)
            work.vector_elements[classes] = timing.vector_elements(mnemonic, unit_name, f)
            work.dram_read[classes] = moved if mnemonic == "dma.load" else 0
            work.dram_written[classes] = moved if mnemonic == "dma.store" else 0
    return failures, work, units, cycles


def _first_failure(checks: list[footprint.Check], pcs: np.ndarray, rank: int) -> list[Failure]:
    """The first instruction (lowest pc) failing any of `checks`, with the message of its first
    failing check; none when every instruction passes."""
    if not checks:
        return []
    fails = np.logical_or.reduce([failing for failing, _ in checks])
    if not fails.any():
        return []
    i = int(np.argmax(fails))  # pcs ascend
    message = next(message for failing, message in checks if failing[i])
    return [(int(pcs[i]), rank, functools.partial(message, i))]


def _by_selectors(mnemonic: str, values: dict) -> Iterator[tuple[np.ndarray, dict]]:
    """The rows of one kind's columns split by the values of its `footprint.SELECTORS` fields,
    each part with its fields: the selectors as ints, every other field an array."""
    names = footprint.SELECTORS.get(mnemonic, ())
    key = np.zeros(len(next(iter(values.values()), ())), np.int64)
    for name in names:
        key = key * (int(values[name].max()) + 1) + values[name]  # codes are small and non-negative
    for code in np.flatnonzero(np.bincount(key)).tolist():
        rows = np.flatnonzero(key == code)
        fields = {name: column[rows] for name, column in values.items()}
        fields.update((name, int(values[name][rows[0]])) for name in names)
        yield rows, fields


def _bind(operands: list[Instruction], firsts: np.ndarray, units: list[int], cycles: list[int], dim: int,
          machine: Machine) -> list[Body]:
    """The body of each checked class of `operands` (in pc order, with its unit and `cycles`):
    its semantics bound to the machine; a binder's error names the instruction."""
    bodies = []
    for pc, instr, unit, cost in zip(firsts.tolist(), operands, units, cycles):
        mnemonic, f = instr.mnemonic, instr.fields
        try:
            run = SEMANTICS[mnemonic](machine, f)
        except VitcError as err:
            raise VitcError(f"{describe(pc, instr)}: {err}") from None
        bodies.append(Body(instr, unit, run, cost, dim))
    return bodies


def _with_common(operands: Instruction, wait: int, signal: int, layer: int) -> Instruction:
    """`operands` with these tokens and layer: what decoding a word of its class gives."""
    return Instruction(operands.mnemonic, {**operands.fields, "wait": wait, "signal": signal, "layer": layer})


def _mask(units: tuple[int, ...]) -> int:
    """The token mask naming `units` (the inverse of `MASK_UNITS`)."""
    return sum(1 << unit for unit in units)


def _common_field(words: np.ndarray, name: str) -> np.ndarray:
    """The value of a common field (same bits in every instruction) in every instruction word."""
    field = load_table().instructions[0].field_by_name[name]
    return ((words[:, field.lsb // WORD_BITS] >> np.uint64(field.lsb % WORD_BITS)) & np.uint64(field.mask)).astype(np.int64)


def _operand_classes(words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Instructions whose words are equal but for the wait, signal and layer bits have the same
    opcode and operands (the encoding is one to one): for each instruction the index of its
    class, and for each class its first instruction; classes are numbered in that order.

    The masked words are sorted by a 64-bit hash of each (one sort, not a sort per 64-bit
    word of the instruction) and a class is a run of equal words in that order, so a class
    never holds two different words. Equal words are one class unless two different words
    share a hash and interleave (not seen in practice; they would then be bound twice, with
    the same result). Only the 64-bit words that differ somewhere are looked at."""
    columns = []
    for word, column in enumerate(words.T):
        column = column & _OPERAND_BITS[word]
        if len(column) and (column != column[0]).any():
            columns.append(column)
    hashes = np.zeros(len(words), np.uint64)
    for column in columns:  # FNV-style over the 64-bit words, wrapping
        hashes = (hashes ^ column) * _HASH_MULTIPLIER
    order = np.argsort(hashes)
    starts_class = np.zeros(len(order), dtype=bool)
    starts_class[:1] = True
    for column in columns:
        in_order = column[order]
        starts_class[1:] |= in_order[1:] != in_order[:-1]
    starts = np.flatnonzero(starts_class)
    firsts = np.minimum.reduceat(order, starts) if len(order) else order
    by_first = np.argsort(firsts)
    number = np.empty(len(firsts), np.int64)
    number[by_first] = np.arange(len(firsts))
    classes = np.empty(len(order), dtype=np.int64)
    classes[order] = number[np.cumsum(starts_class) - 1]
    return classes, firsts[by_first]


def _operand_bits() -> np.ndarray:
    """Per 64-bit word of an instruction, the bits that are not wait, signal or layer."""
    bits = np.full(load_table().width_bytes // 8, ~np.uint64(0))
    for name in COMMON_FIELDS[1:]:
        field = load_table().instructions[0].field_by_name[name]
        bits[field.lsb // WORD_BITS] &= ~np.uint64(field.mask << (field.lsb % WORD_BITS))
    return bits


_OPERAND_BITS = _operand_bits()
_HASH_MULTIPLIER = np.uint64(0x100000001B3)  # the 64-bit FNV prime
