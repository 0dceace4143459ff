"""`reduce_mean` over the last axis: onnxruntime's ReduceMean, one `rowsum order=lanes8, div=N`.

onnxruntime 1.32 sums a row with Eigen's vectorized reduction (two SSE packets of 4 lanes, which
is 8 lanes: lane l takes the columns l, l + 8, ...; then the halving tree) and divides by N in
float32 (compiler/reference/kernels/reduce.py; tests/compiler/codegen/vector/test_reduce_mean.py
runs it against onnxruntime). `rowsum order=lanes8` is that order, its accumulators start from
-0.0 like Eigen's (a row of -0.0 has mean -0.0), and `div = N` is the division.
Rows whose length is not a multiple of 8 have an alignment-dependent prologue in Eigen: refused.

The operand is of kind "reduced" (rows x N, N the operand's last axis); the output is the
column vector of the row means (rows x 1), whether or not the op keeps the reduced axis.
"""

from __future__ import annotations

import math

import numpy as np

from compiler.codegen.vector.emitter import Emitter
from compiler.codegen.vector.lowering import VectorLowering

LANES = 8


class ReduceMeanLowering(VectorLowering):
    operand_kinds = ("reduced",)

    def __init__(self, op, config):
        super().__init__(op, config)
        x = op.operands[0].type
        if tuple(op.attrs["axes"]) != (x.rank - 1,):
            raise self.error(f"axes {list(op.attrs['axes'])}: only the last axis ({x.rank - 1}) is supported")
        self.length = x.shape[-1]
        if self.length % LANES:
            raise self.error(f"rows of {self.length} elements: only multiples of {LANES} are reproduced exactly "
                             f"(onnxruntime's sum has an alignment-dependent prologue otherwise)")
        self.cols = 1
        self.total_rows = math.prod(x.shape[:-1])

    def emit_tile(self, rows, inputs, output, scratch, constants, layer):
        out = Emitter(layer)
        out.rowsum(inputs[0], output, order="lanes8", divisor=float(np.float32(self.length)))
        return out.instructions
