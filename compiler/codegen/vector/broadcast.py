"""Broadcast operands: how an IR operand's shape relates to the rows x cols of the output, and
how to materialize a broadcast operand on chip with `copy` and `transpose` alone.

`operand_kind` classifies an operand against the output shape (numpy broadcasting, last axis =
columns): the same elements ("tile"), one value per column ("row"), one value per row
("column"), or one value ("scalar"). Anything else is not a per-row broadcast and is refused.

Materializing (`replicate_rows`, `scalar_to_row_vector`) doubles the filled part with one `copy`
per step, so `n` rows cost ceil(log2 n) instructions; copies never overlap (the copied block is
at most as large as the part already filled).
"""

from __future__ import annotations

import math

from compiler.codegen.region import Region
from compiler.codegen.vector.emitter import Emitter


def operand_kind(shape: tuple[int, ...], out_shape: tuple[int, ...]) -> str | None:
    """'tile', 'row', 'column', 'scalar', or None when the operand is none of these."""
    size, out_size = math.prod(shape), math.prod(out_shape)
    cols = out_shape[-1] if out_shape else 1
    if size == out_size:
        return "tile"
    if size == 1:
        return "scalar"
    if shape and shape[-1] == cols and size == cols:
        return "row"
    if len(shape) >= 1 and shape[-1] == 1 and size == out_size // cols and \
            tuple(d for d in shape[:-1] if d != 1) == tuple(d for d in out_shape[:-1] if d != 1):
        return "column"
    return None


def replicate_rows(out: Emitter, tile: Region, filled: int = 1) -> None:
    """Fill every row of `tile` with copies of its first `filled` rows (doubling)."""
    while filled < tile.rows:
        count = min(filled, tile.rows - filled)
        out.copy(tile.row_slice(0, count), tile.row_slice(filled, count))
        filled += count


def scalar_to_row_vector(out: Emitter, scalar: Region, column: Region, row_vector: Region) -> None:
    """SPAD 1 x 1 `scalar` -> every element of the 1 x n `row_vector`, through the n x 1
    `column` (rows are addressable, lanes are not: fill a column, then transpose it)."""
    out.copy(scalar, column.row_slice(0, 1))
    replicate_rows(out, column)
    out.transpose(column, row_vector)
