"""The disassembler: instructions and binaries -> vitc assembly text, from the table.

- `format_instruction(instr)`: one line, `mnemonic field=value, ...` with the instruction's own
  fields in table order, then `wait`, `signal`, `layer` when not zero.
- `format_listing(code, show_encoding=False)`: one line per instruction with its byte offset
  (and its encoding as hex bytes, like `llvm-objdump -d`) in a trailing comment.
- `disassemble_binary(binary, show_encoding=False)`: a complete assembly source (directives,
  code, constant data) that `isa.assembler.assemble_binary` turns back into the same binary.

Invariant: the text re-assembles to exactly the same instructions (f32 values are printed as the
shortest decimal that rounds back to the same float32; NaN prints as `nan`, which the assembler
reads as the canonical quiet NaN).
"""

import json

import numpy as np

from isa.config import builtin_config_names, load_config
from isa.container import Binary
from isa.encoding import Instruction, decode_program
from isa.table import COMMON_FIELDS, Field, load_table

HEX_BYTES_PER_LINE = 64  # constant data: bytes per `.hex` line


def format_value(field: Field, value) -> str:
    """A field value in assembly syntax."""
    if field.kind == "enum":
        return field.values[value]
    if field.kind == "mask":
        return "|".join(name for i, name in enumerate(field.values) if value >> i & 1) or "0"
    if field.kind == "f32":
        return "nan" if np.isnan(value) else str(np.float32(value))
    return f"0x{value:x}" if field.hex else str(value)


def format_instruction(instr: Instruction) -> str:
    """One instruction as a line of assembly (no indentation, no comment)."""
    spec = load_table().by_mnemonic[instr.mnemonic]
    operands = [f"{f.name}={format_value(f, instr.fields[f.name])}" for f in spec.operands]
    operands += [f"{name}={format_value(spec.field_by_name[name], instr.fields[name])}"
                 for name in COMMON_FIELDS[1:] if instr.fields.get(name)]
    return f"{spec.mnemonic} {', '.join(operands)}" if operands else spec.mnemonic


def format_listing(code: bytes, show_encoding: bool = False) -> str:
    """Decoded code, one indented instruction per line with `# offset[: encoding]`."""
    width = load_table().width_bytes
    lines = []
    for pc, instr in enumerate(decode_program(code)):
        offset = pc * width
        comment = f"0x{offset:06x}"
        if show_encoding:
            word = code[offset:offset + width]
            comment += ": " + " ".join(word[i:i + 4].hex() for i in range(0, width, 4))
        lines.append(f"    {format_instruction(instr):<60} # {comment}")
    return "\n".join(lines)


def disassemble_binary(binary: Binary, show_encoding: bool = False, with_data: bool = True) -> str:
    """A complete, re-assemblable assembly source for a binary (without the constant data when
    `with_data` is False, for reading: that text no longer re-assembles to the same binary)."""
    width = load_table().width_bytes
    lines = ["# vitc assembly, disassembled from a .vitb binary", _target_line(binary.config_hash)]
    lines += [f".dram_size 0x{binary.dram_size:x}", f".const_addr 0x{binary.constants_addr:x}"]
    lines += [f".layer {json.dumps(name)}" for name in binary.layers]
    for e in binary.io:
        shape = ", ".join(str(d) for d in e.shape)
        lines.append(f".{e.kind} {json.dumps(e.name)}, dtype={e.dtype}, shape=[{shape}], addr=0x{e.addr:x}, "
                     f"scale={e.scale!r}, zero_point={e.zero_point}")
    lines.append(f"\n# code: {len(binary.code) // width} instructions")
    if binary.code:
        lines.append(format_listing(binary.code, show_encoding))
    lines.append(f"\n# constants: {len(binary.constants)} bytes at DRAM 0x{binary.constants_addr:x}")
    if not with_data:
        return "\n".join(lines) + " (omitted)\n"
    data = binary.constants
    lines += [f'.hex "{data[i:i + HEX_BYTES_PER_LINE].hex()}"' for i in range(0, len(data), HEX_BYTES_PER_LINE)]
    return "\n".join(lines) + "\n"


def _target_line(config_hash: str) -> str:
    for name in builtin_config_names():
        if load_config(name).hash == config_hash:
            return f".target {name}"
    return f'.config_hash "{config_hash}"'
