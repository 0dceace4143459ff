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

import numpy as np

from runtime_emulator.machine import Machine
from runtime_emulator.numerics import code_dtype, code_range
from runtime_emulator.regions import Region, block_row_items, region_reader, region_writer, stacked_blocks

F32_EXACT_INTEGERS = 1 << 24  # every integer up to this magnitude is a float32


def _largest_magnitude(unsigned: int, zero_point: int) -> int:
    """Largest |code - zero_point| over the 8-bit type's codes."""
    lo, hi = code_range(unsigned)
    return max(abs(lo - zero_point), abs(hi - zero_point))


def _exact_chunks(f) -> list[slice]:
    """Slices of k, each short enough for its float32 product to be exact."""
    largest = _largest_magnitude(f["au"], f["za"]) * _largest_magnitude(f["bu"], f["zb"])
    chunk = F32_EXACT_INTEGERS // largest
    return [slice(start, start + chunk) for start in range(0, f["k"], chunk)]


def _centered_reader(m: Machine, region: Region, unsigned: int, zero_point: int):
    """A function giving the region's codes minus the zero point as a float32 `(rows, cols)`
    array (exact: at most 9 bits): the rows' column blocks are gathered as `dim`-byte items (one
    copy in row order, `regions.block_row_items`, a view made once, here), then converted in one
    contiguous pass. The copies are fresh arrays, not buffers kept per instruction: numpy hands
    back memory just freed, still in cache, where a buffer per instruction would be cold."""
    gather = block_row_items(m.spad, region)[0]
    code_type, rows, cols = code_dtype(unsigned), region.rows, region.cols
    centre = np.float32(zero_point)

    def read() -> np.ndarray:
        codes = gather.copy().view(code_type).reshape(rows, -1)[:, :cols]
        values = codes.astype(np.float32)
        if zero_point:
            values -= centre
        return values
    return read


def _times_transposed_b(m: Machine, f):
    """`bt=1`: B's operand as a float32 `(n, k)` array; (a, b, chunk) -> the chunk's product
    `(m, n)`; C as such an array; and the store of such an array into C."""
    read_b = _centered_reader(m, Region(f["b"], f["n"], f["k"], f["b_bs"]), f["bu"], f["zb"])
    c = Region(f["c"], f["m"], f["n"], f["c_bs"])
    read_c = region_reader(m.acc, c)
    return read_b, (lambda a, b, chunk: a[:, chunk] @ b[:, chunk].T), (lambda: read_c()[0]), region_writer(m.acc, c)


def _times_block_b(m: Machine, f):
    """`bt=0`: B's operand as float32 blocks `(blocks, k, dim)`; (a, b, chunk) -> the chunk's
    product column block by column block, `(blocks, m, dim)`, C's own block layout; C as such
    an array (a view); and the store of such an array into C's logical lanes."""
    dim = m.dim
    b_blocks = stacked_blocks(m.spad_as(f["bu"]), Region(f["b"], f["k"], f["n"], f["b_bs"]))[0]  # (blocks, k, dim)
    c_blocks = stacked_blocks(m.acc, Region(f["c"], f["m"], f["n"], f["c_bs"]))[0]  # (blocks, m, dim)
    full, tail = divmod(f["n"], dim)
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
    read_a = _centered_reader(m, Region(f["a"], f["m"], f["k"], f["a_bs"]), f["au"], f["za"])
    read_b, times, read_c, store = (_times_transposed_b if f["bt"] else _times_block_b)(m, f)
    first, *rest = _exact_chunks(f)
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
