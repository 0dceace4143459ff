"""Conversions between ACC (int32 / float32) and SPAD 8-bit codes: `requant`, `dequant`, `quant`.

- `requant`: `y = sat(RNE(clamp(f32(f32(acc) * M), lo - zy, hi - zy)) + zy)`; M is the float32
  immediate `mult` (`pc=0`) or, per column, the ACC row vector at `mult_addr` (`pc=1`).
- `dequant`: `f32(float(q - zp) * scale)` into ACC as float32 bits.
- `quant`: onnxruntime QuantizeLinear of ACC float32 values; the scale is the immediate `scale`
  (`pr=0`) or, per row, the ACC column vector at `s_addr` (`pr=1`). `wide=1`: the quotient is
  `(x * mul) / s` in float64 (QLinearSoftmax's output step), rounded to an integer from float64.
Each step is one float32 numpy operation (see `numerics.py`), except `wide`'s float64 quotient.
They work on whole column blocks (`regions.block_view`): per-column multipliers as a row vector
and per-row scales as a column vector line up with them lane for lane.
"""

import numpy as np

from runtime_emulator.machine import Machine
from runtime_emulator.numerics import (
    F32, code_range, dequantize_linear, quantize_linear, quantize_wide_quotient, round_to_code,
)
from runtime_emulator.regions import Region, block_column_vector, block_row_vector, block_view, block_writer


def _src(f) -> Region:
    return Region(f["src"], f["rows"], f["cols"], f["src_bs"])


def _dst(f) -> Region:
    return Region(f["dst"], f["rows"], f["cols"], f["dst_bs"])


def bind_requant(m: Machine, f):
    source = block_view(m.acc, _src(f))
    write = block_writer(m.spad_as(f["u"]), _dst(f))
    multiplier = block_row_vector(m.acc_f32, f["mult_addr"], f["cols"]) if f["pc"] else F32(f["mult"])
    zy, unsigned = f["zy"], f["u"]
    lo, hi = F32(f["lo"] - zy), F32(f["hi"] - zy)
    # A clamp to the whole code range is the one `round_to_code` does anyway (NaN included:
    # np.clip keeps it, and round_to_code maps it to the smallest code either way).
    clamps = (f["lo"], f["hi"]) != code_range(unsigned)

    def requant() -> None:
        scaled = source.astype(F32)  # int32 -> float32, rounding to nearest even
        np.multiply(scaled, multiplier, out=scaled)
        if clamps:
            np.clip(scaled, lo, hi, out=scaled)
        write(round_to_code(scaled, unsigned, zy))
    return requant


def bind_dequant(m: Machine, f):
    source = block_view(m.spad_as(f["u"]), _src(f))
    write = block_writer(m.acc_f32, _dst(f))
    scale, zero_point = F32(f["scale"]), f["zp"]
    return lambda: write(dequantize_linear(source, scale, zero_point))


def bind_quant(m: Machine, f):
    source = block_view(m.acc_f32, _src(f))
    write = block_writer(m.spad_as(f["u"]), _dst(f))
    scale = block_column_vector(m.acc_f32, f["s_addr"], f["rows"]) if f["pr"] else F32(f["scale"])
    zero_point, unsigned = f["zp"], f["u"]
    if f["wide"]:
        multiplier = F32(f["mul"])
        return lambda: write(quantize_wide_quotient(source, multiplier, scale, zero_point, unsigned))
    return lambda: write(quantize_linear(source, scale, zero_point, unsigned))
