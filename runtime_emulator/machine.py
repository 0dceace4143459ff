"""The machine's memories: DRAM, the scratchpad (SPAD) and the accumulator (ACC).

- DRAM is a flat little-endian byte array of the size the binary asks for.
- SPAD is `spad_rows x dim` bytes; an instruction's `u` flag says whether a byte is read as
  uint8 or int8, so it is stored as uint8 and viewed as int8 when needed.
- ACC is `acc_rows x dim` 32-bit words stored as int32; float32 instructions view the same bits
  as float32 (`acc_f32`), so int32 and float32 data share the memory exactly like hardware.

Invariant: the three arrays are allocated once and never replaced, so views stay valid (the
float32 view of ACC and the int8 view of SPAD are made once, here).
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
        self.acc_f32 = self.acc.view(np.float32)  # the same words as float32
        # The scratchpad as each 8-bit type, by `u` flag: views made once (binders ask for them
        # thousands of times).
        self._spad_by_type = (self.spad.view(code_dtype(0)), self.spad)

    def spad_as(self, unsigned: int) -> np.ndarray:
        """The scratchpad viewed as the 8-bit type a `u` flag selects."""
        return self._spad_by_type[unsigned]

    def onchip(self, mem_is_acc: int) -> np.ndarray:
        """The on-chip memory a `mem` field selects (0 SPAD, 1 ACC)."""
        return self.acc if mem_is_acc else self.spad
