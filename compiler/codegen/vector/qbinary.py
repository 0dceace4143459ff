"""`qadd` and `qmul`: QLinearAdd / QLinearMul (onnxruntime's kernel, or the float DQ -> op -> Q
path) on SPAD codes, one `qadd`/`qmul` instruction per tile plus broadcast materialization.

Operands are tiles, row vectors (`(C,)` against `(..., C)`) or scalars. The instruction can
broadcast only its b operand (`bbc`, a row vector), so:
- a row vector or scalar a is swapped into b when that is exact: the float path and qmul's
  kernel are symmetric in a and b (float32 + and * commute, the integer product is exact), and
  for a scalar a onnxruntime's QLinearAdd itself swaps (it calls MLAS with the span as A and
  the scalar as B), which is exactly the swapped instruction with ra <-> rb;
- qadd's kernel with a row-vector a (onnxruntime computes `fma(a, ra, fma(b, rb, fixed))` row by
  row, which is not symmetric) takes a as a "broadcast" operand: a full tile of copies of the row,
  which the caller loads once per op with a broadcasting DMA (a bias before every output tile);
- a scalar b becomes a row vector in scratch (copy to a column, transpose);
- a one-element qadd is swapped too: onnxruntime tests for "input0 is a scalar" first.

For the swapped order QLinearAdd's `fixed` is derived as MLAS computes it for its own operand
order: `f32(zc - fma(rb, zb, f32(ra * za)))` (the x86 kernel is compiled with FMA contraction;
found by test against onnxruntime 1.32, test_qbinary.py); unswapped, the IR's `fixed` is that
same expression.
"""

from __future__ import annotations

import numpy as np

from compiler.codegen.vector.broadcast import operand_kind, scalar_to_row_vector
from compiler.codegen.vector.emitter import Emitter
from compiler.codegen.vector.lowering import VectorLowering
from compiler.reference.kernels.fp32 import fma

KERNEL_MODE = {"qlinear": "kernel", "float": "float"}


class QBinaryLowering(VectorLowering):
    def __init__(self, op, config):
        super().__init__(op, config)
        out_shape = op.result.type.shape
        kinds = tuple(operand_kind(v.type.shape, out_shape) for v in op.operands)
        for value, kind in zip(op.operands, kinds):
            if kind not in ("tile", "row", "scalar"):
                raise self.error(f"operand %{value.name} {list(value.type.shape)} is not a tile, a row vector or "
                                 f"a scalar of the result {list(out_shape)}")
        self.operand_kinds = kinds
        self.mode = op.attrs["mode"]
        # Instruction operand i reads IR operand order[i]; only instruction operand b may broadcast.
        one_element_qadd = op.kind == "qadd" and self.total_rows * self.cols == 1
        self.swapped = one_element_qadd or (kinds[0] != "tile" and kinds[1] == "tile" and self._swap_is_exact(kinds[0]))
        self.order = (1, 0) if self.swapped else (0, 1)
        if kinds[self.order[0]] == "row":
            kinds = tuple("broadcast" if i == self.order[0] else kind for i, kind in enumerate(kinds))
            self.operand_kinds = kinds
        if kinds[self.order[0]] == "scalar":
            raise self.error("a scalar operand with a non-tile other operand is not supported")
        self.b_kind = kinds[self.order[1]]
        self.immediates = self._immediates()  # the same for every tile

    def _swap_is_exact(self, a_kind: str) -> bool:
        return self.op.kind == "qmul" or self.mode == "float" or a_kind == "scalar"

    def plan_scratch(self, rows, spad, acc):
        regions = {}
        if self.b_kind == "scalar":
            regions["b_column"] = spad.column(self.cols)
            regions["b_row"] = spad.row_vector(self.cols)
        return regions

    def _immediates(self) -> dict:
        """Mode and constants of the instruction, in instruction operand order."""
        a, b = (self.op.operands[i].type.quant for i in self.order)
        c = self.op.result.type.quant
        fields = dict(mode=KERNEL_MODE[self.mode], za=a.zero_point[0], zb=b.zero_point[0], zc=c.zero_point[0])
        if self.mode == "float":
            return fields | dict(sa=a.scale[0], sb=b.scale[0], sc=c.scale[0])
        if self.op.kind == "qmul":
            return fields | dict(r=self.op.attrs["multiplier"])
        if not self.swapped:
            return fields | {name: self.op.attrs[name] for name in ("ra", "rb", "fixed")}
        ra, rb = np.float32(self.op.attrs["rb"]), np.float32(self.op.attrs["ra"])
        za, zb, zc = (np.float32(fields[name]) for name in ("za", "zb", "zc"))
        return fields | dict(ra=float(ra), rb=float(rb), fixed=float(zc - fma(ra, za, rb * zb)))

    def emit_tile(self, rows, inputs, output, scratch, constants, layer):
        out = Emitter(layer)
        a, b = (inputs[i] for i in self.order)
        if self.b_kind == "scalar":
            scalar_to_row_vector(out, b, scratch["b_column"], scratch["b_row"])
            b = scratch["b_row"]
        dtypes = tuple(self.op.operands[i].type.dtype for i in self.order) + (self.op.result.type.dtype,)
        out.qbinary(self.op.kind, a, b, output, dtypes, broadcast_b=self.b_kind != "tile", **self.immediates)
        return out.instructions
