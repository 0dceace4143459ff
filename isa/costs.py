"""The cycle cost of one instruction on a hardware configuration: a property of the ISA and the
configuration, shared by the emulator's timing model and the compiler's cost estimates.

The model (docs/architecture.md, "Timing"; every constant comes from the configuration):
- DMA: `dma_latency + ceil(bytes / dma_bytes_per_cycle)`, bytes really moved
  (`dma_bytes`: depth * rows * cols * element size, 1 for SPAD, 4 for ACC); `zero=1`:
  `dma_latency + ceil(bytes / dim)` on-chip writes.
- `mm` (weight-stationary dim x dim array): `ceil(k/dim) * ceil(n/dim) * max(m, dim) + mm_latency`.
- vector, elementwise (`vfma` too): `vector_latency + ceil(rows * cols / dim)`; row reductions
  (`rowsum` in every order, `rowmax`), sequential along a row and parallel across rows:
  `vector_latency + ceil(rows / dim) * cols`.
- `fmm` (dim fmas per cycle, the k steps of each output's chain one after another):
  `vector_latency + ceil(m * n / dim) * k`.
- `halt`: 0 (it only waits for every queue to drain).

The formula is plain arithmetic on the fields' codes (no branch on a field's value), so the
same `cycles` costs one instruction (ints) or many instructions of one mnemonic at once (each
field an int64 numpy array, one element per instruction; `cycles_of_columns`).

Invariant: a cost depends only on the mnemonic, the operand fields and the configuration, never
on data; every instruction but `halt` costs at least one cycle.
"""

import numpy as np

from isa.config import HardwareConfig

REDUCTIONS = frozenset({"rowsum", "rowmax"})
COST_FIELDS = ("depth", "rows", "cols", "mem", "zero", "m", "n", "k")  # every field the model reads


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _select(condition, if_set, if_clear):
    """`if_set` where `condition` is non-zero, else `if_clear` (ints or arrays alike)."""
    return if_clear + (if_set - if_clear) * (condition != 0)


def dma_element_size(f) -> int:
    """Bytes per element of a DMA: 1 for the scratchpad (`mem=0`), 4 for the accumulator."""
    return _select(f["mem"], 4, 1)


def dma_bytes(f) -> int:
    """Bytes a DMA's fields describe (all `depth` copies; no padding)."""
    return f["depth"] * f["rows"] * f["cols"] * dma_element_size(f)


def cycles(mnemonic: str, f, config: HardwareConfig) -> int:
    """The cycles of one instruction (`f`: field name -> code), or of many (`f`: name -> array)."""
    dim = config.dim
    if mnemonic == "halt":
        return 0
    if mnemonic.startswith("dma."):
        bytes_per_cycle = _select(f.get("zero", 0), dim, config.dma_bytes_per_cycle)
        return config.dma_latency + _ceil_div(dma_bytes(f), bytes_per_cycle)
    if mnemonic == "mm":
        rows_streamed = _select(f["m"] < dim, dim, f["m"])  # max(m, dim)
        return _ceil_div(f["k"], dim) * _ceil_div(f["n"], dim) * rows_streamed + config.mm_latency
    if mnemonic == "fmm":
        return config.vector_latency + _ceil_div(f["m"] * f["n"], dim) * f["k"]
    if mnemonic in REDUCTIONS:
        return config.vector_latency + _ceil_div(f["rows"], dim) * f["cols"]
    return config.vector_latency + _ceil_div(f["rows"] * f["cols"], dim)


def cycles_of_columns(mnemonic: str, columns: dict[str, np.ndarray], count: int, config: HardwareConfig) -> np.ndarray:
    """`cycles` of `count` instructions of `mnemonic` at once: `columns` maps each field of
    `COST_FIELDS` the instruction has to an int64 array of its codes (enum fields as codes)."""
    return np.broadcast_to(np.asarray(cycles(mnemonic, columns, config), np.int64), (count,))
