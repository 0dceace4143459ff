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

NO_WRITER = -1


class _MemoryShadow:
    """Last writer and last readers of every row of one on-chip memory."""

    def __init__(self, rows: int):
        self.writer_unit = np.full(rows, NO_WRITER, np.int8)
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

    def _check(self, unit: int, seq: int, access, rows: np.ndarray) -> None:
        shadow = self.shadows[access.mem]
        known = self.clock[unit]
        writers = shadow.writer_unit[rows].astype(np.int64)
        writer_seqs = shadow.writer_seq[rows]
        unordered = (writers != NO_WRITER) & (writers != unit) & (writer_seqs > known[np.maximum(writers, 0)])
        self._report(unit, seq, access, rows, unordered, writers, writer_seqs, "writes")
        if not access.write:
            return
        for other in range(len(UNITS)):
            if other == unit:
                continue
            reader_seqs = shadow.reader_seq[other, rows]
            unordered = reader_seqs > known[other]
            self._report(unit, seq, access, rows, unordered, np.full_like(rows, other), reader_seqs, "reads")

    def _report(self, unit, seq, access, rows, unordered, other_units, other_seqs, other_verb) -> None:
        hits = np.flatnonzero(unordered)
        if not len(hits):
            return
        i = hits[0]
        verb = "writes" if access.write else "reads"
        raise VitcError(
            f"hazard on {access.mem} row {int(rows[i])}: {self.describe(unit, seq)} ({UNITS[unit]}) {verb} it "
            f"while {self.describe(int(other_units[i]), int(other_seqs[i]))} ({UNITS[int(other_units[i])]}) "
            f"{other_verb} it, and no token orders the two"
        )
