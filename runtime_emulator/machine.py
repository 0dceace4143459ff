"""The machine's memories: DRAM, the scratchpad (SPAD) and the accumulator (ACC).

- DRAM is a flat little-endian byte array of the size the binary asks for.
- SPAD is `spad_rows x dim` bytes; an instruction's `u` flag says whether a byte is read as
  uint8 or int8, so it is stored as uint8 and viewed as int8 when needed.
- ACC is `acc_rows x dim` 32-bit words stored as int32; float32 instructions view the same bits
  as float32 (`acc_f32`), so int32 and float32 data share the memory exactly like hardware.

Invariant: the three arrays are allocated once and never replaced, so views stay valid.
"""

import numpy as np

from runtime_emulator.numerics import code_dtype


class Machine:
    """Memory state of one run."""

    def __init__(self, dram_size: int, spad_rows: int, acc_rows: int, dim: int):
        self.dim = dim
        self.dram = np.zeros(dram_size, np.uint8)
        self.spad = np.zeros((spad_rows, dim), np.uint8)
        self.acc = np.zeros((acc_rows, dim), np.int32)

    @property
    def acc_f32(self) -> np.ndarray:
        return self.acc.view(np.float32)

    def spad_as(self, unsigned: int) -> np.ndarray:
        """The scratchpad viewed as the 8-bit type a `u` flag selects."""
        return self.spad.view(code_dtype(unsigned))

    def onchip(self, mem_is_acc: int) -> np.ndarray:
        """The on-chip memory a `mem` field selects (0 SPAD, 1 ACC)."""
        return self.acc if mem_is_acc else self.spad
