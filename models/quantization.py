"""Quantisation of a float model with onnxruntime's own quantizer, in every variant users produce.

A `QuantVariant` is (format, activation type, per-channel weights, quant_pre_process first).
`quantize(model_bytes, variant, calibration)` runs `onnxruntime.quantization.quantize_static`
with MinMax calibration over the given seeded images, int8 symmetric weights, and otherwise the
quantizer's defaults (no extra_options), exactly as a user calling it would.

What quantize_static (onnxruntime 1.32) emits for these ViT graphs, checked by
tests/models/test_quantization.py (the test is the authority; this is its summary):
- Default op list (no op_types_to_quantize): the union of the QOperator and QDQ registries, so
  every op below is considered. Weights are int8, symmetric, zp 0, range [-127, 127]; per-channel
  weights have one scale per output channel (Conv axis 0, MatMul axis 1, Gemm(transB) axis 0).
- QDQ: a QuantizeLinear/DequantizeLinear pair on every activation input and output of Conv,
  MatMul, Gemm, Add, Mul, Softmax, Concat, Gather, Reshape, Transpose, LayerNormalization, and a
  DequantizeLinear on each quantised weight. Conv/Gemm biases are int32 (scale s_in * s_w, zp 0);
  a MatMul+Add bias is quantised like an activation (8-bit, own scale and zero point). Softmax
  output scale 1/255 (uint8 zp 0, int8 zp -128). Erf, Div, Sub, Pow, Sqrt, Tanh, ReduceMean are
  not in the registries: they stay float between a DequantizeLinear and the next QuantizeLinear.
  LayerNormalization gets Q/DQ around it but its gamma/beta stay float... see the test summary.
- QOperator: Conv -> QLinearConv, MatMul -> QLinearMatMul (both operands 8-bit; the attention
  Q.K^T and probs x V too), Gemm -> QGemm (com.microsoft), Add/Mul -> QLinearAdd/QLinearMul,
  Softmax -> QLinearSoftmax (output scale 1/256), Concat -> QLinearConcat, Gather/Transpose/
  Reshape stay as ordinary ops on 8-bit tensors; LayerNormalization, Erf, Div, Sub, Pow, Sqrt, Tanh
  and ReduceMean run in float between DequantizeLinear and QuantizeLinear.
- int8 vs uint8 activations: only the activation tensors' type and zero points change.
- quant_pre_process (symbolic shape inference + onnxruntime basic optimisation): MatMul+Add on a
  3-D activation becomes Reshape -> Gemm -> Reshape, so its bias becomes an int32 Gemm bias.
- extra_options (not used by the zoo's variants): ActivationSymmetric=True forces activation
  zero points to 0 (int8) / 128 (uint8); WeightSymmetric=False gives asymmetric weights;
  ForceQuantizeNoInputCheck quantises Transpose/Reshape even after a float producer;
  MatMulConstBOnly=True leaves the attention matmuls (two activations) float.
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
