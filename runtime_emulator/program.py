"""A decoded program prepared for execution: one `Op` per instruction, up to `halt`.

Everything that does not depend on data is computed once here, before anything runs: the unit,
the token bits as tuples of units, the semantic function, the bounds-checked on-chip accesses,
the cycle cost, MACs, vector elements and DRAM bytes. The run loop then does no per-instruction decoding.

Invariants:
- the program contains exactly one `halt`, as its last instruction (code after `halt` could
  never run, so it is reported rather than ignored);
- every instruction's sizes and addresses are checked before the first instruction runs; an
  error names the instruction by `describe(op)`: pc, byte offset and disassembly.
"""

import operator
from dataclasses import dataclass
from typing import Callable

from isa.config import HardwareConfig
from isa.disassembler import format_instruction
from isa.encoding import Instruction
from isa.errors import VitcError
from isa.table import InstructionSpec, load_table
from runtime_emulator import footprint, timing
from runtime_emulator.implemented import check_implemented
from runtime_emulator.machine import Machine
from runtime_emulator.semantics import (
    dma, elementwise, float_matmul, layout, lut, matrix, qlinear, quantization, reductions,
)
from runtime_emulator.units import CONTROL, UNIT_INDEX, mask_units

SEMANTICS: dict[str, Callable[[Machine, dict], None]] = {
    "dma.load": dma.dma_load,
    "dma.store": dma.dma_store,
    "mm": matrix.mm,
    "transpose": layout.transpose,
    "copy": layout.copy,
    "requant": quantization.requant,
    "dequant": quantization.dequant,
    "quant": quantization.quant,
    "valu": elementwise.valu,
    "vunary": elementwise.vunary,
    "vfma": elementwise.vfma,
    "fmm": float_matmul.fmm,
    "rowsum": reductions.rowsum,
    "rowmax": reductions.rowmax,
    "lut": lut.lut,
    "qadd": qlinear.qadd,
    "qmul": qlinear.qmul,
    "halt": lambda machine, fields: None,
}


@dataclass(slots=True)
class Op:
    pc: int
    instruction: Instruction
    unit: int  # index into units.UNITS, or CONTROL
    waits: tuple[int, ...]  # units to pop a token from before starting
    signals: tuple[int, ...]  # units to push a token to when finished
    layer: int
    execute: Callable[[Machine, dict], None]
    accesses: list
    cycles: int
    macs: int
    vector_elements: int
    dram_read: int
    dram_written: int
    dram_span: tuple[int, int] | None  # DRAM bytes [lo, hi) a DMA reads or writes

    @property
    def mnemonic(self) -> str:
        return self.instruction.mnemonic

    @property
    def fields(self):
        return self.instruction.fields


def describe(pc: int, instruction: Instruction) -> str:
    """How every emulator message names an instruction."""
    offset = pc * load_table().width_bytes
    return f"pc {pc} (offset 0x{offset:x}) `{format_instruction(instruction)}`"


def prepare(instructions: list[Instruction], config: HardwareConfig, dram_size: int, layer_count: int) -> list[Op]:
    halts = [pc for pc, instr in enumerate(instructions) if instr.mnemonic == "halt"]
    if not halts:
        raise VitcError("program has no halt instruction")
    if halts[0] != len(instructions) - 1:
        pc = halts[0] + 1
        raise VitcError(f"{describe(pc, instructions[pc])}: code after halt (pc {halts[0]}) can never run")
    memory_rows = footprint.memory_rows(config)
    # A program repeats the same operands many times with other tokens and layers (every tile
    # of every layer of a repeated block): what the operands determine is prepared once.
    bodies: dict[tuple, _Body] = {}
    operand_values = {spec.mnemonic: _values_getter(spec) for spec in load_table().instructions}
    ops = []
    for pc, instr in enumerate(instructions):
        f = instr.fields
        key = (instr.mnemonic, operand_values[instr.mnemonic](f))
        body = bodies.get(key)
        try:
            if body is None:
                check_implemented(load_table().by_mnemonic[instr.mnemonic], instr)
            if f["layer"] >= max(layer_count, 1):
                raise VitcError(f"layer {f['layer']} is not in the binary's layer table ({layer_count} names)")
            if body is None:
                body = bodies[key] = _body(instr, config, dram_size, memory_rows)
        except VitcError as err:
            raise VitcError(f"{describe(pc, instr)}: {err}") from None
        ops.append(Op(pc, instr, body.unit, mask_units(f["wait"]), mask_units(f["signal"]), f["layer"], body.execute,
                      body.accesses, body.cycles, body.macs, body.vector_elements, body.dram_read,
                      body.dram_written, body.dram_span))
    return ops


@dataclass(frozen=True, slots=True)
class _Body:
    """Everything about an instruction that its operand fields (all but wait, signal, layer)
    determine."""

    unit: int
    execute: Callable[[Machine, dict], None]
    accesses: list
    cycles: int
    macs: int
    vector_elements: int
    dram_read: int
    dram_written: int
    dram_span: tuple[int, int] | None


def _values_getter(spec: InstructionSpec) -> Callable[[dict], object]:
    """A function of an instruction's fields giving the values of its operand fields."""
    names = [field.name for field in spec.operands]
    return operator.itemgetter(*names) if names else lambda fields: ()


def _body(instr: Instruction, config: HardwareConfig, dram_size: int, memory_rows: dict) -> _Body:
    """Check the instruction's operands (VitcError on a bad one) and compute its costs."""
    mnemonic, f = instr.mnemonic, instr.fields
    unit_name = load_table().by_mnemonic[mnemonic].unit
    accesses = footprint.check_bounds(mnemonic, f, config.dim, memory_rows, dram_size)
    moved = timing.dma_bytes(f) if mnemonic.startswith("dma.") and not f.get("zero") else 0
    return _Body(
        unit=UNIT_INDEX.get(unit_name, CONTROL),
        execute=SEMANTICS[mnemonic],
        accesses=accesses,
        cycles=timing.cycles(mnemonic, f, config),
        macs=timing.macs(mnemonic, f),
        vector_elements=timing.vector_elements(mnemonic, unit_name, f),
        dram_read=moved if mnemonic == "dma.load" else 0,
        dram_written=moved if mnemonic == "dma.store" else 0,
        dram_span=footprint.dram_range(mnemonic, f),
    )
