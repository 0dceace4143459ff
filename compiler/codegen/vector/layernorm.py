"""`layernorm`: onnxruntime's CPU LayerNormalization over the last axis, step for step.

The kernel (layer_norm_impl.cc), per row of N float32 values, every step one float32 operation:
  sum += x[h]; sumsq += x[h] * x[h]          sequentially, from 0
  mean = sum / N
  std = sqrt(sumsq / N - mean * mean + epsilon)
  y[h] = (x[h] - mean) / std * gamma[h] + beta[h]
Instructions: `rowsum` (and with `sq=1`) into column vectors, `valu` on column vectors for
mean/std, then `valu` per-row (mean, std) and per-column (gamma, beta) over the tile. gamma and
beta are ACC float32 row vectors; the output may be the input region (every step is elementwise
or reads only the row statistics computed before it).
"""

from __future__ import annotations

import numpy as np

from compiler.codegen.vector.emitter import Emitter
from compiler.codegen.vector.lowering import VectorLowering


class LayerNormLowering(VectorLowering):
    def __init__(self, op, config):
        super().__init__(op, config)
        x = op.operands[0].type
        if op.attrs["axis"] != x.rank - 1:
            raise self.error(f"normalizing axes {op.attrs['axis']}..{x.rank - 1}: only the last axis is supported")
        self.operand_kinds = ("tile",) + ("row",) * (len(op.operands) - 1)
        self.epsilon = op.attrs["epsilon"]
        self.count = float(np.float32(self.cols))

    def plan_scratch(self, rows, spad, acc):
        return dict(mean=acc.column(rows), std=acc.column(rows), mean_square=acc.column(rows))

    def emit_tile(self, rows, inputs, output, scratch, constants, layer):
        out = Emitter(layer)
        x, gamma = inputs[0], inputs[1]
        mean, std, mean_square = scratch["mean"], scratch["std"], scratch["mean_square"]
        out.rowsum(x, mean)
        out.rowsum(x, std, squares=True)
        out.valu("div", mean, mean, self.count, "scalar")
        out.valu("div", std, std, self.count, "scalar")
        out.valu("mul", mean_square, mean, mean, "full")
        out.valu("sub", std, std, mean_square, "full")
        out.valu("add", std, std, self.epsilon, "scalar")
        out.vunary("sqrt", std, std)
        out.valu("sub", output, x, mean, "row")
        out.valu("div", output, output, std, "row")
        out.valu("mul", output, output, gamma, "col")
        if len(inputs) > 2:
            out.valu("add", output, output, inputs[2], "col")
        return out.instructions
