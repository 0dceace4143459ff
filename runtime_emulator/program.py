"""A decoded program prepared for execution: one `Op` per instruction, up to `halt`.

Everything that does not depend on data is computed once here, before anything runs: the unit,
the token bits as tuples of units, the bounds-checked on-chip accesses, the cycle cost, MACs,
vector elements and DRAM bytes, and the semantics bound to the run's machine (`Body.run`, made
by the mnemonic's binder in `SEMANTICS`: views of the memories and derived constants are made
once). The run loop then does no per-instruction decoding. Instructions that differ only in
their tokens and layer share one `Body` (a program repeats its tiles and blocks many times):
they are found by comparing the instruction words with those bits masked out, which the
one-to-one encoding makes the same as comparing the operand fields. Only those classes' first
instructions are decoded into `Instruction`s (every word is still checked); an `Op` builds its
own from its body's when a message or a trace asks for it.

Invariants:
- the program contains exactly one `halt`, as its last instruction (code after `halt` could
  never run, so it is reported rather than ignored);
- every instruction's sizes and addresses are checked before the first instruction runs; an
  error names the instruction by `describe(op)`: pc, byte offset and disassembly.
"""

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np

from isa import costs
from isa.config import HardwareConfig
from isa.disassembler import format_instruction
from isa.encoding import Instruction, decode_program
from isa.errors import VitcError
from isa.table import COMMON_FIELDS, WORD_BITS, load_table
from runtime_emulator import footprint, timing
from runtime_emulator.implemented import check_implemented
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


def _nothing() -> None:
    return None


@dataclass(slots=True, eq=False)
class Body:
    """Everything about an instruction that its operand fields (all but wait, signal, layer)
    determine; instructions with the same operands share one (compared and hashed as itself)."""

    instruction: Instruction  # the first instruction with these operands (its tokens and layer are its own)
    unit: int  # index into units.UNITS, or CONTROL
    run: Callable[[], None]  # the instruction's semantics, bound to the run's machine
    accesses: list
    cycles: int
    macs: int
    vector_elements: int
    dram_read: int
    dram_written: int
    dram_span: tuple[int, int] | None  # DRAM bytes [lo, hi) a DMA reads or writes


@dataclass(slots=True)
class Op:
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
    def macs(self) -> int:
        return self.body.macs

    @property
    def vector_elements(self) -> int:
        return self.body.vector_elements

    @property
    def dram_read(self) -> int:
        return self.body.dram_read

    @property
    def dram_written(self) -> int:
        return self.body.dram_written

    @property
    def dram_span(self) -> tuple[int, int] | None:
        return self.body.dram_span


def describe(pc: int, instruction: Instruction) -> str:
    """How every emulator message names an instruction."""
    offset = pc * load_table().width_bytes
    return f"pc {pc} (offset 0x{offset:x}) `{format_instruction(instruction)}`"


def prepare(code: bytes, config: HardwareConfig, machine: Machine, layer_count: int) -> list[Op]:
    """Decode the code section and prepare its `Op`s, their semantics bound to `machine` (whose
    DRAM size bounds the DMAs)."""
    table = load_table()
    whole = len(code) // table.width_bytes  # a truncated last word is reported by decode_program
    words = np.frombuffer(code, "<u8", count=whole * table.width_bytes // 8).reshape(whole, table.width_bytes // 8)
    classes, first_pcs = _operand_classes(words)
    firsts = first_pcs.tolist()
    operands = decode_program(code, firsts)  # checks every word, builds one instruction per class
    classes = classes.tolist()
    waits, signals = (_common_field(words, name).tolist() for name in ("wait", "signal"))
    layer_array = _common_field(words, "layer")
    layers = layer_array.tolist()

    def instruction_at(pc: int) -> Instruction:
        return _with_common(operands[classes[pc]], waits[pc], signals[pc], layers[pc])

    halts = np.flatnonzero(_common_field(words, "opcode") == table.by_mnemonic["halt"].opcode).tolist()
    if not halts:
        raise VitcError("program has no halt instruction")
    if halts[0] != whole - 1:
        pc = halts[0] + 1
        raise VitcError(f"{describe(pc, instruction_at(pc))}: code after halt (pc {halts[0]}) can never run")
    memory_rows = footprint.memory_rows(config)
    layer_limit = max(layer_count, 1)
    bad_layers = np.flatnonzero(layer_array >= layer_limit)
    bad_layer = int(bad_layers[0]) if len(bad_layers) else whole
    bodies: list[Body | None] = [None] * len(firsts)
    # In pc order, so that the first bad instruction is the one reported.
    for body_index in np.argsort(first_pcs).tolist():
        pc = firsts[body_index]
        if pc > bad_layer:
            break
        instr = operands[body_index]
        try:
            check_implemented(table.by_mnemonic[instr.mnemonic], instr)
            if pc == bad_layer:
                break  # its layer is reported before its operands are checked
            bodies[body_index] = _body(instr, config, machine, memory_rows)
        except VitcError as err:
            raise VitcError(f"{describe(pc, instr)}: {err}") from None
    if bad_layer < whole:
        layer = layers[bad_layer]
        raise VitcError(
            f"{describe(bad_layer, instruction_at(bad_layer))}: layer {layer} is not in the binary's layer table ({layer_count} names)"
        )
    return [
        Op(pc, MASK_UNITS[wait], MASK_UNITS[signal], layer, bodies[body_index])
        for pc, (wait, signal, layer, body_index) in enumerate(zip(waits, signals, layers, classes))
    ]


def _with_common(operands: Instruction, wait: int, signal: int, layer: int) -> Instruction:
    """`operands` with these tokens and layer: what decoding a word of its class gives."""
    return Instruction(operands.mnemonic, {**operands.fields, "wait": wait, "signal": signal, "layer": layer})


def _mask(units: tuple[int, ...]) -> int:
    """The token mask naming `units` (the inverse of `MASK_UNITS`)."""
    return sum(1 << unit for unit in units)


def _common_field(words: np.ndarray, name: str) -> np.ndarray:
    """The value of a common field (same bits in every instruction) in every instruction word."""
    field = load_table().instructions[0].field_by_name[name]
    return (words[:, field.lsb // WORD_BITS] >> np.uint64(field.lsb % WORD_BITS)) & np.uint64(field.mask)


def _operand_classes(words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Instructions whose words are equal but for the wait, signal and layer bits have the same
    opcode and operands (the encoding is one to one): for each instruction the index of its
    class, and for each class its first instruction."""
    masked = words.copy()
    for name in COMMON_FIELDS[1:]:
        field = load_table().instructions[0].field_by_name[name]
        masked[:, field.lsb // WORD_BITS] &= ~np.uint64(field.mask << (field.lsb % WORD_BITS))
    # Sorted by integer columns (a stable sort: each class starts with its first instruction),
    # several times faster than np.unique on the rows as 64-byte strings.
    order = np.lexsort(masked.T[::-1])
    ordered = masked[order]
    starts_class = np.ones(len(order), dtype=bool)
    starts_class[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    classes = np.empty(len(order), dtype=np.int64)
    classes[order] = np.cumsum(starts_class) - 1
    return classes, order[starts_class]


def _body(instr: Instruction, config: HardwareConfig, machine: Machine, memory_rows: dict) -> Body:
    """Check the instruction's operands (VitcError on a bad one), compute its costs and bind its
    semantics to the machine (only after the checks: binding makes views of the memories)."""
    mnemonic, f = instr.mnemonic, instr.fields
    unit_name = load_table().by_mnemonic[mnemonic].unit
    accesses, dram_span = footprint.check_bounds(mnemonic, f, config.dim, memory_rows, len(machine.dram))
    moved = timing.dram_bytes_moved(mnemonic, f)
    return Body(
        instruction=instr,
        unit=UNIT_INDEX.get(unit_name, CONTROL),
        run=SEMANTICS[mnemonic](machine, f),
        accesses=accesses,
        cycles=costs.cycles(mnemonic, f, config),
        macs=timing.macs(mnemonic, f),
        vector_elements=timing.vector_elements(mnemonic, unit_name, f),
        dram_read=moved if mnemonic == "dma.load" else 0,
        dram_written=moved if mnemonic == "dma.store" else 0,
        dram_span=dram_span,
    )
