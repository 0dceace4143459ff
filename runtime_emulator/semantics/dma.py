"""`dma.load` and `dma.store`: strided 3-D copies between DRAM and an on-chip memory.

Transfer `d` of `depth` moves a `rows x cols` matrix between DRAM bytes
`dram + d*dram_depth_stride + r*dram_stride + c*esize` and the on-chip region
`(addr + d*depth_stride, rows, cols, bs)`; `esize` is 1 for SPAD (`mem=0`) and 4 for ACC
(`mem=1`, little-endian 32-bit words). `dram_stride = 0` on a load broadcasts one DRAM row;
on a store it makes rows overwrite each other and the last row wins. `zero=1` on a load writes
zeros and reads no DRAM.

Invariant: the caller has bounds-checked every DRAM byte and on-chip row (`footprint.py`), so
the strided DRAM views (`footprint.dram_window`) never reach outside the array. The views are
made once, when the instruction is bound; a run only copies through them (one numpy call per
part of the region: its full column blocks, its last partial block). A DRAM view and an on-chip
one never share memory, so copying straight from one to the other is exact; a store whose DRAM
rows overlap (`dram_stride` below the row's bytes) is one assignment in row order instead.
"""

import numpy as np

from isa.costs import dma_element_size
from runtime_emulator.footprint import dram_window
from runtime_emulator.machine import Machine
from runtime_emulator.regions import Region, copier_from_region, copier_into_region, region_reader, region_writer


def _onchip(f) -> Region:
    return Region(f["addr"], f["rows"], f["cols"], f["bs"])


def _dram_elements(m: Machine, f) -> np.ndarray:
    """The DMA's DRAM bytes as `(depth, rows, cols)` elements of the on-chip memory's type
    (ACC words little-endian): a view of DRAM."""
    window = dram_window(m.dram, f)
    return window.view("<i4") if f["mem"] else window


def _distinct_dram_elements(f) -> bool:
    """Whether no two elements of the DMA's DRAM window share a byte (rows and copies apart)."""
    row_bytes = f["cols"] * dma_element_size(f)
    rows_apart = f["rows"] == 1 or f["dram_stride"] >= row_bytes
    copy_bytes = (f["rows"] - 1) * f["dram_stride"] + row_bytes
    return rows_apart and (f["depth"] == 1 or f["dram_depth_stride"] >= copy_bytes)


def bind_load(m: Machine, f):
    mem = m.onchip(f["mem"])
    if f["zero"]:
        write = region_writer(mem, _onchip(f), f["depth"], f["depth_stride"])
        zeros = np.broadcast_to(mem.dtype.type(0), (f["depth"], f["rows"], f["cols"]))
        return lambda: write(zeros)
    return copier_into_region(mem, _onchip(f), _dram_elements(m, f), f["depth"], f["depth_stride"])


def bind_store(m: Machine, f):
    mem = m.onchip(f["mem"])
    if _distinct_dram_elements(f):
        return copier_from_region(mem, _onchip(f), _dram_elements(m, f), f["depth"], f["depth_stride"])
    # Rows (or copies) overwrite each other in DRAM: one assignment in row order, the last wins.
    read = region_reader(mem, _onchip(f), f["depth"], f["depth_stride"])
    window = dram_window(m.dram, f)
    if not f["mem"]:
        return lambda: window.__setitem__(Ellipsis, read())

    def store_words():
        values = read()
        little_endian = np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("<"))
        window[...] = little_endian.view(np.uint8)
    return store_words
