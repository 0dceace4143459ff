"""The work an instruction does, for the statistics and the roofline: DRAM bytes moved, MACs
(the int8 matrix engine's) and vector elements (`m * n * k` fmas for `fmm`). What it costs in
cycles is the ISA's model, `isa.costs`.
"""

from isa.costs import dma_bytes


def dram_bytes_moved(mnemonic: str, f) -> int:
    """DRAM bytes a DMA reads (`dma.load`) or writes (`dma.store`); 0 for a zero fill and for
    every other instruction."""
    return dma_bytes(f) if mnemonic.startswith("dma.") and not f.get("zero") else 0


def macs(mnemonic: str, f) -> int:
    return f["m"] * f["n"] * f["k"] if mnemonic == "mm" else 0


def vector_elements(mnemonic: str, unit: str, f) -> int:
    """Elements a vector-unit instruction processes (the vector side of the roofline)."""
    if unit != "vector":
        return 0
    return f["m"] * f["n"] * f["k"] if mnemonic == "fmm" else f["rows"] * f["cols"]
