"""What the emulator implements of the ISA table: each instruction's fields and, for enum
fields, the values its semantics know.

The ISA table (isa/instructions.toml) may grow ahead of the emulator: a new instruction, a new
field or a new enum value. `check_implemented` refuses an instruction that uses any of them
(a new field is accepted only at its default, which by convention keeps the old meaning), so
the emulator never silently ignores semantics it does not know. `implemented_checks` checks
many instructions of one kind at once, on their field columns.
tests/runtime_emulator/test_implemented.py fails while this file and the table disagree.
"""

from typing import Callable

import numpy as np

from isa.encoding import Instruction
from isa.errors import VitcError
from isa.table import COMMON_FIELDS, InstructionSpec

# mnemonic -> {field: None, or the enum values the semantics implement}
IMPLEMENTED: dict[str, dict[str, tuple[str, ...] | None]] = {
    "halt": {},
    "dma.load": {"mem": ("spad", "acc"), "zero": None, "addr": None, "rows": None, "cols": None, "bs": None, "depth": None, "depth_stride": None, "dram": None, "dram_stride": None, "dram_depth_stride": None},
    "dma.store": {"mem": ("spad", "acc"), "addr": None, "rows": None, "cols": None, "bs": None, "depth": None, "depth_stride": None, "dram": None, "dram_stride": None, "dram_depth_stride": None},
    "mm": {"a": None, "b": None, "c": None, "m": None, "k": None, "n": None, "a_bs": None, "b_bs": None, "c_bs": None, "za": None, "zb": None, "au": ("i8", "u8"), "bu": ("i8", "u8"), "bt": None, "accum": None},
    "transpose": {"src": None, "dst": None, "rows": None, "cols": None, "src_bs": None, "dst_bs": None},
    "copy": {"mem": ("spad", "acc"), "src": None, "dst": None, "rows": None, "cols": None, "src_bs": None, "dst_bs": None},
    "requant": {"src": None, "dst": None, "rows": None, "cols": None, "src_bs": None, "dst_bs": None, "u": ("i8", "u8"), "zy": None, "lo": None, "hi": None, "pc": None, "mult": None, "mult_addr": None},
    "dequant": {"src": None, "dst": None, "rows": None, "cols": None, "src_bs": None, "dst_bs": None, "u": ("i8", "u8"), "zp": None, "scale": None},
    "quant": {"src": None, "dst": None, "rows": None, "cols": None, "src_bs": None, "dst_bs": None, "u": ("i8", "u8"), "zp": None, "pr": None, "scale": None, "s_addr": None, "wide": None, "mul": None},
    "valu": {"op": ("add", "sub", "mul", "div", "max", "min", "scalef"), "ty": ("f32", "i32"), "bmode": ("full", "row", "col", "scalar"), "dst": None, "a": None, "b": None, "rows": None, "cols": None, "dst_bs": None, "a_bs": None, "b_bs": None, "imm": None},
    "vunary": {"fn": ("sqrt", "exp", "neg", "abs", "recip"), "src": None, "dst": None, "rows": None, "cols": None, "src_bs": None, "dst_bs": None},
    "rowsum": {"src": None, "dst": None, "rows": None, "cols": None, "src_bs": None, "sq": None, "order": ("seq", "lanes8", "f64x4", "lanes16"), "div": None},
    "rowmax": {"mem": ("spad", "acc"), "u": ("i8", "u8"), "src": None, "dst": None, "rows": None, "cols": None, "src_bs": None, "ty": ("i32", "f32")},
    "lut": {"src": None, "dst": None, "rows": None, "cols": None, "src_bs": None, "dst_bs": None, "u": ("i8", "u8"), "out": ("spad", "acc"), "tab": None, "off": None, "pr": None, "r_addr": None},
    "qadd": {"a": None, "b": None, "c": None, "rows": None, "cols": None, "a_bs": None, "b_bs": None, "c_bs": None, "mode": ("kernel", "float"), "bbc": None, "au": ("i8", "u8"), "bu": ("i8", "u8"), "cu": ("i8", "u8"), "za": None, "zb": None, "zc": None, "ra": None, "rb": None, "fixed": None, "sa": None, "sb": None, "sc": None},
    "qmul": {"a": None, "b": None, "c": None, "rows": None, "cols": None, "a_bs": None, "b_bs": None, "c_bs": None, "mode": ("kernel", "float"), "bbc": None, "au": ("i8", "u8"), "bu": ("i8", "u8"), "cu": ("i8", "u8"), "za": None, "zb": None, "zc": None, "r": None, "sa": None, "sb": None, "sc": None},
    "vfma": {"bmode": ("full", "row", "col", "scalar"), "cmode": ("full", "row", "col", "scalar"), "dst": None, "a": None, "b": None, "c": None, "rows": None, "cols": None, "dst_bs": None, "a_bs": None, "b_bs": None, "c_bs": None, "b_imm": None, "c_imm": None},
    "fmm": {"a": None, "b": None, "c": None, "m": None, "k": None, "n": None, "a_bs": None, "b_bs": None, "c_bs": None, "bt": None, "accum": None},
}


def check_implemented(spec: InstructionSpec, instr: Instruction) -> None:
    """Refuse one instruction using what the emulator does not implement (`implemented_checks`)."""
    values = {name: np.array([value]) for name, value in instr.fields.items()}
    for fails, message in implemented_checks(spec, values, 1):
        if fails[0]:
            raise VitcError(message(0))


def implemented_checks(spec: InstructionSpec, values: dict, count: int) -> list[tuple[np.ndarray, Callable[[int], str]]]:
    """For `count` instructions of `spec` (`values`: field name -> array, one value each), each
    check as (fails, per instruction; the message of instruction i), in the order an
    instruction's first failure is reported: the instruction itself, then each field the
    emulator does not know (which must keep its default), then each enum field's code."""
    known = IMPLEMENTED.get(spec.mnemonic)
    if known is None:
        message = f"the emulator does not implement {spec.mnemonic!r} yet (it is in the ISA table)"
        return [(np.ones(count, bool), lambda i: message)]
    unknown, enums = _checks(spec, known)
    checks = []
    for field in unknown:
        column = values[field.name]
        fails = np.ones(count, bool) if field.default is None else column != field.default
        checks.append((fails, lambda i, field=field, column=column: (
            f"the emulator does not implement field {field.name}={column[i].item()} of {spec.mnemonic} yet")))
    for field, codes in enums:
        column = values[field.name]
        checks.append((~codes[column], lambda i, field=field, column=column: (
            f"the emulator does not implement {field.name}={field.values[column[i]]} of {spec.mnemonic} yet")))
    return checks


_CHECKS: dict[str, tuple[InstructionSpec, dict, tuple]] = {}


def _checks(spec: InstructionSpec, known: dict) -> tuple[tuple, tuple]:
    """The fields to check for `spec`: those the emulator does not know (must stay at their
    default) and its enum fields with, per code, whether the emulator implements it. Computed once per mnemonic and
    recomputed when the spec or the `IMPLEMENTED` entry is another object (tests replace them)."""
    cached = _CHECKS.get(spec.mnemonic)
    if cached is not None and cached[0] is spec and cached[1] is known:
        return cached[2]
    own = [field for field in spec.fields if field.name not in COMMON_FIELDS]
    unknown = tuple(field for field in own if field.name not in known)
    enums = tuple((field, np.isin(np.arange(len(field.values)), [field.values.index(value) for value in known[field.name]]))
                  for field in own if field.name in known and known[field.name] is not None)
    _CHECKS[spec.mnemonic] = (spec, known, (unknown, enums))
    return unknown, enums
