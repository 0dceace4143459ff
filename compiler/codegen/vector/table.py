"""`table`: a unary function of the 8-bit code, `y = table[x as byte]`, as one SPAD `lut`.

The 256 result codes are a SPAD constant (a 1 x 256 row vector); the `lut` index
`(x + 0) & 0xFF` of a code read with the input's signedness is exactly its byte, which is how
the IR indexes the table for int8 and uint8 inputs alike. The input and output dtypes may
differ: the table holds output bytes. A table mapping every code to itself
(`returns_its_input`) is skipped inside a fused chain (vector_ops.py).
"""

from __future__ import annotations

import numpy as np

from compiler.codegen.vector.emitter import Emitter
from compiler.codegen.vector.lowering import ConstantBlock, VectorLowering

TABLE = "table"


class TableLowering(VectorLowering):
    operand_kinds = ("tile",)

    def constants(self) -> list[ConstantBlock]:
        codes = np.asarray(self.op.attrs["table"])
        return [ConstantBlock.row_vector(TABLE, codes.view(np.uint8))]

    def returns_its_input(self) -> bool:
        """An identity table between codes of one dtype (the result's quantisation may differ:
        the same codes then mean other values, as the IR says)."""
        codes = np.asarray(self.op.attrs["table"]).view(np.uint8)
        return self.op.operands[0].type.dtype == self.op.result.type.dtype and \
            np.array_equal(codes, np.arange(256, dtype=np.uint8))

    def emit_tile(self, rows, inputs, output, scratch, constants, layer):
        out = Emitter(layer)
        out.lut(inputs[0], output, self.op.operands[0].type.dtype, constants[TABLE])
        return out.instructions
