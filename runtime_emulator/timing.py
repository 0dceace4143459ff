"""The cycle cost of one instruction, from the hardware configuration (docs/architecture.md).

- DMA: `dma_latency + ceil(bytes / dma_bytes_per_cycle)`, bytes really moved; `zero=1`:
  `dma_latency + ceil(bytes / dim)` on-chip writes.
- `mm` (weight-stationary dim x dim array): `ceil(k/dim) * ceil(n/dim) * max(m, dim) + mm_latency`.
- vector, elementwise (`vfma` too): `vector_latency + ceil(rows * cols / dim)`; row reductions
  (`rowsum` in every order, `rowmax`), sequential along a row and parallel across rows:
  `vector_latency + ceil(rows / dim) * cols`.
- `fmm` (dim fmas per cycle, the k steps of each output's chain one after another):
  `vector_latency + ceil(m * n / dim) * k`.
- `halt`: 0 (it only waits for every queue to drain).
Also the work an instruction does, for the statistics: DRAM bytes moved, MACs (the int8 matrix
engine's) and vector elements (`m * n * k` fmas for `fmm`).
"""

from isa.config import HardwareConfig
from runtime_emulator.footprint import dma_element_size

REDUCTIONS = frozenset({"rowsum", "rowmax"})


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def dma_bytes(f) -> int:
    return f["depth"] * f["rows"] * f["cols"] * dma_element_size(f)


def macs(mnemonic: str, f) -> int:
    return f["m"] * f["n"] * f["k"] if mnemonic == "mm" else 0


def vector_elements(mnemonic: str, unit: str, f) -> int:
    """Elements a vector-unit instruction processes (the vector side of the roofline)."""
    if unit != "vector":
        return 0
    return f["m"] * f["n"] * f["k"] if mnemonic == "fmm" else f["rows"] * f["cols"]


def cycles(mnemonic: str, f, config: HardwareConfig) -> int:
    dim = config.dim
    if mnemonic == "halt":
        return 0
    if mnemonic.startswith("dma."):
        if f.get("zero"):
            return config.dma_latency + _ceil_div(dma_bytes(f), dim)
        return config.dma_latency + _ceil_div(dma_bytes(f), config.dma_bytes_per_cycle)
    if mnemonic == "mm":
        return _ceil_div(f["k"], dim) * _ceil_div(f["n"], dim) * max(f["m"], dim) + config.mm_latency
    if mnemonic == "fmm":
        return config.vector_latency + _ceil_div(f["m"] * f["n"], dim) * f["k"]
    if mnemonic in REDUCTIONS:
        return config.vector_latency + _ceil_div(f["rows"], dim) * f["cols"]
    return config.vector_latency + _ceil_div(f["rows"] * f["cols"], dim)
