"""Float32 elementwise ops: `add sub mul div` (one `valu` each), `sqrt` (`vunary`), and `pow`
with a constant exponent 2 or 3, which onnxruntime computes as `x * x` and `x * x * x` (its
output must not be its input region: x is read again after the first product).

Every one is a single IEEE float32 operation per element in onnxruntime (Eigen / std::transform,
no reassociation), so the instruction order here is the whole contract. Broadcasting: b may be
a tile (`bmode full`), a row vector (`col`: one value per column), a column vector (`row`: one
value per row) or a scalar (copied into a column vector in scratch). A broadcast a is swapped
into b for add and mul (IEEE + and * commute exactly) and refused for sub and div.
"""

from __future__ import annotations

import numpy as np

from compiler.codegen.vector.broadcast import operand_kind, replicate_rows
from compiler.codegen.vector.emitter import Emitter
from compiler.codegen.vector.lowering import VectorLowering

BMODE = {"tile": "full", "row": "col", "column": "row", "scalar": "row"}
BINARY = ("add", "sub", "mul", "div")
COMMUTATIVE = ("add", "mul")
POWERS = (2.0, 3.0)


class FloatElementwiseLowering(VectorLowering):
    KINDS = ("add", "sub", "mul", "div", "sqrt", "pow")

    def __init__(self, op, config, constant_operands: dict[int, np.ndarray]):
        super().__init__(op, config)
        out_shape = op.result.type.shape
        kinds = tuple(operand_kind(v.type.shape, out_shape) for v in op.operands)
        if None in kinds:
            value = op.operands[kinds.index(None)]
            raise self.error(f"operand %{value.name} {list(value.type.shape)} is not a tile, row, column or "
                             f"scalar of the result {list(out_shape)}")
        self.operand_kinds = kinds
        self.order = (0, 1)
        if op.kind == "pow":
            self.exponent = self._exponent(constant_operands.get(1))
            self.operand_kinds = kinds[:1] + ("scalar",)  # placed like any scalar, never read
        elif len(kinds) == 2 and kinds[0] != "tile":
            if op.kind not in COMMUTATIVE or kinds[1] != "tile":
                raise self.error(f"a broadcast first operand ({kinds[0]}) of '{op.kind}' is not supported")
            self.order = (1, 0)

    def _exponent(self, value) -> float:
        if value is None or np.size(value) != 1 or float(np.asarray(value).reshape(-1)[0]) not in POWERS:
            raise self.error(f"pow is supported with a constant exponent 2 or 3 only, got "
                             f"{'a non-constant exponent' if value is None else np.asarray(value).tolist()}")
        return float(np.asarray(value).reshape(-1)[0])

    def plan_scratch(self, rows, spad, acc):
        if self.op.kind in BINARY and self.operand_kinds[self.order[1]] == "scalar":
            return dict(b_column=acc.column(rows))
        return {}

    def emit_tile(self, rows, inputs, output, scratch, constants, layer):
        out = Emitter(layer)
        x = inputs[self.order[0]]
        if self.op.kind == "sqrt":
            out.vunary("sqrt", x, output)
        elif self.op.kind == "pow":
            out.valu("mul", output, x, x, "full")
            if self.exponent == 3.0:
                out.valu("mul", output, output, x, "full")
        else:
            b, b_kind = inputs[self.order[1]], self.operand_kinds[self.order[1]]
            if b_kind == "scalar":
                column = scratch["b_column"]
                out.copy(b, column.row_slice(0, 1))
                replicate_rows(out, column)
                b = column
            out.valu(self.op.kind, output, x, b, BMODE[b_kind])
        return out.instructions
