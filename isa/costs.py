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

Invariant: a cost depends only on the mnemonic, the operand fields and the configuration, never
on data; every instruction but `halt` costs at least one cycle.
"""

from isa.config import HardwareConfig

REDUCTIONS = frozenset({"rowsum", "rowmax"})


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def dma_element_size(f) -> int:
    """Bytes per element of a DMA: 1 for the scratchpad (`mem=0`), 4 for the accumulator."""
    return 4 if f["mem"] else 1


def dma_bytes(f) -> int:
    """Bytes a DMA's fields describe (all `depth` copies; no padding)."""
    return f["depth"] * f["rows"] * f["cols"] * dma_element_size(f)


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
