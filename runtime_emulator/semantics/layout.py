"""Layout instructions of the vector unit: `transpose` (SPAD) and `copy` (SPAD or ACC).

Both read the whole source region before writing, so overlapping source and destination
behave as if the source were copied first.
"""

from runtime_emulator.machine import Machine
from runtime_emulator.regions import Region, read_region, write_region


def transpose(m: Machine, f) -> None:
    src = read_region(m.spad, Region(f["src"], f["rows"], f["cols"], f["src_bs"])).T.copy()
    write_region(m.spad, Region(f["dst"], f["cols"], f["rows"], f["dst_bs"]), src)


def copy(m: Machine, f) -> None:
    mem = m.onchip(f["mem"])
    src = read_region(mem, Region(f["src"], f["rows"], f["cols"], f["src_bs"])).copy()
    write_region(mem, Region(f["dst"], f["rows"], f["cols"], f["dst_bs"]), src)
