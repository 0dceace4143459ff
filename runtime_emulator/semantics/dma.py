"""`dma.load` and `dma.store`: strided 3-D copies between DRAM and an on-chip memory.

Transfer `d` of `depth` moves a `rows x cols` matrix between DRAM bytes
`dram + d*dram_depth_stride + r*dram_stride + c*esize` and the on-chip region
`(addr + d*depth_stride, rows, cols, bs)`; `esize` is 1 for SPAD (`mem=0`) and 4 for ACC
(`mem=1`, little-endian 32-bit words). `dram_stride = 0` on a load broadcasts one DRAM row;
on a store it makes rows overwrite each other and the last row wins. `zero=1` on a load writes
zeros and reads no DRAM.

Invariant: the caller has bounds-checked every DRAM byte and on-chip row (`footprint.py`), so
the strided DRAM views (`footprint.dram_window`) never reach outside the array. The views are
made once, when the instruction is bound; a run only copies through them. A DRAM view and an
on-chip one never share memory, so copying straight from one to the other is exact.
"""

import numpy as np

from runtime_emulator.footprint import dram_window
from runtime_emulator.machine import Machine
from runtime_emulator.regions import Region, region_reader, region_writer


def _onchip(f) -> Region:
    return Region(f["addr"], f["rows"], f["cols"], f["bs"])


def bind_load(m: Machine, f):
    shape = (f["depth"], f["rows"], f["cols"])
    mem = m.onchip(f["mem"])
    write = region_writer(mem, _onchip(f), f["depth"], f["depth_stride"])
    if f["zero"]:
        zeros = np.broadcast_to(mem.dtype.type(0), shape)
        return lambda: write(zeros)
    window = dram_window(m.dram, f)
    if not f["mem"]:
        return lambda: write(window)
    return lambda: write(np.ascontiguousarray(window).view("<i4"))


def bind_store(m: Machine, f):
    read = region_reader(m.onchip(f["mem"]), _onchip(f), f["depth"], f["depth_stride"])
    window = dram_window(m.dram, f)
    if not f["mem"]:
        return lambda: window.__setitem__(Ellipsis, read())

    def store_words():
        values = read()
        little_endian = np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("<"))
        window[...] = little_endian.view(np.uint8)
    return store_words
