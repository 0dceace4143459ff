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
scalar mode taking the float32 immediates `b_imm`, `c_imm`. `operand_reader` is the one
place those modes are read.
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
from runtime_emulator.regions import Region, region_reader, region_writer

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


def _divide_truncating(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    zeros = np.argwhere(np.broadcast_to(b, np.broadcast_shapes(a.shape, b.shape)) == 0)
    if len(zeros):
        raise VitcError(f"valu: integer division by zero at element {tuple(int(i) for i in zeros[0])}")
    quotient = np.abs(a) // np.abs(b)
    return np.where((a < 0) != (b < 0), -quotient, quotient)


def operand_reader(mem: np.ndarray, mode: int, addr: int, bs: int, rows: int, cols: int, scalar):
    """A function giving an operand placed by a broadcast mode, shaped to broadcast against
    `(rows, cols)`: a full region `(addr, rows, cols, bs)`, a column vector `(rows, 1)`, a row
    vector `(1, cols)`, or `scalar` (a numpy scalar of `mem`'s dtype)."""
    if mode == BMODE_FULL:
        read = region_reader(mem, Region(addr, rows, cols, bs))
    elif mode == BMODE_ROW:
        read = region_reader(mem, Region(addr, rows, 1, 1))
    elif mode == BMODE_COL:
        read = region_reader(mem, Region(addr, 1, cols, 1))
    else:
        constant = np.asarray(scalar, mem.dtype).reshape(1, 1)
        return lambda: constant
    return lambda: read()[0]


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
    read_a = region_reader(mem, Region(f["a"], rows, cols, f["a_bs"]))
    imm = np.array([f["imm"] & 0xFFFFFFFF], np.uint32).view(mem.dtype)[0]
    read_b = operand_reader(mem, f["bmode"], f["b"], f["b_bs"], rows, cols, imm)
    write = region_writer(mem, Region(f["dst"], rows, cols, f["dst_bs"]))

    def valu() -> None:
        if op == "scalef" and not is_float:
            raise VitcError("valu: op scalef needs ty=f32 (it scales float32 values by powers of two)")
        a, b = read_a()[0], read_b()
        if op == "scalef":
            result = _scalef(a, b)
        elif is_float:
            result = F32_OPS[op](a, b, dtype=np.float32)
        else:
            wide_a, wide_b = a.astype(np.int64), b.astype(np.int64)
            wide = _divide_truncating(wide_a, wide_b) if op == "div" else I32_OPS[op](wide_a, wide_b)
            result = wide.astype(np.int32)
        write(result)
    return valu


def bind_vunary(m: Machine, f):
    read = region_reader(m.acc_f32, Region(f["src"], f["rows"], f["cols"], f["src_bs"]))
    write = region_writer(m.acc_f32, Region(f["dst"], f["rows"], f["cols"], f["dst_bs"]))
    function = UNARY[FN_NAMES[f["fn"]]]
    return lambda: write(function(read()[0]))


def bind_vfma(m: Machine, f):
    rows, cols = f["rows"], f["cols"]
    read_a = region_reader(m.acc_f32, Region(f["a"], rows, cols, f["a_bs"]))
    read_b = operand_reader(m.acc_f32, f["bmode"], f["b"], f["b_bs"], rows, cols, F32(f["b_imm"]))
    read_c = operand_reader(m.acc_f32, f["cmode"], f["c"], f["c_bs"], rows, cols, F32(f["c_imm"]))
    write = region_writer(m.acc_f32, Region(f["dst"], rows, cols, f["dst_bs"]))
    return lambda: write(fma_f32(read_a()[0], read_b(), read_c()))
