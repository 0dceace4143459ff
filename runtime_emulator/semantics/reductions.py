"""Row reductions of the vector unit: `rowsum` and `rowmax`, each into an ACC column vector.

- `rowsum`: float32 rows of `(src, rows, cols, src_bs)` summed in the order `order` names
  (`sq=1`: sums of squares), then divided by the float32 immediate `div` (default 1.0, exact
  identity). Accumulators start from +0.0, except `lanes8`'s, which start from -0.0 (the exact
  additive identity; onnxruntime's ReduceMean of an all -0.0 row is -0.0, its LayerNorm mean
  +0.0). Every order does one numpy operation over all rows per sequential step:
  - `seq`: sequential float32 from +0.0. `np.add.accumulate` is sequential by definition (each
    partial sum depends on the previous one); adding +0.0 to its last column gives the sum that
    starts from +0.0 (it differs only in the sign of an all-negative-zero row). `sq=1` sums
    `f32(x * x)`.
  - `lanes8`: 8 float32 lanes over the first `8 * floor(cols / 8)` columns (`sq=1`: one exact
    fma per column, `numerics.fma_f32`, looped over 8-column chunks), the halving tree
    `((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7))`, then the tail columns in order (`sq=1`: the first 4
    of a tail of 4 or more add `f32(x*x)`, the others fma), as MLAS's AVX2 kernels do.
  - `f64x4`: 4 float64 lanes (squares are exact in float64), `(l0+l2)+(l1+l3)`, the tail in
    order, one float64 division by `div`, one rounding to float32.
  - `lanes16`: 16 float32 lanes from +0.0 over every column (the row is padded with +0.0 to
    a multiple of 16, which leaves each lane unchanged; `sq=1`: one exact fma per column), then
    `a_i = l_{i+8} + l_i` and `((a0+a1)+(a2+a3))+((a4+a5)+(a6+a7))`: MLAS's AVX-512F order.
- `rowmax`: maximum of each row, from SPAD codes (`mem=0`, read as `u`) or ACC words (`mem=1`)
  read as int32 (`ty=i32`) or float32 (`ty=f32`, numpy maximum: NaN propagates).
The result goes to lane 0 of rows `dst .. dst + rows - 1`.
"""

import numpy as np

from isa.errors import VitcError
from isa.table import load_table
from runtime_emulator.machine import Machine
from runtime_emulator.numerics import F32, fma_f32, fma_square_chain
from runtime_emulator.regions import Region, read_region, region_reader

ORDER_NAMES = load_table().by_mnemonic["rowsum"].field_by_name["order"].values
# lanes8 lanes start from -0.0 (onnxruntime's ReduceMean of an all -0.0 row is -0.0).
LANES8_START = F32(-0.0)
LANES8_VECTORIZED_TAIL = 4  # a tail of at least this many columns adds its first 4 squares unfused


def _src(f) -> Region:
    return Region(f["src"], f["rows"], f["cols"], f["src_bs"])


def _lane_sums(x: np.ndarray, lanes: int, start) -> np.ndarray:
    """Sequential sums of lane l = columns l, l + lanes, ... of the full chunks, each starting
    from `start` (+0.0 or -0.0, of x's dtype): shape `(rows, lanes)`."""
    full = x.shape[1] // lanes * lanes
    if full == 0:
        return np.full((x.shape[0], lanes), start, x.dtype)
    chunks = x[:, :full].reshape(x.shape[0], -1, lanes)
    # Adding `start` last equals starting from it: both zeros are exact identities but for sign.
    return np.add.accumulate(chunks, axis=1, dtype=x.dtype)[:, -1, :] + start


def _sequential(x: np.ndarray, square: bool) -> np.ndarray:
    if square:
        x = np.multiply(x, x, dtype=F32)
    return np.add.accumulate(x, axis=1, dtype=F32)[:, -1] + F32(0)


def _lanes8(x: np.ndarray, square: bool) -> np.ndarray:
    rows, cols = x.shape
    full = cols // 8 * 8
    if square:  # sequential along the row: one fma per chunk of 8 columns
        acc = fma_square_chain(x[:, :full].reshape(rows, -1, 8), LANES8_START)
    else:
        acc = _lane_sums(x, 8, LANES8_START)
    while acc.shape[1] > 1:  # halving tree: (l0+l4, l1+l5, l2+l6, l3+l7), then pairs, then one
        half = acc.shape[1] // 2
        acc = np.add(acc[:, :half], acc[:, half:], dtype=F32)
    total = acc[:, 0]
    tail = cols - full
    for j, column in enumerate(x[:, full:].T):
        if not square:
            total = np.add(total, column, dtype=F32)
        elif tail >= LANES8_VECTORIZED_TAIL and j < LANES8_VECTORIZED_TAIL:
            total = np.add(total, np.multiply(column, column, dtype=F32), dtype=F32)
        else:
            total = fma_f32(column, column, total)
    return total


def _lanes16(x: np.ndarray, square: bool) -> np.ndarray:
    rows, cols = x.shape
    padded = np.zeros((rows, -(-cols // 16) * 16), F32)
    padded[:, :cols] = x
    if square:
        acc = fma_square_chain(padded.reshape(rows, -1, 16), F32(0))
    else:
        acc = _lane_sums(padded, 16, F32(0))
    a = np.add(acc[:, 8:], acc[:, :8], dtype=F32)
    pairs = np.add(a[:, 0::2], a[:, 1::2], dtype=F32)  # a0+a1, a2+a3, a4+a5, a6+a7
    return np.add(np.add(pairs[:, 0], pairs[:, 1], dtype=F32), np.add(pairs[:, 2], pairs[:, 3], dtype=F32),
                  dtype=F32)


FLOAT32_SUMS = {"seq": _sequential, "lanes8": _lanes8, "lanes16": _lanes16}


def _f64x4(x: np.ndarray, square: bool) -> np.ndarray:
    wide = x.astype(np.float64)
    if square:
        wide = wide * wide  # exact: 24 + 24 bits
    lanes = _lane_sums(wide, 4, np.float64(0.0))
    total = (lanes[:, 0] + lanes[:, 2]) + (lanes[:, 1] + lanes[:, 3])
    for column in wide[:, wide.shape[1] // 4 * 4:].T:
        total = total + column
    return total


def bind_rowsum(m: Machine, f):
    read = region_reader(m.acc_f32, _src(f))
    result = m.acc_f32[f["dst"]:f["dst"] + f["rows"], 0]
    order, square = ORDER_NAMES[f["order"]], f["sq"]
    if order == "f64x4":
        divisor = np.float64(F32(f["div"]))

        def rowsum_f64x4() -> None:
            result[...] = (_f64x4(read()[0], square) / divisor).astype(F32)
        return rowsum_f64x4
    float32_sum, divisor = FLOAT32_SUMS[order], F32(f["div"])

    def rowsum() -> None:
        result[...] = np.divide(float32_sum(read()[0], square), divisor, dtype=F32)
    return rowsum


def rowmax(m: Machine, f) -> None:
    is_float = f["ty"] == 1
    if is_float and not f["mem"]:
        raise VitcError("rowmax: ty=f32 needs mem=acc (SPAD holds 8-bit codes)")
    mem = (m.acc_f32 if is_float else m.acc) if f["mem"] else m.spad_as(f["u"])
    result = m.acc_f32 if is_float else m.acc
    result[f["dst"]:f["dst"] + f["rows"], 0] = read_region(mem, _src(f)).max(axis=1)
