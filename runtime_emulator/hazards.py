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
DRAM is not tracked (only on-chip memories, as the architecture asks).
"""

import numpy as np

from isa.errors import VitcError
from runtime_emulator.units import UNITS

class _MemoryShadow:
    """Last writer and last readers of every row of one on-chip memory. A row never written
    has writer (unit 0, number 0), which every clock already covers."""

    def __init__(self, rows: int):
        self.writer_unit = np.zeros(rows, np.int64)
        self.writer_seq = np.zeros(rows, np.int64)
        self.reader_seq = np.zeros((len(UNITS), rows), np.int64)


class HazardChecker:
    def __init__(self, memory_rows: dict, describe):
        """`memory_rows`: rows per memory name; `describe(unit, seq)` names an instruction."""
        units = len(UNITS)
        self.clock = np.zeros((units, units), np.int64)
        self.shadows = {mem: _MemoryShadow(rows) for mem, rows in memory_rows.items()}
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
