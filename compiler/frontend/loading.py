"""Loading an ONNX model and refusing, with a clear message, what the frontend cannot import.

Checks, in order: the file parses; `onnx.checker` accepts it; the default-domain opset is in
`SUPPORTED_OPSETS`; strict shape inference succeeds; every graph input has a static shape.
The returned model is the caller's model (or the file's) with inferred shapes added; it is
never written back anywhere. It comes with its serialised bytes, which onnxruntime is given
next: protobuf serialises a vit-base (87 MB of weights) in ~0.3 s, so the model is serialised
at most once (never when it comes from a file) and shape inference's own bytes are kept.

Shape inference runs bytes to bytes through onnx's private binding
(`onnx.onnx_cpp2py_export.shape_inference.infer_shapes`), which the public
`onnx.shape_inference.infer_shapes` wraps and then parses into a `ModelProto` (that we would
have to serialise again for onnxruntime). An onnx that moves the private binding falls back to
the public function, with the same checks (`check_type`, `strict_mode`, no data propagation)
and one more serialisation.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass

import onnx
from onnx.external_data_helper import uses_external_data

from compiler.frontend.errors import FrontendError

try:
    from onnx.onnx_cpp2py_export.shape_inference import infer_shapes as infer_shapes_bytes  # bytes in, bytes out
except ImportError:  # a private module: a future onnx may move it
    infer_shapes_bytes = None

SUPPORTED_OPSETS = range(13, 22)


@dataclass(frozen=True)
class CheckedModel:
    model: onnx.ModelProto  # with inferred shapes
    serialized: bytes  # `model`'s bytes


def load_checked_model(path_or_model: str | pathlib.Path | onnx.ModelProto) -> CheckedModel:
    """The model, checked and shape-inferred; raises `FrontendError` naming what is wrong."""
    model, serialized, source = _load(path_or_model)
    try:
        onnx.checker.check_model(serialized)
    except onnx.checker.ValidationError as err:
        raise FrontendError(f"{source}: not a valid ONNX model: {_first_line(err)}") from None
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset not in SUPPORTED_OPSETS:
        raise FrontendError(f"{source}: ONNX opset {opset} is not supported (supported: "
                            f"{SUPPORTED_OPSETS.start}..{SUPPORTED_OPSETS.stop - 1})")
    try:
        checked = _with_inferred_shapes(serialized)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError) as err:
        raise FrontendError(f"{source}: shape inference failed: {_first_line(err)}") from None
    _require_static_inputs(checked.model, source)
    return checked


def _with_inferred_shapes(serialized: bytes) -> CheckedModel:
    """Strict shape inference (check_type, strict_mode, no data propagation) of the model's bytes."""
    if infer_shapes_bytes is None:
        model = onnx.shape_inference.infer_shapes(serialized, True, True, False)
        return CheckedModel(model, model.SerializeToString())
    inferred = infer_shapes_bytes(serialized, True, True, False)
    return CheckedModel(onnx.load_from_string(inferred), inferred)


def _load(path_or_model) -> tuple[onnx.ModelProto, bytes, str]:
    """The model, its bytes and how to name it in errors."""
    if isinstance(path_or_model, onnx.ModelProto):
        return path_or_model, path_or_model.SerializeToString(), f"model '{path_or_model.graph.name}'"
    path = pathlib.Path(path_or_model)
    if not path.is_file():
        raise FrontendError(f"{path}: no such model file")
    try:
        serialized = path.read_bytes()
        model = onnx.load_from_string(serialized)
        if any(map(uses_external_data, model.graph.initializer)):  # tensors stored in files beside it
            onnx.load_external_data_for_model(model, str(path.parent))
            serialized = model.SerializeToString()
    except Exception as err:  # protobuf raises several unrelated types for a corrupt file
        raise FrontendError(f"{path}: cannot parse as an ONNX model: {_first_line(err)}") from None
    return model, serialized, str(path)


def _require_static_inputs(model: onnx.ModelProto, source: str) -> None:
    initializers = {i.name for i in model.graph.initializer}
    for value in model.graph.input:
        if value.name in initializers:
            continue
        dims = value.type.tensor_type.shape.dim
        if not value.type.tensor_type.HasField("shape"):
            raise FrontendError(f"{source}: graph input '{value.name}' has no shape; vitc needs static shapes")
        dynamic = [d.dim_param or "?" for d in dims if not d.HasField("dim_value")]
        if dynamic:
            raise FrontendError(f"{source}: graph input '{value.name}' has dynamic dimension(s) "
                                f"{', '.join(dynamic)}; vitc needs static shapes (fix the batch size "
                                f"and image size before exporting)")


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
