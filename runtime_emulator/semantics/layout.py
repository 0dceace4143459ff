"""Layout instructions of the vector unit: `transpose` (SPAD) and `copy` (SPAD or ACC).

Both read the whole source region before writing, so overlapping source and destination
behave as if the source were copied first.
"""

from runtime_emulator.machine import Machine
from runtime_emulator.regions import Region, read_region, region_reader, region_writer, write_region


def transpose(m: Machine, f) -> None:
    src = read_region(m.spad, Region(f["src"], f["rows"], f["cols"], f["src_bs"])).T.copy()
    write_region(m.spad, Region(f["dst"], f["cols"], f["rows"], f["dst_bs"]), src)


def bind_copy(m: Machine, f):
    mem = m.onchip(f["mem"])
    read = region_reader(mem, Region(f["src"], f["rows"], f["cols"], f["src_bs"]))
    write = region_writer(mem, Region(f["dst"], f["rows"], f["cols"], f["dst_bs"]))
    return lambda: write(read().copy())
