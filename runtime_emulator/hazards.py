"""Hazard checking: on-chip accesses by different units that no token chain orders.

Happens-before between units is tracked with vector clocks: `clock[u]` counts, for every unit
v, how many of v's instructions are known to have finished before unit u's current one. A unit
ticks its own entry when an instruction starts; a pushed token carries the pusher's clock and
the popper takes the element-wise maximum. Instruction number s of unit v is ordered before the
current instruction of unit u iff `clock[u][v] >= s`.

Per on-chip row, numpy arrays keep the last writer (unit, number) and each unit's last reader
number. An access is checked against them and then recorded:
- any access: the row's last writer, if on another unit, must be ordered before it;
- a write: every other unit's last reader must be ordered before it.
Keeping only the last writer is enough: a later writer was itself checked against the earlier
one, so ordering is transitive. Same-unit accesses are ordered by the unit's in-order queue.

DRAM is checked too, byte by byte, but only over the part the store unit can write (`dram_hull`:
the span of every `dma.store`, grown to cover every `dma.load` that overlaps it), so the weights
cost nothing. Only the store unit writes DRAM and only the load unit reads it, so a shadow of
the last store and the last load number per byte is enough.
"""

import numpy as np

from isa.errors import VitcError
from runtime_emulator.footprint import dram_address, dram_window
from runtime_emulator.units import UNIT_INDEX, UNITS

LOAD, STORE = UNIT_INDEX["load"], UNIT_INDEX["store"]


def dram_hull(ops) -> tuple[int, int] | None:
    """DRAM bytes `[lo, hi)` the DRAM shadow covers: every store's span, grown until it also
    covers every load span that overlaps it; None when the program stores nothing."""
    spans = [(op.unit, op.dram_span) for op in ops if op.dram_span is not None]
    stores = [span for unit, span in spans if unit == STORE]
    if not stores:
        return None
    loads = np.array([span for unit, span in spans if unit == LOAD] or np.zeros((0, 2)), np.int64).reshape(-1, 2)
    lo, hi = min(s[0] for s in stores), max(s[1] for s in stores)
    while True:
        touching = (loads[:, 0] < hi) & (loads[:, 1] > lo)
        new_lo = min([lo, *loads[touching, 0].tolist()])
        new_hi = max([hi, *loads[touching, 1].tolist()])
        if (new_lo, new_hi) == (lo, hi):
            return lo, hi
        lo, hi = new_lo, new_hi

class _MemoryShadow:
    """Last writer and last readers of every row of one on-chip memory. A row never written
    has writer (unit 0, number 0), which every clock already covers."""

    def __init__(self, rows: int):
        self.writer_unit = np.zeros(rows, np.int64)
        self.writer_seq = np.zeros(rows, np.int64)
        self.reader_seq = np.zeros((len(UNITS), rows), np.int64)


class _DramShadow:
    """Last store and last load number of every DRAM byte in `[lo, hi)`."""

    def __init__(self, lo: int, hi: int):
        self.lo, self.hi = lo, hi
        self.store_seq = np.zeros(hi - lo, np.int64)
        self.load_seq = np.zeros(hi - lo, np.int64)

    def covers(self, span) -> bool:
        return span is not None and self.lo <= span[0] and span[1] <= self.hi


class HazardChecker:
    def __init__(self, memory_rows: dict, describe, dram_hull: tuple[int, int] | None = None):
        """`memory_rows`: rows per memory name; `describe(unit, seq)` names an instruction;
        `dram_hull`: the DRAM bytes to shadow (see `dram_hull`)."""
        units = len(UNITS)
        self.clock = np.zeros((units, units), np.int64)
        self.shadows = {mem: _MemoryShadow(rows) for mem, rows in memory_rows.items()}
        self.dram = _DramShadow(*dram_hull) if dram_hull else None
        self.describe = describe

    def start(self, unit: int, token_clocks) -> int:
        """An instruction of `unit` starts after popping tokens carrying `token_clocks`;
        returns its number on the unit (1-based)."""
        for token_clock in token_clocks:
            np.maximum(self.clock[unit], token_clock, out=self.clock[unit])
        self.clock[unit, unit] += 1
        return int(self.clock[unit, unit])

    def token_clock(self, unit: int) -> np.ndarray:
        """The clock a token pushed now by `unit` carries."""
        return self.clock[unit].copy()

    def access_dram(self, unit: int, seq: int, op) -> None:
        """Check and record a DMA's DRAM bytes: a load against the last stores, a store against
        the last loads (stores among themselves, and loads, are ordered by their own queue)."""
        if self.dram is None or not self.dram.covers(op.dram_span):
            return
        f = op.fields
        mine, theirs = (self.dram.load_seq, self.dram.store_seq) if unit == LOAD else (self.dram.store_seq, self.dram.load_seq)
        other = STORE if unit == LOAD else LOAD
        their_window = dram_window(theirs, f, self.dram.lo)
        unordered = their_window > self.clock[unit, other]
        if unordered.any():
            index = tuple(int(i) for i in np.argwhere(unordered)[0])
            verbs = ("reads", "writes") if unit == LOAD else ("writes", "reads")
            raise VitcError(
                f"hazard on DRAM byte 0x{dram_address(f, index):x}: {self.describe(unit, seq)} ({UNITS[unit]}) "
                f"{verbs[0]} it while {self.describe(other, int(their_window[index]))} ({UNITS[other]}) "
                f"{verbs[1]} it, and no token orders the two"
            )
        dram_window(mine, f, self.dram.lo)[...] = seq

    def access(self, unit: int, seq: int, accesses) -> None:
        """Check every access of instruction `seq` of `unit`, then record them."""
        row_sets = [(access, access.rows()) for access in accesses]
        for access, rows in row_sets:
            self._check(unit, seq, access, rows)
        for access, rows in row_sets:
            shadow = self.shadows[access.mem]
            if access.write:
                shadow.writer_unit[rows] = unit
                shadow.writer_seq[rows] = seq
            else:
                shadow.reader_seq[unit, rows] = seq

    def _check(self, unit: int, seq: int, access, rows) -> None:
        # The unit's own entries never flag: its clock entry is its current number, at least
        # every number it recorded before.
        shadow = self.shadows[access.mem]
        known = self.clock[unit]
        writers = shadow.writer_unit[rows]
        unordered = shadow.writer_seq[rows] > known[writers]
        if unordered.any():
            i = int(np.argmax(unordered))
            self._report(unit, seq, access, rows, i, int(writers[i]), int(shadow.writer_seq[rows][i]), "writes")
        if not access.write:
            return
        readers = shadow.reader_seq[:, rows]
        unordered = readers > known[:, None]
        if unordered.any():
            other, i = (int(v) for v in np.argwhere(unordered)[0])
            self._report(unit, seq, access, rows, i, other, int(readers[other, i]), "reads")

    def _report(self, unit, seq, access, rows, i, other_unit, other_seq, other_verb) -> None:
        row = rows.start + i if isinstance(rows, slice) else int(rows[i])
        verb = "writes" if access.write else "reads"
        raise VitcError(
            f"hazard on {access.mem} row {row}: {self.describe(unit, seq)} ({UNITS[unit]}) {verb} it "
            f"while {self.describe(other_unit, other_seq)} ({UNITS[other_unit]}) "
            f"{other_verb} it, and no token orders the two"
        )
