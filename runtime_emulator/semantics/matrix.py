"""`mm`: the matrix engine's `C (=|+=) (A - za) @ (B' - zb)` in exact, wrapping int32.

A is the SPAD region `(a, m, k, a_bs)` read as `au`-typed codes; B is `(b, k, n, b_bs)` read as
`bu`, or with `bt=1` it is stored transposed as `(b, n, k, b_bs)`; C is the ACC region
`(c, m, n, c_bs)`. Products are summed by float32 BLAS, which is exact when every partial sum
is an integer below 2^24, whatever order BLAS adds in: a product over at most
`2^24 / (max|A - za| * max|B - zb|)` of the k columns (the bound from the code ranges and zero
points alone, at least 258 columns) always is. k is cut into such chunks when it is longer;
each chunk's exact product is converted to int32 and the chunks are summed in wrapping int32,
like a hardware accumulator (the sum of the chunks modulo 2^32 is the product's).
`accum=1` adds to C with int32 wrap-around.

Conversions: a `(rows, cols)` operand (A, or B stored transposed) is gathered row by row in
whole column blocks, `dim` bytes at a time (one copy of `rows x blocks` items), then converted
to float32 in one contiguous pass; B in block layout is converted block by block as it is
stored (`(blocks, k, dim)`), and its product with A is C's own block layout. Lanes past the
logical columns in a last block are converted but never reach a stored element (A's are sliced
off, B's only reach product lanes never stored).
"""

import functools
from typing import NamedTuple

import numpy as np

from runtime_emulator.machine import Machine
from runtime_emulator.numerics import code_dtype, code_range
from runtime_emulator.regions import (
    Placement, Region, blocks_placement, region_reader, region_writer, row_items_placement,
)

F32_EXACT_INTEGERS = 1 << 24  # every integer up to this magnitude is a float32


class _Shape(NamedTuple):
    """Everything about an mm but its addresses, shared by every mm of the same shape
    (`_shape_of`): its operands' views as placements (`regions.Placement`) and its k chunks."""

    a: Placement  # A's block rows as items (1, m, blocks)
    b: Placement  # bt=1: B's block rows as items (1, n, blocks); bt=0: B's blocks (1, blocks, k, dim) as bu codes
    c: Placement | None  # bt=0: C's blocks (1, blocks, m, dim); bt=1: None (C is read and written as a matrix)
    chunks: tuple[slice, ...]  # slices of k, each short enough for its float32 product to be exact


def _largest_magnitude(unsigned: int, zero_point: int) -> int:
    """Largest |code - zero_point| over the 8-bit type's codes."""
    lo, hi = code_range(unsigned)
    return max(abs(lo - zero_point), abs(hi - zero_point))


@functools.lru_cache(maxsize=None)
def _shape_of(dim: int, m: int, k: int, n: int, a_bs: int, b_bs: int, c_bs: int, au: int, za: int, bu: int,
              zb: int, bt: int) -> _Shape:
    """The `_Shape` of an mm with these fields (a pure function of them, so cached)."""
    largest = _largest_magnitude(au, za) * _largest_magnitude(bu, zb)
    chunk = F32_EXACT_INTEGERS // largest
    chunks = tuple(slice(start, start + chunk) for start in range(0, k, chunk))
    a = row_items_placement(dim, dim, m, k, a_bs)
    if bt:
        return _Shape(a, row_items_placement(dim, dim, n, k, b_bs), None, chunks)
    return _Shape(a, blocks_placement(code_dtype(bu), dim, k, n, b_bs), blocks_placement(np.int32, dim, m, n, c_bs), chunks)


def _centered_reader(gather: np.ndarray, unsigned: int, zero_point: int, cols: int):
    """A function giving a region's codes minus the zero point as a float32 `(rows, cols)` array
    (exact: at most 9 bits), from `gather`, the view of the region's block rows as `dim`-byte
    items (`regions.block_row_items`, made once by the binder): one copy in row order, then one
    contiguous conversion. The copies are fresh arrays, not buffers kept per instruction: numpy
    hands back memory just freed, still in cache, where a buffer per instruction would be cold."""
    code_type, rows = code_dtype(unsigned), gather.shape[0]
    centre = np.float32(zero_point)

    def read() -> np.ndarray:
        codes = gather.copy().view(code_type).reshape(rows, -1)[:, :cols]
        values = codes.astype(np.float32)
        if zero_point:
            values -= centre
        return values
    return read


def _times_transposed_b(m: Machine, f, shape: _Shape):
    """`bt=1`: B's operand as a float32 `(n, k)` array; (a, b, chunk) -> the chunk's product
    `(m, n)`; C as such an array; and the store of such an array into C."""
    read_b = _centered_reader(shape.b.at(m.spad, f["b"])[0], f["bu"], f["zb"], f["k"])
    c = Region(f["c"], f["m"], f["n"], f["c_bs"])
    read_c = region_reader(m.acc, c)
    return read_b, (lambda a, b, chunk: a[:, chunk] @ b[:, chunk].T), (lambda: read_c()[0]), region_writer(m.acc, c)


def _times_block_b(m: Machine, f, shape: _Shape):
    """`bt=0`: B's operand as float32 blocks `(blocks, k, dim)`; (a, b, chunk) -> the chunk's
    product column block by column block, `(blocks, m, dim)`, C's own block layout; C as such
    an array (a view); and the store of such an array into C's logical lanes."""
    b_blocks = shape.b.at(m.spad, f["b"])[0]  # (blocks, k, dim)
    c_blocks = shape.c.at(m.acc, f["c"])[0]  # (blocks, m, dim)
    full, tail = divmod(f["n"], m.dim)
    zero_point, centre = f["zb"], np.float32(f["zb"])

    def read_b() -> np.ndarray:
        b = b_blocks.astype(np.float32)
        if zero_point:
            b -= centre  # exact: at most 9 bits
        return b

    def store(product: np.ndarray) -> None:
        c_blocks[:full] = product[:full]
        if tail:
            c_blocks[full, :, :tail] = product[full, :, :tail]
    return read_b, (lambda a, b, chunk: np.matmul(a[:, chunk], b[:, chunk])), (lambda: c_blocks), store


def bind_mm(m: Machine, f):
    shape = _shape_of(m.dim, f["m"], f["k"], f["n"], f["a_bs"], f["b_bs"], f["c_bs"], f["au"], f["za"], f["bu"],
                      f["zb"], f["bt"])
    read_a = _centered_reader(shape.a.at(m.spad, f["a"])[0], f["au"], f["za"], f["k"])
    read_b, times, read_c, store = (_times_transposed_b if f["bt"] else _times_block_b)(m, f, shape)
    first, *rest = shape.chunks
    accumulate = f["accum"]

    def mm() -> None:
        a, b = read_a(), read_b()
        product = times(a, b, first)
        if not (rest or accumulate):
            store(product)  # exact integers below 2^24: the assignment converts them exactly
            return
        total = product.astype(np.int32)
        for chunk in rest:
            total += times(a, b, chunk).astype(np.int32)  # int32 + int32 wraps
        if accumulate:
            total += read_c()
        store(total)
    return mm
