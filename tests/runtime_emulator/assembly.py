"""Running test programs written as assembly text: the text is assembled with `isa.assembler`
into a complete `.vitb` (`.target`, `.dram_size`, `.input` / `.output` directives added here)
and run on the emulator with hazard checking, so each test exercises the whole path the
`vitc asm` and `vitc run` commands take.

A program body refers to the DRAM address of each input and output by `{name}` (Python format
fields), or is a function from those addresses (name -> int) to the text, for programs that
compute addresses; `ACC_WORD` bytes per ACC element for DRAM strides.
"""

import math
from typing import Callable

import numpy as np

from isa.assembler import assemble_binary
from isa.container import write_vitb
from runtime_emulator import run_binary

ACC_WORD = 4
ALIGN = 64


def f32_bits(value) -> str:
    """A float32 value as the hex bit pattern a `valu` `imm` field takes."""
    return f"0x{int(np.array([value], np.float32).view(np.uint32)[0]):08x}"


def run_assembly(body: str | Callable[[dict], str], inputs: dict[str, np.ndarray], outputs: dict[str, tuple], config: str = "default"):
    """Assemble `body` (with the DRAM addresses filled in) plus the I/O directives for
    `inputs` (arrays) and `outputs` (name -> (dtype, shape)), run it with hazard checking and
    return the `RunResult`."""
    addresses, directives, next_addr = {}, [], 0
    entries = [("input", name, str(a.dtype), a.shape) for name, a in inputs.items()]
    entries += [("output", name, np.dtype(dtype).name, shape) for name, (dtype, shape) in outputs.items()]
    for kind, name, dtype, shape in entries:
        addresses[name] = next_addr
        directives.append(f'.{kind} "{name}", dtype={dtype}, shape=[{", ".join(map(str, shape))}], addr={next_addr:#x}')
        next_addr += -(-np.dtype(dtype).itemsize * math.prod(shape) // ALIGN) * ALIGN
    text = "\n".join([f".target {config}", f".dram_size {max(next_addr, ALIGN):#x}", *directives,
                      body(addresses) if callable(body) else body.format(**addresses), "halt", ""])
    binary = write_vitb(assemble_binary(text, "<test program>"))
    return run_binary(binary, inputs, config, check_hazards=True)
