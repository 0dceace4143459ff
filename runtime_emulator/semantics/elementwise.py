"""Elementwise ACC arithmetic of the vector unit: `valu` (binary), `vunary` and `vfma`.

`valu`: `dst = a OP b` over the region `(a, rows, cols, a_bs)` -> `(dst, rows, cols, dst_bs)`,
`ty` f32 (one float32 operation, IEEE, NaN-propagating max/min like numpy) or i32 (wrapping
add/sub/mul; div truncates towards zero, `INT_MIN / -1` wraps to `INT_MIN`, and a zero divisor
is an error naming the element). `bmode` places b: 0 a full region `(b, rows, cols, b_bs)`,
1 a column vector (one value per row), 2 a row vector (one value per column), 3 the 32-bit
immediate `imm` (its bit pattern read as `ty`).
`scalef` (f32 only): `a * 2^floor(b)` rounded once, as AVX-512's `vscalefps`: `np.ldexp` on
float32 is exact scaling with one rounding (subnormals included); the exponent is clipped to
+-400, beyond which every float32 result is already 0 or infinity; infinite b gives `a * inf`
or `a * 0` (NaN for `0 * 2^inf` and `inf * 2^-inf`, as the instruction does).
`vfma`: float32 `dst = fma(a, b, c)` with one rounding (`numerics.fma_f32`, exact); b and c are
each placed by a broadcast mode (`bmode`, `cmode`) with the same codes as `valu`'s `bmode`, the
scalar mode taking the float32 immediates `b_imm`, `c_imm`. `operand_view` is the one
place those modes are read. All three work on whole column blocks (`regions.block_view`); each
result is computed whole before it is written, so the destination may be a source.
`vunary`: float32 `sqrt exp neg abs recip` (recip is `f32(1 / x)`), numpy's float32 kernels.
sqrt, neg, abs and recip are correctly rounded IEEE operations; exp is numpy's float32 exp, which
is not guaranteed correctly rounded and may differ by an ulp between CPUs with different SIMD
support (onnxruntime's Exp is another implementation): code that must match onnxruntime bit for
bit should evaluate exp through a `lut` table built with onnxruntime.
"""

import numpy as np

from isa.errors import VitcError
from isa.table import load_table
from runtime_emulator.machine import Machine
from runtime_emulator.numerics import F32, fma_f32
from runtime_emulator.regions import Region, block_column_vector, block_row_vector, block_view, block_writer

F32_OPS = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
    "max": np.maximum, "min": np.minimum,
}
UNARY = {
    "sqrt": np.sqrt, "exp": np.exp, "neg": np.negative, "abs": np.abs,
    "recip": lambda x: np.divide(np.float32(1), x, dtype=np.float32),
}
# Wrapping int32 arithmetic: compute in int64, keep the low 32 bits.
I32_OPS = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "max": np.maximum, "min": np.minimum,
}


def _enum_names(field: str) -> tuple[str, ...]:
    """Names of a `valu`/`vunary` enum field's codes, in code order, from the ISA table."""
    mnemonic = "vunary" if field == "fn" else "valu"
    return load_table().by_mnemonic[mnemonic].field_by_name[field].values


OP_NAMES, TY_NAMES, FN_NAMES = _enum_names("op"), _enum_names("ty"), _enum_names("fn")
BMODE_FULL, BMODE_ROW, BMODE_COL = 0, 1, 2  # the table's `bmode` codes: full, row, col, scalar


def _divide_truncating(a: np.ndarray, b: np.ndarray, dim: int, cols: int) -> np.ndarray:
    """Integer division truncating towards zero, in block space; a zero divisor among the
    logical elements (column `block * dim + lane` below `cols`) is an error naming the first
    one, in row-major order, as (row, column)."""
    zeros = np.argwhere(np.broadcast_to(b, np.broadcast_shapes(a.shape, b.shape)) == 0)
    columns = zeros[:, 0] * dim + zeros[:, 2]
    rows, columns = zeros[:, 1][columns < cols], columns[columns < cols]
    if len(rows):
        first = np.lexsort((columns, rows))[0]
        raise VitcError(f"valu: integer division by zero at element ({int(rows[first])}, {int(columns[first])})")
    quotient = np.abs(a) // np.abs(b)
    return np.where((a < 0) != (b < 0), -quotient, quotient)


def operand_view(mem: np.ndarray, mode: int, addr: int, bs: int, rows: int, cols: int, scalar) -> np.ndarray:
    """An operand placed by a broadcast mode, in block space (`regions.block_view`) so that it
    broadcasts against the `(blocks, rows, dim)` view of a `(rows, cols)` region: a full region
    `(addr, rows, cols, bs)`, a column vector `(1, rows, 1)`, a row vector `(blocks, 1, dim)`, or
    `scalar` (a numpy scalar of `mem`'s dtype) as `(1, 1, 1)`. Views of the memory, read when
    the instruction runs."""
    if mode == BMODE_FULL:
        return block_view(mem, Region(addr, rows, cols, bs))
    if mode == BMODE_ROW:
        return block_column_vector(mem, addr, rows)
    if mode == BMODE_COL:
        return block_row_vector(mem, addr, cols)
    return np.asarray(scalar, mem.dtype).reshape(1, 1, 1)


# Beyond this power of two every float32 product is 0 or infinity (float32 spans 2^-149 .. 2^128).
SCALEF_EXPONENT_LIMIT = 400


def _scalef(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.broadcast_arrays(a, b)
    finite = np.isfinite(b)
    exponent = np.clip(np.floor(np.where(finite, b, 0)), -SCALEF_EXPONENT_LIMIT, SCALEF_EXPONENT_LIMIT)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        scaled = np.ldexp(a, exponent.astype(np.int32)).astype(F32)
        limit = np.where(b > 0, F32(np.inf), np.where(b < 0, F32(0), F32(np.nan))).astype(F32)
        return np.where(finite, scaled, np.multiply(a, limit, dtype=F32))


def bind_valu(m: Machine, f):
    is_float = TY_NAMES[f["ty"]] == "f32"
    op = OP_NAMES[f["op"]]
    mem = m.acc_f32 if is_float else m.acc
    rows, cols = f["rows"], f["cols"]
    a = block_view(mem, Region(f["a"], rows, cols, f["a_bs"]))
    imm = np.array([f["imm"] & 0xFFFFFFFF], np.uint32).view(mem.dtype)[0]
    b = operand_view(mem, f["bmode"], f["b"], f["b_bs"], rows, cols, imm)
    write = block_writer(mem, Region(f["dst"], rows, cols, f["dst_bs"]))

    def valu() -> None:
        if op == "scalef" and not is_float:
            raise VitcError("valu: op scalef needs ty=f32 (it scales float32 values by powers of two)")
        if op == "scalef":
            result = _scalef(a, b)
        elif is_float:
            result = F32_OPS[op](a, b, dtype=np.float32)
        else:
            wide_a, wide_b = a.astype(np.int64), b.astype(np.int64)
            wide = _divide_truncating(wide_a, wide_b, m.dim, cols) if op == "div" else I32_OPS[op](wide_a, wide_b)
            result = wide.astype(np.int32)
        write(result)
    return valu


def bind_vunary(m: Machine, f):
    source = block_view(m.acc_f32, Region(f["src"], f["rows"], f["cols"], f["src_bs"]))
    write = block_writer(m.acc_f32, Region(f["dst"], f["rows"], f["cols"], f["dst_bs"]))
    function = UNARY[FN_NAMES[f["fn"]]]
    return lambda: write(function(source))


def bind_vfma(m: Machine, f):
    rows, cols = f["rows"], f["cols"]
    a = block_view(m.acc_f32, Region(f["a"], rows, cols, f["a_bs"]))
    b = operand_view(m.acc_f32, f["bmode"], f["b"], f["b_bs"], rows, cols, F32(f["b_imm"]))
    c = operand_view(m.acc_f32, f["cmode"], f["c"], f["c_bs"], rows, cols, F32(f["c_imm"]))
    write = block_writer(m.acc_f32, Region(f["dst"], rows, cols, f["dst_bs"]))
    return lambda: write(fma_f32(a, b, c))
