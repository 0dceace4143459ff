"""Quantisation of a float model with onnxruntime's own quantizer, in every variant users produce.

A `QuantVariant` is (format, activation type, per-channel weights, quant_pre_process first).
`quantize(model_bytes, variant, calibration)` runs `onnxruntime.quantization.quantize_static`
with MinMax calibration over the given seeded images, int8 symmetric weights, and otherwise the
quantizer's defaults (no extra_options), exactly as a user calling it would.

What quantize_static (onnxruntime 1.32) emits for these ViT graphs; each point is asserted by
tests/models/test_quantization.py, which wins if the two disagree:
- Op list: with no op_types_to_quantize it considers the union of its QOperator and QDQ
  registries. Erf, Tanh, Pow, Sqrt, Sub, ReduceMean and Div are in neither, so they stay float.
- Weights (Conv, MatMul, Gemm): int8, symmetric, zp 0, codes in [-127, 127]. Per-channel gives one
  scale per output channel: Conv axis 0, MatMul [in, out] axis 1, Gemm(transB=1) axis 0.
  Conv/Gemm biases: int32, zp 0, scale s_in * s_w (per channel when the weight is).
QDQ (QuantizeLinear -> DequantizeLinear around every quantised tensor):
- Inputs and outputs of Conv, MatMul (also the two-activation attention matmuls), Gemm, Add, Mul,
  Softmax, Concat, Gather, Reshape, Transpose and LayerNormalization all pass through Q/DQ.
- A MatMul+Add bias, the class token, the position embedding and the GELU constants 1.0 and 0.5
  are 8-bit activation-type constants (own scale and zero point) behind a DequantizeLinear.
- LayerNormalization: gamma is an int8 weight, always per-tensor (even with per_channel); beta is
  int32 with scale s_in * s_gamma; its input and output are Q/DQ'd.
- Div (attention scale) has a quantised output because Softmax quantises its input; the GELU Div
  feeds Erf directly in float, and the Erf output is quantised (Add consumes it).
- Softmax output: scale 1/255, zero point -128 (int8) or 0 (uint8).
QOperator:
- Conv -> QLinearConv; MatMul -> QLinearMatMul (all of them); Gemm -> QGemm (com.microsoft);
  Add/Mul -> QLinearAdd/QLinearMul (com.microsoft, also bias adds, residuals and GELU's
  constants); Concat -> QLinearConcat; Softmax -> QLinearSoftmax (com.microsoft, output scale
  1/256, zp -128 / 0). Reshape and Transpose run on the 8-bit tensors.
- LayerNormalization, Div, Erf and the final Gather run in float (DequantizeLinear before,
  QuantizeLinear after); LayerNorm gamma/beta stay float.
Both formats:
- int8 vs uint8 activations changes only activation types and zero points (weights stay int8).
- quant_pre_process (symbolic shape inference + onnxruntime basic optimisation) turns every
  MatMul+Add on a 3-D activation into Reshape -> Gemm -> Reshape, so that bias becomes an int32
  Gemm bias; only the two attention MatMuls remain MatMul.
- extra_options, not used by the zoo's variants: ActivationSymmetric=True makes every activation
  zero point 0 (int8); MatMulConstBOnly=True changes nothing visible in QDQ mode
  here, because the attention matmuls' neighbours (Transpose, Div, Softmax) quantise the same
  tensors anyway.
"""

import contextlib
import logging
import pathlib
import tempfile
from dataclasses import dataclass
from collections.abc import Iterable

import numpy as np
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from isa.errors import VitcError

FORMATS = {"qdq": QuantFormat.QDQ, "qoperator": QuantFormat.QOperator}
ACTIVATIONS = {"int8": QuantType.QInt8, "uint8": QuantType.QUInt8}
_FORMAT_TAGS = {"qdq": "qdq", "qoperator": "qop"}
_ACTIVATION_TAGS = {"int8": "s8", "uint8": "u8"}


@dataclass(frozen=True)
class QuantVariant:
    fmt: str = "qdq"
    activations: str = "int8"
    per_channel: bool = False
    preprocess: bool = False

    def __post_init__(self):
        if self.fmt not in FORMATS:
            raise VitcError(f"quantisation format {self.fmt!r}: expected one of {', '.join(FORMATS)}")
        if self.activations not in ACTIVATIONS:
            raise VitcError(f"activation type {self.activations!r}: expected one of {', '.join(ACTIVATIONS)}")

    @property
    def tag(self) -> str:
        """Short name: format, activation type, per-tensor/per-channel, `-pp` if pre-processed
        (`qdq-s8-pt`, `qop-u8-pc-pp`)."""
        parts = [_FORMAT_TAGS[self.fmt], _ACTIVATION_TAGS[self.activations], "pc" if self.per_channel else "pt"]
        return "-".join(parts + (["pp"] if self.preprocess else []))

    @classmethod
    def parse(cls, tag: str) -> "QuantVariant":
        for variant in VARIANTS:
            if variant.tag == tag:
                return variant
        raise VitcError(f"unknown quantisation variant {tag!r}; known: {', '.join(v.tag for v in VARIANTS)}")


VARIANTS = tuple(
    QuantVariant(fmt, activations, per_channel, preprocess)
    for fmt in FORMATS
    for activations in ACTIVATIONS
    for per_channel in (False, True)
    for preprocess in (False, True)
)


def as_variant(variant: "QuantVariant | str") -> QuantVariant:
    return variant if isinstance(variant, QuantVariant) else QuantVariant.parse(variant)


class _Images(CalibrationDataReader):
    def __init__(self, feeds: Iterable[dict[str, np.ndarray]]):
        self._feeds = iter(list(feeds))

    def get_next(self):
        return next(self._feeds, None)


@contextlib.contextmanager
def _quiet_quantizer():
    """The quantizer logs advice ("consider pre-processing", "use QDQ for int8") through the root
    logger for every call; the zoo chooses those variants on purpose, so hide warnings meanwhile."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def quantize(model_bytes: bytes, variant: QuantVariant, calibration: Iterable[dict[str, np.ndarray]]) -> bytes:
    """The quantised model's bytes; `calibration` yields the input dicts to calibrate on."""
    with tempfile.TemporaryDirectory(prefix="vitc-quantize-") as work, _quiet_quantizer():
        work = pathlib.Path(work)
        source = work / "float.onnx"
        source.write_bytes(model_bytes)
        if variant.preprocess:
            prepared = work / "preprocessed.onnx"
            quant_pre_process(str(source), str(prepared))
            source = prepared
        target = work / "quantized.onnx"
        quantize_static(
            str(source),
            str(target),
            _Images(calibration),
            quant_format=FORMATS[variant.fmt],
            activation_type=ACTIVATIONS[variant.activations],
            weight_type=QuantType.QInt8,
            per_channel=variant.per_channel,
        )
        return target.read_bytes()
