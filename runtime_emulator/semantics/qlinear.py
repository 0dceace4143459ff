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
"""

import numpy as np

from runtime_emulator.machine import Machine
from runtime_emulator.numerics import (
    F32, code_range, dequantize_linear, fma_f32, quantize_linear, round_to_code,
)
from runtime_emulator.regions import Region, read_region, read_row_vector, write_region

KERNEL_MODE = 0  # the table's `mode` enum: kernel, float
CODE_SPAN = {unsigned: (lo, hi + 1) for unsigned in (0, 1) for lo, hi in [code_range(unsigned)]}


def _operands(m: Machine, f) -> tuple[np.ndarray, np.ndarray]:
    a = read_region(m.spad_as(f["au"]), Region(f["a"], f["rows"], f["cols"], f["a_bs"]))
    if f["bbc"]:
        b = read_row_vector(m.spad_as(f["bu"]), f["b"], f["cols"])[None, :]
    else:
        b = read_region(m.spad_as(f["bu"]), Region(f["b"], f["rows"], f["cols"], f["b_bs"]))
    return a.astype(np.int32), b.astype(np.int32)


def _float_path(a, b, f, combine) -> np.ndarray:
    value = combine(
        dequantize_linear(a, F32(f["sa"]), f["za"]), dequantize_linear(b, F32(f["sb"]), f["zb"]), dtype=F32
    )
    return quantize_linear(value, F32(f["sc"]), f["zc"], f["cu"])


def _write(m: Machine, f, codes: np.ndarray) -> None:
    write_region(m.spad_as(f["cu"]), Region(f["c"], f["rows"], f["cols"], f["c_bs"]), codes)


def qadd(m: Machine, f) -> None:
    a, b = _operands(m, f)
    if f["mode"] == KERNEL_MODE:
        # The inner fma takes one of 256 values, one per b code: computed once per code, gathered.
        b_codes = np.arange(*CODE_SPAN[f["bu"]], dtype=np.int32)
        inner = fma_f32(b_codes.astype(F32), F32(f["rb"]), F32(f["fixed"]))[b - b_codes[0]]
        codes = round_to_code(fma_f32(a.astype(F32), F32(f["ra"]), inner), f["cu"])
    else:
        codes = _float_path(a, b, f, np.add)
    _write(m, f, codes)


def qmul(m: Machine, f) -> None:
    a, b = _operands(m, f)
    if f["mode"] == KERNEL_MODE:
        product = ((a - f["za"]) * (b - f["zb"])).astype(F32)
        scaled = np.multiply(product, F32(f["r"]), dtype=F32)
        codes = round_to_code(np.add(scaled, F32(f["zc"]), dtype=F32), f["cu"])
    else:
        codes = _float_path(a, b, f, np.multiply)
    _write(m, f, codes)
