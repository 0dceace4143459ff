"""End-to-end verification: compile a model, run it on the emulator (hazard checking on), run
onnxruntime (CPU, default session options) on the same input, compare every output element.

On a mismatch, `first_difference` recompiles as a debug build (no fusion, no DRAM reuse), so
every intermediate tensor is stored and survives the run, reads each IR op's result back from
DRAM through its view, and compares it with the tensor onnxruntime computes for it (the
frontend's tensor map) or, for values onnxruntime has no tensor for, the IR interpreter's, in
op order: the first IR value that differs is named, with its element index and both values.

Differences are counted in quantisation steps: for an 8-bit output, code units; for a float
output produced by `dequantize`, |difference| / scale; otherwise the raw difference.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import onnxruntime as ort

from compiler.codegen.driver import compile_graph_full
from compiler.codegen.dram_view import DramView
from compiler.frontend.importer import import_model_with_tensors
from compiler.frontend.ort_optimizer import all_tensors
from compiler.ir.graph import Graph, Value
from compiler.reference.interpreter import run_graph
from isa.container import write_vitb
from isa.errors import VitcError
from runtime_emulator import run_binary

NUMPY_DTYPES = {"f32": np.float32, "i8": np.int8, "u8": np.uint8, "i32": np.int32, "i64": np.int64}


@dataclass
class OutputComparison:
    name: str
    elements: int
    exact: int
    max_diff: float  # in quantisation steps
    first_mismatch: tuple[tuple[int, ...], float, float] | None  # (index, emulator, onnxruntime)

    @property
    def is_exact(self) -> bool:
        return self.exact == self.elements


@dataclass
class Verification:
    outputs: list[OutputComparison]
    cycles: int
    instructions: int
    matrix_utilisation: float
    compile_seconds: float
    emulate_seconds: float
    constant_bytes: int
    dram_bytes: int
    first_difference: str | None = None
    stats: dict = field(default_factory=dict)

    @property
    def exact(self) -> bool:
        return all(o.is_exact for o in self.outputs)

    def to_json_dict(self) -> dict:
        return {
            "exact": self.exact,
            "outputs": [{"name": o.name, "elements": o.elements, "exact": o.exact, "max_diff": o.max_diff} for o in self.outputs],
            "cycles": self.cycles,
            "instructions": self.instructions,
            "matrix_utilisation": self.matrix_utilisation,
            "compile_seconds": self.compile_seconds,
            "emulate_seconds": self.emulate_seconds,
            "first_difference": self.first_difference,
        }


def onnxruntime_outputs(path, inputs: dict) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, inputs)))


def verify_model(path, config, inputs: dict, *, diagnose: bool = True, progress=None) -> Verification:
    imported = import_model_with_tensors(path)
    graph = imported.graph
    start = time.perf_counter()
    compiled = compile_graph_full(graph, config, progress)
    image = write_vitb(compiled.binary)
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    result = run_binary(image, inputs, config, check_hazards=True)
    emulate_seconds = time.perf_counter() - start
    expected = onnxruntime_outputs(path, inputs)
    outputs = [_compare(value.name, result.outputs[value.name], expected[value.name], _step(graph, value))
               for value in graph.outputs]
    verification = Verification(
        outputs, result.stats.cycles, len(compiled.instructions), result.stats.matrix_utilisation,
        compile_seconds, emulate_seconds, len(compiled.binary.constants), compiled.binary.dram_size,
        stats=result.stats.to_dict(),
    )
    if diagnose and not verification.exact:
        verification.first_difference = first_difference(imported, config, inputs)
    return verification


def first_difference(imported, config, inputs: dict) -> str:
    """The first IR value whose stored tensor differs from its reference, described. The
    reference is onnxruntime's own tensor where the value has one, else the IR interpreter's
    (values the frontend introduced, e.g. the patch matrix of the embedding convolution)."""
    graph = imported.graph
    compiled = compile_graph_full(graph, config, debug_build=True)
    result = run_binary(write_vitb(compiled.binary), inputs, config)
    onnx_tensors = all_tensors(imported.optimized, inputs)
    interpreted = _interpreted_tensors(graph, inputs)
    first_float = None
    for op in graph.ops:
        value = op.result
        placement = compiled.plan.placements.get(value)
        tensor = imported.onnx_tensor.get(value.name)
        if tensor in onnx_tensors:
            expected, source = onnx_tensors[tensor], f"onnx tensor {tensor!r}"
        elif value.name in interpreted:
            expected, source = interpreted[value.name], "IR interpreter"
        else:
            continue
        if op.kind == "const" or placement is None or placement.buffer.kind == "const":
            continue
        got = read_view(result.dram, placement.absolute(), value.type.dtype)
        comparison = _compare(value.name, got, expected, _step(graph, value))
        if comparison.is_exact:
            continue
        index, mine, theirs = comparison.first_mismatch
        text = (f"{op.describe()} (vs {source}): {comparison.elements - comparison.exact} of "
                f"{comparison.elements} elements differ, first at {list(index)}: emulator {mine}, reference {theirs}")
        if value.type.dtype == "f32":  # a float difference matters only if the codes after it differ
            first_float = first_float or text
            continue
        return text + (f"; an earlier float tensor differs too: {first_float}" if first_float else "")
    if first_float:
        return f"every stored 8-bit tensor matches; a float tensor differs: {first_float}"
    return "every stored intermediate tensor matches; the difference arises in an output"


def _interpreted_tensors(graph: Graph, inputs: dict) -> dict[str, np.ndarray]:
    """Every value as the IR interpreter computes it ({} if the interpreter cannot run it)."""
    try:
        return run_graph(graph, inputs, keep_all=True)
    except VitcError:
        return {}


def read_view(dram: np.ndarray, view: DramView, dtype: str) -> np.ndarray:
    """The tensor a DRAM view addresses, read from a DRAM byte image."""
    offsets = np.zeros(1, np.int64)
    for extent, stride in (sub for axis in view.axes for sub in axis):
        offsets = (offsets[:, None] + np.arange(extent, dtype=np.int64) * stride).ravel()
    offsets = offsets.reshape(view.shape)
    np_dtype = np.dtype(NUMPY_DTYPES[dtype]).newbyteorder("<")
    byte_index = view.addr + offsets[..., None] * view.esize + np.arange(view.esize)
    return dram[byte_index].view(np_dtype).reshape(view.shape).astype(NUMPY_DTYPES[dtype])


def _step(graph: Graph, value: Value) -> float:
    """Size of one quantisation step of `value` (1 for codes and unquantised floats)."""
    if value.type.dtype != "f32":
        return 1.0
    producer = graph.producers().get(value)
    if producer is not None and producer.kind == "dequantize" and producer.operands[0].type.quant.per_tensor:
        return producer.operands[0].type.quant.scale[0]
    return 1.0


def _compare(name: str, got: np.ndarray, expected: np.ndarray, step: float) -> OutputComparison:
    got = np.asarray(got)
    expected = np.asarray(expected).reshape(got.shape)
    if got.dtype.kind == "f":
        same = (got == expected) | (np.isnan(got) & np.isnan(expected))
        diff = np.abs(got.astype(np.float64) - expected.astype(np.float64)) / step
    else:
        same = got == expected
        diff = np.abs(got.astype(np.int64) - expected.astype(np.int64)).astype(np.float64)
    diff = np.where(same, 0.0, diff)
    mismatch = None
    if not same.all():
        index = tuple(int(i) for i in np.argwhere(~same)[0])
        mismatch = (index, got[index].item(), expected[index].item())
    max_diff = float(np.nanmax(diff)) if diff.size else 0.0
    if not math.isfinite(max_diff):
        max_diff = float("inf")
    return OutputComparison(name, int(got.size), int(same.sum()), max_diff, mismatch)
