"""Vector-unit lowerings: IR elementwise / normalisation ops -> vector-unit instructions, exact
against onnxruntime's kernels (docs/architecture.md, ../shared/NUMERICS.md).

Interface with the backend driver (see `lowering.py` for the full contract):

    lowering = vector_lowering(op, config, constant_operands=None)  # VitcError naming the op if unsupported
    lowering.operand_kinds    # per IR operand: "tile" | "row" | "column" | "scalar" | "reduced"
    lowering.total_rows, lowering.cols  # the op's rows and the output's columns (reduce_mean: 1)
    lowering.constants()      # [ConstantBlock(name, mem, rows, cols, data)]: load each once per op
    lowering.row_tile(max_spad_rows, max_acc_rows) -> int
    lowering.scratch_rows(rows) -> (spad_rows, acc_rows)
    lowering.emit(rows, inputs, output, scratch, constants, layer) -> list[Instruction]

- `inputs[i]` is the `Region` of IR operand i placed as `operand_kinds[i]` says: a "tile"
  (rows x cols) and a "column" (rows x 1) have the output tile's rows; a "row" (1 x cols,
  bs = 1, e.g. a bias) and a "scalar" (1 x 1) are the same region for every tile; 8-bit values
  in SPAD, float32 values in ACC. A "reduced" operand (reduce_mean's input) is rows x N, N its
  own last axis, with the output tile's rows. Inputs are only read, never written.
- `output` is the tile's result region (SPAD for 8-bit results, ACC for float32).
- `scratch` is (SPAD region, ACC region) of at least `scratch_rows(rows)` rows each (either may
  be None when zero rows are needed); only their first rows are used.
- `constants` maps each `ConstantBlock.name` to the region it was loaded to: `dma.load` of
  `rows x cols` with `dram_stride = cols * esize` and `bs = rows`.
- Instructions carry no tokens; the caller orders them against loads and stores.

Ops: quantize, dequantize (per tensor), table, qadd, qmul (both modes, row-vector and scalar
broadcast on either side), qsoftmax (last axis), softmax (float32, last axis, MLAS AVX-512F exp), layernorm (last axis, rows of 8 or more), float
add/sub/mul/div (tile, row, column or scalar b), sqrt, pow (constant exponent 2 or 3, given in
`constant_operands`), reduce_mean (last axis, N a multiple of 8; operand kind "reduced").
`erf`, `tanh`, `exp` have no lowering.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from compiler.codegen.vector.conversions import DequantizeLowering, QuantizeLowering
from compiler.codegen.vector.float_elementwise import FloatElementwiseLowering
from compiler.codegen.vector.layernorm import LayerNormLowering
from compiler.codegen.vector.lowering import OPERAND_KINDS, ConstantBlock, ScratchPlan, VectorLowering
from compiler.codegen.vector.qbinary import QBinaryLowering
from compiler.codegen.vector.qsoftmax import QSoftmaxLowering
from compiler.codegen.vector.reduce_mean import ReduceMeanLowering
from compiler.codegen.vector.softmax import SoftmaxLowering
from compiler.codegen.vector.table import TableLowering
from compiler.ir.graph import Op
from isa.config import HardwareConfig
from isa.errors import VitcError

LOWERINGS = {
    "quantize": QuantizeLowering,
    "dequantize": DequantizeLowering,
    "table": TableLowering,
    "qadd": QBinaryLowering,
    "qmul": QBinaryLowering,
    "qsoftmax": QSoftmaxLowering,
    "softmax": SoftmaxLowering,
    "layernorm": LayerNormLowering,
    "reduce_mean": ReduceMeanLowering,
    **{kind: FloatElementwiseLowering for kind in FloatElementwiseLowering.KINDS},
}


def vector_lowering(op: Op, config: HardwareConfig,
                    constant_operands: Mapping[int, np.ndarray] | None = None) -> VectorLowering:
    """The lowering of one IR op. `constant_operands` gives the values of operands that are
    constants (by operand index); only float `pow` reads one (its exponent; the exponent is
    still placed as a "scalar" operand, unread, so that every operand has a region)."""
    if op.kind not in LOWERINGS:
        raise VitcError(f"vector lowering of {op.describe()}: no vector-unit lowering for '{op.kind}' "
                        f"(supported: {', '.join(sorted(LOWERINGS))})")
    if LOWERINGS[op.kind] is FloatElementwiseLowering:
        return FloatElementwiseLowering(op, config, dict(constant_operands or {}))
    return LOWERINGS[op.kind](op, config)


__all__ = ["vector_lowering", "VectorLowering", "ConstantBlock", "ScratchPlan", "OPERAND_KINDS", "LOWERINGS"]
