"""Run one vector lowering as a complete binary on the emulator, the way the backend would.

`run_lowering(op, operands)` builds a real `.vitb`: the operands are graph inputs in DRAM (each
arranged as its `operand_kinds` entry says: tiles as rows x cols, row vectors 1 x cols, ...),
the lowering's constants are the binary's constant section; the program `dma.load`s every
input tile, broadcast operand (a "broadcast" row vector once, into a whole tile, DRAM row
stride 0) and constant (one token load -> vector), runs `emit` tile after
tile (scratch shared by all tiles: the vector unit runs in order), and `dma.store`s every
output tile (one token vector -> store). It runs with hazard checking on, and the result comes
back reshaped to the op's result shape.

Each tile gets its own input and output buffers, so no load ever overwrites data an earlier
tile still reads: the only ordering needed is the two tokens.
"""

from __future__ import annotations

import numpy as np

from compiler.codegen.region import Region
from compiler.codegen.vector import vector_lowering
from compiler.codegen.vector.lowering import memory_of
from isa.config import load_config
from isa.container import Binary, IOEntry, write_vitb
from isa.encoding import Instruction, encode_program
from runtime_emulator import run_binary

LOAD, STORE, VECTOR = 1, 2, 8  # token mask bits


class _Bump:
    """Consecutive on-chip rows of one memory."""

    def __init__(self, mem: str, dim: int):
        self.mem, self.dim, self.used = mem, dim, 0

    def region(self, rows: int, cols: int, bs: int | None = None) -> Region:
        bs = rows if bs is None else bs
        addr = self.used
        self.used += (-(-cols // self.dim) - 1) * bs + rows
        return Region(self.mem, addr, rows, cols, bs)


def _arranged(kind: str, array: np.ndarray, rows: int, cols: int) -> np.ndarray:
    shape = {"tile": (rows, cols), "row": (1, cols), "broadcast": (1, cols), "column": (rows, 1), "scalar": (1, 1),
             "reduced": (rows, array.shape[-1] if array.ndim else 1)}[kind]
    return np.ascontiguousarray(array.reshape(shape))


class _Program:
    def __init__(self, config):
        self.config = config
        self.instructions: list[Instruction] = []
        self.io: list[IOEntry] = []
        self.inputs: dict[str, np.ndarray] = {}
        self.dram_used = 0
        self.onchip = {mem: _Bump(mem, config.dim) for mem in ("spad", "acc")}

    def dram(self, nbytes: int) -> int:
        addr = self.dram_used
        self.dram_used += -(-nbytes // 64) * 64
        return addr

    def transfer(self, mnemonic: str, region: Region, dram: int, first_row: int = 0, broadcast: bool = False,
                 **tokens) -> None:
        """Rows of `region` from/to consecutive DRAM rows (`broadcast`: all from one row)."""
        esize = 4 if region.mem == "acc" else 1
        self.instructions.append(Instruction(mnemonic, dict(
            mem=region.mem, addr=region.addr, rows=region.rows, cols=region.cols, bs=region.bs,
            dram=dram + first_row * region.cols * esize, dram_stride=0 if broadcast else region.cols * esize, **tokens)))


def run_lowering(op, operands: list[np.ndarray], config="default", *, max_tile_rows: int | None = None,
                 constant_operands=None, lowering_class=None) -> tuple[np.ndarray, list[Instruction]]:
    """The op's result computed on the emulator, and the vector instructions that computed it.
    `lowering_class` replaces the package's lowering (a candidate instruction sequence a test
    wants to run)."""
    config = load_config(config)
    if lowering_class is None:
        lowering = vector_lowering(op, config, constant_operands)
    else:
        lowering = lowering_class(op, config)
    rows, cols = lowering.total_rows, lowering.cols
    program = _Program(config)
    loads = []  # (region, DRAM address, first row, is a constant, is a broadcast) of every load
    placed = []  # per operand: (kind, arranged shape, memory, DRAM address)

    for i, (kind, array) in enumerate(zip(lowering.operand_kinds, operands)):
        data = _arranged(kind, np.asarray(array), rows, cols)
        addr = program.dram(data.nbytes)
        program.io.append(IOEntry(f"in{i}", "input", str(data.dtype), data.shape, addr))
        program.inputs[f"in{i}"] = data
        placed.append((kind, data.shape, memory_of(op.operands[i].type.dtype), addr))

    constants = {}
    constant_bytes = b""
    for block in lowering.constants():
        region = program.onchip[block.mem].region(block.rows, block.cols)
        constants[block.name] = region
        loads.append((region, len(constant_bytes), 0, True, False))
        constant_bytes += block.data + bytes(-len(block.data) % 64)

    shared = {}  # operand index -> the region of a broadcast operand, loaded once
    for i, entry in enumerate(placed):
        if entry[0] in ("row", "scalar"):
            kind, shape, mem, addr = entry
            shared[i] = program.onchip[mem].region(*shape, bs=1)
            loads.append((shared[i], addr, 0, False, False))

    spad_free = config.spad_rows - program.onchip["spad"].used
    acc_free = config.acc_rows - program.onchip["acc"].used
    tile_rows = min(lowering.row_tile(spad_free // 2, acc_free // 2), max_tile_rows or rows)
    for i, (kind, shape, mem, addr) in enumerate(placed):
        if kind == "broadcast":  # a whole tile of copies of the row, loaded once
            shared[i] = program.onchip[mem].region(tile_rows, cols)
            loads.append((shared[i], addr, 0, False, True))
    spad_scratch, acc_scratch = lowering.scratch_rows(tile_rows)
    scratch = tuple(program.onchip[mem].region(count, 1) if count else None
                    for mem, count in (("spad", spad_scratch), ("acc", acc_scratch)))

    out_mem = memory_of(op.result.type.dtype)
    out_dtype = op.result.type.np_dtype
    out_addr = program.dram(rows * cols * out_dtype.itemsize)
    program.io.append(IOEntry("out", "output", str(out_dtype), (rows, cols), out_addr))

    tiles = []
    for first in range(0, rows, tile_rows):
        count = min(tile_rows, rows - first)
        inputs = []
        for i, entry in enumerate(placed):
            if i in shared:
                inputs.append(shared[i].row_slice(0, count) if entry[0] == "broadcast" else shared[i])
                continue
            kind, shape, mem, addr = entry
            region = program.onchip[mem].region(count, shape[1])
            loads.append((region, addr, first, False, False))
            inputs.append(region)
        output = program.onchip[out_mem].region(count, cols)
        tiles.append((first, count, inputs, output))

    constants_addr = program.dram(0)
    for n, (region, addr, first, is_const, broadcast) in enumerate(loads):
        signal = dict(signal=VECTOR) if n == len(loads) - 1 else {}
        program.transfer("dma.load", region, addr + (constants_addr if is_const else 0), first, broadcast, **signal)
    vector = []
    for first, count, inputs, output in tiles:
        vector += lowering.emit(count, inputs, output, scratch, constants, 0)
    fields = [dict(i.fields) for i in vector]
    fields[0]["wait"] = LOAD
    fields[-1]["signal"] = STORE
    program.instructions += [Instruction(i.mnemonic, f) for i, f in zip(vector, fields)]
    for n, (first, count, inputs, output) in enumerate(tiles):
        program.transfer("dma.store", output, out_addr, first, **(dict(wait=VECTOR) if n == 0 else {}))

    code = encode_program(program.instructions + [Instruction("halt", {})])
    dram_size = constants_addr + len(constant_bytes) + 64
    binary = write_vitb(Binary(config.hash, code, constant_bytes, constants_addr, dram_size, program.io, []))
    result = run_binary(binary, program.inputs, config, timing=False, check_hazards=True)
    return result.outputs["out"].reshape(op.result.type.shape), vector


def assert_exact(name: str, got: np.ndarray, expected: np.ndarray) -> None:
    """Bit-exact comparison; the message names the tensor, the first differing element and both
    values, and how many differ."""
    assert got.dtype == expected.dtype, f"{name}: dtype {got.dtype} != expected {expected.dtype}"
    assert got.shape == expected.shape, f"{name}: shape {got.shape} != expected {expected.shape}"
    if got.dtype.kind == "f":
        differs = got.view(np.uint32) != expected.view(np.uint32)
    else:
        differs = got != expected
    if differs.any():
        index = tuple(int(i) for i in np.argwhere(differs)[0])
        raise AssertionError(f"{name}: {int(differs.sum())} of {differs.size} element(s) differ; first at "
                             f"{index}: got {got[index]!r}, expected {expected[index]!r}")
