"""Loading an ONNX model and refusing, with a clear message, what the frontend cannot import.

Checks, in order: the file parses; `onnx.checker` accepts it; the default-domain opset is in
`SUPPORTED_OPSETS`; strict shape inference succeeds; every graph input has a static shape.
The returned model is the caller's model (or the file's) with inferred shapes added; it is
never written back anywhere.
"""

from __future__ import annotations

import pathlib

import onnx

from compiler.frontend.errors import FrontendError

SUPPORTED_OPSETS = range(13, 22)


def load_checked_model(path_or_model: str | pathlib.Path | onnx.ModelProto) -> onnx.ModelProto:
    """The model, checked and shape-inferred; raises `FrontendError` naming what is wrong."""
    model, source = _load(path_or_model)
    serialized = model.SerializeToString()  # once: the checker and shape inference both take bytes
    try:
        onnx.checker.check_model(serialized)
    except onnx.checker.ValidationError as err:
        raise FrontendError(f"{source}: not a valid ONNX model: {_first_line(err)}") from None
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset not in SUPPORTED_OPSETS:
        raise FrontendError(f"{source}: ONNX opset {opset} is not supported (supported: "
                            f"{SUPPORTED_OPSETS.start}..{SUPPORTED_OPSETS.stop - 1})")
    try:
        model = onnx.shape_inference.infer_shapes(serialized, check_type=True, strict_mode=True)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError) as err:
        raise FrontendError(f"{source}: shape inference failed: {_first_line(err)}") from None
    _require_static_inputs(model, source)
    return model


def _load(path_or_model) -> tuple[onnx.ModelProto, str]:
    if isinstance(path_or_model, onnx.ModelProto):
        return path_or_model, f"model '{path_or_model.graph.name}'"
    path = pathlib.Path(path_or_model)
    if not path.is_file():
        raise FrontendError(f"{path}: no such model file")
    try:
        return onnx.load(str(path)), str(path)
    except Exception as err:  # protobuf raises several unrelated types for a corrupt file
        raise FrontendError(f"{path}: cannot parse as an ONNX model: {_first_line(err)}") from None


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
