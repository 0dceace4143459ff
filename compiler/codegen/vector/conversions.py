"""`quantize` (ACC float32 -> SPAD codes) and `dequantize` (SPAD codes -> ACC float32).

Each is one instruction whose semantics is the op's (`quant`: onnxruntime QuantizeLinear with a
true division; `dequant`: `f32(float(q - zp) * scale)`). Only per-tensor quantization is
lowered; a per-axis one names the op in its error.
"""

from __future__ import annotations

from compiler.codegen.vector.emitter import Emitter
from compiler.codegen.vector.lowering import VectorLowering
from compiler.ir.types import TensorType


class _Conversion(VectorLowering):
    operand_kinds = ("tile",)

    def quantized_type(self) -> TensorType:
        raise NotImplementedError

    def __init__(self, op, config):
        super().__init__(op, config)
        quant = self.quantized_type().quant
        if quant is None or not quant.per_tensor:
            raise self.error("only per-tensor 8-bit quantization is supported on the vector unit")
        if self.quantized_type().dtype not in ("i8", "u8"):
            raise self.error(f"{self.quantized_type().dtype} codes are not 8-bit")
        self.scale, self.zero_point = quant.scale[0], quant.zero_point[0]


class QuantizeLowering(_Conversion):
    def quantized_type(self) -> TensorType:
        return self.op.result.type

    def emit_tile(self, rows, inputs, output, scratch, constants, layer):
        out = Emitter(layer)
        out.quant(inputs[0], output, self.op.result.type.dtype, self.zero_point, self.scale)
        return out.instructions


class DequantizeLowering(_Conversion):
    def quantized_type(self) -> TensorType:
        return self.op.operands[0].type

    def emit_tile(self, rows, inputs, output, scratch, constants, layer):
        out = Emitter(layer)
        out.dequant(inputs[0], output, self.op.operands[0].type.dtype, self.zero_point, self.scale)
        return out.instructions
