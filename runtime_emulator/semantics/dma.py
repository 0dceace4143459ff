"""`dma.load` and `dma.store`: strided 3-D copies between DRAM and an on-chip memory.

Transfer `d` of `depth` moves a `rows x cols` matrix between DRAM bytes
`dram + d*dram_depth_stride + r*dram_stride + c*esize` and the on-chip region
`(addr + d*depth_stride, rows, cols, bs)`; `esize` is 1 for SPAD (`mem=0`) and 4 for ACC
(`mem=1`, little-endian 32-bit words). `dram_stride = 0` on a load broadcasts one DRAM row;
on a store it makes rows overwrite each other and the last row wins. `zero=1` on a load writes
zeros and reads no DRAM.

Invariant: the caller has bounds-checked every DRAM byte and on-chip row (`footprint.py`), so
the strided DRAM views (`footprint.dram_window`) never reach outside the array.
"""

import numpy as np

from runtime_emulator.footprint import dram_window
from runtime_emulator.machine import Machine
from runtime_emulator.regions import Region, read_regions, write_regions


def _onchip(f) -> Region:
    return Region(f["addr"], f["rows"], f["cols"], f["bs"])


def dma_load(m: Machine, f) -> None:
    shape = (f["depth"], f["rows"], f["cols"])
    mem = m.onchip(f["mem"])
    if f["zero"]:
        values = np.zeros(shape, mem.dtype)
    else:
        window = np.ascontiguousarray(dram_window(m.dram, f))
        values = window.view("<i4") if f["mem"] else window
    write_regions(mem, _onchip(f), values, f["depth_stride"])


def dma_store(m: Machine, f) -> None:
    values = read_regions(m.onchip(f["mem"]), _onchip(f), f["depth"], f["depth_stride"])
    little_endian = np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("<"))
    dram_window(m.dram, f)[...] = little_endian.view(np.uint8)
