"""QLinearAdd / QLinearMul on SPAD 8-bit regions: `qadd`, `qmul`.

Operands: a `(a, rows, cols, a_bs)` read as `au`, b `(b, rows, cols, b_bs)` read as `bu` or, with
`bbc=1`, the row vector `(b, 1, cols, 1)` broadcast over rows; the result c
`(c, rows, cols, c_bs)` is written as `cu`, saturated to its range.
- `mode=kernel` reproduces onnxruntime's integer kernels (NUMERICS.md):
  qadd `c = sat(RNE(fma(a, ra, fma(b, rb, fixed))))` with a, b the raw codes as float32 and
  each fma rounded once (`numerics.fma_f32`);
  qmul `c = sat(RNE(f32(f32(f32((a - za) * (b - zb)) * r) + zc)))`, every step one float32
  operation (the product of two 9-bit values is exact in float32).
- `mode=float` is the DQ -> op -> Q path: `c = Q(f32(DQ(a) OP DQ(b)), sc, zc)`.
The operands are read and the result written in block space (`regions.block_view`): every
step is elementwise, and c is computed whole before it is written, so c may be a or b.
Whatever depends on one operand's code alone and costs more than one operation (qadd's inner
fma of b, qmul's `a - za`) is computed once per byte value when the instruction is bound and
gathered by the stored bytes (`ndarray.take`: the same gather as indexing, without indexing's
generic machinery, ~2.5x faster on these byte arrays); qadd's `a * ra` is one exact float64
multiplication.
qadd's outer fma is the float64 sum of the exact product and the inner value, rounded to
float32; only where that sum sits at a float32 halfway point (`numerics.f32_halfway`) can the
double rounding differ from the fma, and then the exact `fma_f32` does the tile. Where every
sum of the instruction's tables is exact in float64 (the usual case, found when the tables are
made), there is no double rounding and nothing to look for.
"""

import struct
from typing import Iterable

import numpy as np

from runtime_emulator.machine import Machine
from runtime_emulator.numerics import (
    F32, code_dtype, dequantize_linear, f32_halfway, fma_f32, quantize_linear, round_to_code,
)
from runtime_emulator.regions import Region, block_row_vector, block_view, block_writer

KERNEL_MODE = 0  # the table's `mode` enum: kernel, float
# The code each byte value stands for, per `u` flag (index = the byte as stored in SPAD).
CODE_OF_BYTE = {unsigned: np.arange(256, dtype=np.uint8).view(code_dtype(unsigned)) for unsigned in (0, 1)}


def _operand_bytes(m: Machine, f) -> tuple[np.ndarray, np.ndarray]:
    """Views of a's and b's SPAD bytes (uint8, as stored) in block space (`regions.block_view`),
    b a row vector broadcast over rows when `bbc=1`."""
    rows, cols = f["rows"], f["cols"]
    a = block_view(m.spad, Region(f["a"], rows, cols, f["a_bs"]))
    b = block_row_vector(m.spad, f["b"], cols) if f["bbc"] else block_view(m.spad, Region(f["b"], rows, cols, f["b_bs"]))
    return a, b


def _float_path(a, b, f, combine) -> np.ndarray:
    value = combine(
        dequantize_linear(a, F32(f["sa"]), f["za"]), dequantize_linear(b, F32(f["sb"]), f["zb"]), dtype=F32
    )
    return quantize_linear(value, F32(f["sc"]), f["zc"], f["cu"])


def _bind(m: Machine, f, kernel, combine):
    """The instruction: `kernel(a_bytes, b_bytes) -> codes` in kernel mode, else the float path
    with `combine` (np.add, np.multiply) on the codes."""
    a_bytes, b_bytes = _operand_bytes(m, f)
    write = block_writer(m.spad_as(f["cu"]), Region(f["c"], f["rows"], f["cols"], f["c_bs"]))
    if f["mode"] == KERNEL_MODE:
        return lambda: write(kernel(a_bytes, b_bytes))
    a_codes, b_codes = a_bytes.view(code_dtype(f["au"])), b_bytes.view(code_dtype(f["bu"]))
    return lambda: write(_float_path(a_codes, b_codes, f, combine))


def _f32_bits(value: float) -> int:
    """The bit pattern of a float32 value (a decoded float32 immediate, so packing is exact)."""
    return struct.unpack("<I", struct.pack("<f", value))[0]


QaddKey = tuple[int, int, int, int, int]  # (au, ra bits, bu, rb bits, fixed bits)
# The tables of every key made so far (`make_qadd_tables`): pure functions of the key (float32
# constants by bit pattern, so that -0.0 and NaNs are keys like any other), read-only, shared
# by every qadd with the same operand types and constants, in this run and later ones.
_QADD_TABLES: dict[QaddKey, tuple[np.ndarray, np.ndarray, bool]] = {}
_QADD_TABLES_KEPT = 4096  # more keys than this and the tables are made afresh
_CODE_VALUES = np.stack([CODE_OF_BYTE[unsigned].astype(F32) for unsigned in (0, 1)])  # (u, byte) -> code
_LARGEST_CODE = np.abs(_CODE_VALUES).max(axis=1).astype(np.float64)  # by u: 128, 255


def make_qadd_tables(keys: Iterable[QaddKey]) -> None:
    """Make the tables of the keys not made yet, all at once (one fma over keys x byte values:
    a program's few hundred qadd share a hundred keys, each a 256-entry table). Per key, per
    byte value of b: its inner fma in float32 and float64; and whether every sum of a product
    `a * ra` (exact in float64: 8 + 24 bits) and an inner value is exact in float64."""
    missing = sorted(set(keys) - _QADD_TABLES.keys())
    if not missing:
        return
    if len(_QADD_TABLES) + len(missing) > _QADD_TABLES_KEPT:
        _QADD_TABLES.clear()
    au, ra_bits, bu, rb_bits, fixed_bits = (np.array(column, np.int64) for column in zip(*missing))
    ra, rb, fixed = (bits.astype(np.uint32).view(F32)[:, None] for bits in (ra_bits, rb_bits, fixed_bits))
    with np.errstate(all="ignore"):  # IEEE inf and NaN are the semantics (a fuzzed rb may be infinite)
        inners = fma_f32(_CODE_VALUES[bu], rb, fixed)
    inners_wide = inners.astype(np.float64)
    exact = _sums_exact_in_float64(_LARGEST_CODE[au], ra[:, 0].astype(np.float64), inners_wide)
    for key, inner, inner_wide, is_exact in zip(missing, inners, inners_wide, exact.tolist()):
        inner.setflags(write=False)
        inner_wide.setflags(write=False)
        _QADD_TABLES[key] = (inner, inner_wide, is_exact)


def _qadd_tables(au: int, ra_bits: int, bu: int, rb_bits: int, fixed_bits: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """The tables of one key (`make_qadd_tables`), made now if they were not yet."""
    key = (au, ra_bits, bu, rb_bits, fixed_bits)
    tables = _QADD_TABLES.get(key)
    if tables is None:
        make_qadd_tables([key])
        tables = _QADD_TABLES[key]
    return tables


def make_qadd_tables_of_columns(values: dict) -> None:
    """`make_qadd_tables` for the keys of a program's qadd field columns (`program.prepare`
    makes them before binding, so that binding finds every key's tables made)."""
    bits = [values[name].astype(F32).view(np.uint32) for name in ("ra", "rb", "fixed")]
    make_qadd_tables(zip(values["au"].tolist(), bits[0].tolist(), values["bu"].tolist(), bits[1].tolist(),
                         bits[2].tolist()))


def _sums_exact_in_float64(largest_code: np.ndarray, ra: np.ndarray, inners: np.ndarray) -> np.ndarray:
    """Per key (row), whether every sum `code * ra + inners[b]` is exact in float64, so that
    rounding it to float32 is the fma itself (no double rounding to look for). Each product is
    a multiple of ra's last bit (the codes are integers) and each inner one of its own last bit
    (a float32: 2^(exponent - 24) with numpy's frexp exponent, conservative for subnormals);
    every sum is then a multiple of the smallest of those bits, and is exact when it needs at
    most 53 bits of them. The largest product is `largest_code * |ra|` (products are exact)."""
    values = np.concatenate((ra[:, None], inners), axis=1)
    nonzero = values != 0  # NaN included
    finite = (np.isfinite(values) | ~nonzero).all(axis=1)
    exponents = np.where(nonzero, np.frexp(values)[1], np.iinfo(np.int32).max).min(axis=1)
    with np.errstate(all="ignore"):  # rows of zeros or non-finite values: decided below
        last_bit = np.ldexp(1.0, exponents - 24)
        exact = largest_code * np.abs(ra) + np.abs(inners).max(axis=1) < np.ldexp(last_bit, 53)
    # A row of zeros is sums of zeros (exact); a non-finite value rules the shortcut out.
    return np.where(nonzero.any(axis=1), exact & finite, True)


def bind_qadd(m: Machine, f):
    inners, inners_wide, exact = _qadd_tables(
        f["au"], _f32_bits(f["ra"]), f["bu"], _f32_bits(f["rb"]), _f32_bits(f["fixed"]))
    a_dtype, ra, unsigned = code_dtype(f["au"]), F32(f["ra"]), f["cu"]
    ra_wide = np.float64(ra)

    def kernel(a, b) -> np.ndarray:
        codes = a.view(a_dtype)
        total = codes.astype(np.float64)
        np.multiply(total, ra_wide, out=total)  # a * ra, exact: 8 + 24 bits
        # Rounded once in float64: the fma unless at a double-rounding tie.
        np.add(total, inners_wide.take(b), out=total)
        if not exact and f32_halfway(total).any():
            return round_to_code(fma_f32(codes.astype(F32), ra, inners.take(b)), unsigned)
        # Below the smallest normal float32 the float64 sum may round differently to float32 than
        # the exact one, but both round to the code 0 (or -0): no exact treatment needed.
        return round_to_code(total.astype(F32), unsigned)
    return _bind(m, f, kernel, np.add)


def bind_qmul(m: Machine, f):
    centered_a = CODE_OF_BYTE[f["au"]].astype(np.int32) - f["za"]
    centered_b = CODE_OF_BYTE[f["bu"]].astype(np.int32) - f["zb"]
    r, zc, unsigned = F32(f["r"]), F32(f["zc"]), f["cu"]

    def kernel(a, b) -> np.ndarray:
        product = (centered_a.take(a) * centered_b.take(b)).astype(F32)
        scaled = np.multiply(product, r, dtype=F32)
        return round_to_code(np.add(scaled, zc, dtype=F32), unsigned)
    return _bind(m, f, kernel, np.multiply)
