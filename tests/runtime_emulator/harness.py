"""Building small test binaries instruction by instruction, and running them.

`ProgramBuilder` allocates DRAM for named inputs and outputs, emits instructions (as
`isa.encoding.Instruction`), appends `halt` and writes real `.vitb` bytes with `isa.container`,
so every test goes through the same decode path as `vitc run`. Nothing here knows the emulator's
internals; hazard checking is on by default.
"""

import math

import numpy as np

from isa.config import load_config
from isa.container import Binary, IOEntry, write_vitb
from isa.encoding import Instruction, encode_program
from runtime_emulator import run_binary

UNIT_BITS = {"load": 1, "store": 2, "matrix": 4, "vector": 8}
UNIT_OF = {"dma.load": "load", "dma.store": "store", "mm": "matrix"}  # every other mnemonic: vector


def mask(*units: str) -> int:
    return sum(UNIT_BITS[u] for u in units)


class ProgramBuilder:
    def __init__(self, config="default", dram_size: int = 1 << 20):
        self.config = load_config(config)
        self.dram_size = dram_size
        self.instructions: list[Instruction] = []
        self.io: list[IOEntry] = []
        self.inputs: dict[str, np.ndarray] = {}
        self.layers: list[str] = []
        self.next_addr = 0

    def _allocate(self, nbytes: int) -> int:
        addr = self.next_addr
        self.next_addr += -(-nbytes // 64) * 64
        return addr

    def input(self, name: str, array: np.ndarray) -> int:
        addr = self._allocate(array.nbytes)
        self.io.append(IOEntry(name, "input", str(array.dtype), tuple(array.shape), addr))
        self.inputs[name] = array
        return addr

    def output(self, name: str, dtype: str, shape: tuple) -> int:
        addr = self._allocate(np.dtype(dtype).itemsize * math.prod(shape))
        self.io.append(IOEntry(name, "output", dtype, tuple(shape), addr))
        return addr

    def emit(self, mnemonic: str, **fields) -> None:
        self.instructions.append(Instruction(mnemonic, fields))


    def sequence(self, *groups: list[tuple[str, dict]]) -> None:
        """Emit groups of instructions that run one after another: each group is on one unit; its
        last instruction signals the next group's unit, whose first instruction waits for it."""
        units = [UNIT_OF.get(group[0][0], "vector") for group in groups]
        for i, group in enumerate(groups):
            for j, (mnemonic, fields) in enumerate(group):
                fields = dict(fields)
                if j == 0 and i > 0:
                    fields["wait"] = mask(units[i - 1])
                if j == len(group) - 1 and i + 1 < len(groups):
                    fields["signal"] = mask(units[i + 1])
                self.emit(mnemonic, **fields)

    def binary(self) -> bytes:
        code = encode_program(self.instructions + [Instruction("halt", {})])
        return write_vitb(Binary(self.config.hash, code, b"", self.dram_size, self.dram_size, self.io, self.layers))

    def run(self, *, timing: bool = True, check_hazards: bool = True, inputs=None):
        return run_binary(self.binary(), self.inputs if inputs is None else inputs, self.config,
                          timing=timing, check_hazards=check_hazards)


def dma(mnemonic: str, dram: int, rows: int, cols: int, addr: int, *, mem: int = 0, bs: int | None = None, **extra):
    """A dma.load / dma.store of a row-major `rows x cols` DRAM matrix, as (mnemonic, fields)."""
    esize = 4 if mem else 1
    fields = dict(mem=mem, addr=addr, rows=rows, cols=cols, bs=rows if bs is None else bs,
                  dram=dram, dram_stride=cols * esize)
    return mnemonic, fields | extra


def load(*args, **kwargs):
    return dma("dma.load", *args, **kwargs)


def store(*args, **kwargs):
    return dma("dma.store", *args, **kwargs)


def assert_equal(name: str, got: np.ndarray, expected: np.ndarray) -> None:
    """Exact comparison (dtype, shape, every element bit for bit); the message names the tensor,
    the first differing element and both values."""
    assert got.dtype == expected.dtype, f"{name}: dtype {got.dtype} != expected {expected.dtype}"
    assert got.shape == expected.shape, f"{name}: shape {got.shape} != expected {expected.shape}"
    if got.dtype.kind == "f":
        bits = {4: np.uint32, 8: np.uint64}[got.dtype.itemsize]
        differs = got.view(bits) != expected.view(bits)
    else:
        differs = got != expected
    if differs.any():
        index = tuple(int(i) for i in np.argwhere(differs)[0])
        raise AssertionError(
            f"{name}: {int(differs.sum())} element(s) differ; first at {index}: got {got[index]!r}, expected {expected[index]!r}"
        )
