"""Tensor-by-tensor comparison of the reference interpreter with onnxruntime on one model.

`compare_model(model, inputs, exposure=...)` imports the model (`compiler.frontend`), runs the IR
with `run_graph(..., keep_all=True)` and onnxruntime on the same input, and compares every IR
value that holds an onnxruntime tensor, per element. Two ways to get onnxruntime's tensors:
- `exposure="model"` (the reference): the user's model at onnxruntime's default session options,
  with intermediate tensors added as graph outputs. Adding an output can change which fusions
  onnxruntime applies (a Q output that becomes a graph output blocks the S8->U8 rewrite, a DQ
  output blocks DQ -> op -> Q fusion), so only tensors that survive optimisation unchanged are
  exposed: IR values whose onnxruntime tensor keeps the user's name and is 8-bit. The real
  outputs and the list of kernels onnxruntime runs are then checked to be identical with and
  without the extra outputs; if not, each exposed tensor is tried alone and the ones that change
  anything are dropped (reported in `dropped`).
- `exposure="optimized"`: every tensor of onnxruntime's optimised graph (the one the frontend
  lowers), run with optimisations disabled so exposing cannot change it
  (`compiler.frontend.ort_optimizer.all_tensors`). Covers renamed and float tensors too.
Invariants: comparisons are exact (bit patterns for float32, codes for 8-bit); every mismatch
is reported with the tensor, the first differing element index and both values.
"""

from __future__ import annotations

import pathlib
import tempfile
from dataclasses import dataclass, field

import numpy as np
import onnx
import onnxruntime as ort

from compiler.frontend import ImportedModel, import_model_with_tensors
from compiler.frontend.ort_optimizer import all_tensors
from compiler.ir.pass_manager import PassManager
from compiler.reference.cpu_features import detect
from compiler.reference.interpreter import run_graph
from isa.errors import VitcError

EXPOSURES = ("model", "optimized")


@dataclass(frozen=True)
class TensorComparison:
    """One IR value against one onnxruntime tensor."""

    name: str
    onnx_name: str
    dtype: str
    elements: int
    exact: int
    max_difference: float  # in quantization steps (codes) for integer tensors, absolute for float
    first_mismatch: tuple[tuple[int, ...], object, object] | None  # (index, interpreter, onnxruntime)
    problem: str = ""  # a shape or dtype disagreement; then nothing was compared

    @property
    def is_exact(self) -> bool:
        return not self.problem and self.exact == self.elements

    def describe(self) -> str:
        head = f"%{self.name}" + (f" (onnxruntime '{self.onnx_name}')" if self.onnx_name != self.name else "")
        if self.problem:
            return f"{head}: {self.problem}"
        if self.is_exact:
            return f"{head}: {self.elements} elements, all exact"
        index, mine, theirs = self.first_mismatch
        unit = "steps" if np.dtype(self.dtype).kind in "iu" else "abs"
        return (f"{head}: {self.elements - self.exact} of {self.elements} elements differ "
                f"({(self.elements - self.exact) / self.elements:.3%}), max difference {self.max_difference:g} {unit}; "
                f"first at index {list(index)}: interpreter {mine!r}, onnxruntime {theirs!r}")


@dataclass
class ModelComparison:
    model: str
    exposure: str
    cpu: str
    tensors: list[TensorComparison] = field(default_factory=list)
    outputs: list[TensorComparison] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    @property
    def all_exact(self) -> bool:
        return all(t.is_exact for t in self.tensors + self.outputs)

    @property
    def mismatches(self) -> list[TensorComparison]:
        return [t for t in self.tensors + self.outputs if not t.is_exact]

    def counts(self) -> dict[str, int]:
        compared = self.tensors + self.outputs
        return {"tensors": len(compared), "tensors_exact": sum(t.is_exact for t in compared),
                "elements": sum(t.elements for t in compared), "elements_exact": sum(t.exact for t in compared)}

    def summary(self) -> str:
        """A few lines for a terminal: totals, then every mismatching tensor."""
        c = self.counts()
        lines = [f"{self.model} [{self.exposure}]: {c['tensors_exact']}/{c['tensors']} tensors exact, "
                 f"{c['elements_exact']}/{c['elements']} elements exact"]
        lines += [f"  dropped (exposing it changed onnxruntime's graph): {name}" for name in self.dropped]
        lines += [f"  MISMATCH {t.describe()}" for t in self.mismatches]
        return "\n".join(lines)


def compare_arrays(name: str, onnx_name: str, mine: np.ndarray, theirs: np.ndarray) -> TensorComparison:
    """Element-by-element comparison (float32 by bit pattern, so NaN == NaN and -0 != +0)."""
    mine, theirs = np.asarray(mine), np.asarray(theirs)
    if mine.shape != theirs.shape or mine.dtype != theirs.dtype:
        return TensorComparison(name, onnx_name, str(mine.dtype), mine.size, 0, float("nan"), None,
                                f"interpreter {mine.dtype}{list(mine.shape)} vs onnxruntime "
                                f"{theirs.dtype}{list(theirs.shape)}")
    bits = np.dtype(f"u{mine.dtype.itemsize}") if mine.dtype.kind == "f" else mine.dtype
    differs = mine.view(bits) != theirs.view(bits)
    exact = int(mine.size - np.count_nonzero(differs))
    if not differs.any():
        return TensorComparison(name, onnx_name, str(mine.dtype), mine.size, exact, 0.0, None)
    wide = np.float64 if mine.dtype.kind == "f" else np.int64
    max_difference = float(np.max(np.abs(mine.astype(wide) - theirs.astype(wide))))
    index = tuple(int(i) for i in np.argwhere(differs)[0])
    first = (index, mine[index].item(), theirs[index].item())
    return TensorComparison(name, onnx_name, str(mine.dtype), mine.size, exact, max_difference, first)


def _default_session(model: onnx.ModelProto, optimized_path: pathlib.Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(optimized_path)
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _with_outputs(model: onnx.ModelProto, names: list[str]) -> onnx.ModelProto:
    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    exposed.graph.output.extend(onnx.ValueInfoProto(name=n) for n in names)
    return exposed


def _kernels(path: pathlib.Path) -> list[tuple[str, str]]:
    return [(n.domain, n.op_type) for n in onnx.load(str(path)).graph.node]


class _DefaultRun:
    """onnxruntime at default session options on the user's model, with extra outputs."""

    def __init__(self, model: onnx.ModelProto, inputs: dict, tmp: pathlib.Path):
        self.model, self.inputs, self.tmp = model, inputs, tmp
        self.output_names = [o.name for o in model.graph.output]
        self.sessions = 0
        self.outputs, self.kernels = self.run([])[:2]

    def run(self, extra: list[str]):
        self.sessions += 1
        path = self.tmp / f"optimized-{self.sessions}.onnx"
        session = _default_session(_with_outputs(self.model, extra), path)
        values = session.run(self.output_names + extra, self.inputs)
        outputs = values[:len(self.output_names)]
        return outputs, _kernels(path), dict(zip(extra, values[len(self.output_names):]))

    def unchanged(self, extra: list[str]) -> tuple[bool, dict]:
        outputs, kernels, tensors = self.run(extra)
        same = kernels == self.kernels and all(np.array_equal(a.view(np.uint8), b.view(np.uint8))
                                               for a, b in zip(outputs, self.outputs))
        return same, tensors


def _exposable(model: onnx.ModelProto, imported: ImportedModel, values: dict) -> list[tuple[str, str]]:
    """(IR name, ONNX name) of 8-bit IR values whose onnxruntime tensor keeps the user's name."""
    user_tensors = {name for node in model.graph.node for name in node.output}
    outputs = {o.name for o in model.graph.output}
    pairs = []
    for ir_name, onnx_name in imported.onnx_tensor.items():
        if onnx_name != ir_name or ir_name not in user_tensors or ir_name in outputs:
            continue
        if ir_name in values and values[ir_name].dtype in (np.int8, np.uint8):
            pairs.append((ir_name, onnx_name))
    return pairs


def _exposed_tensors(runner: _DefaultRun, names: list[str], report: ModelComparison) -> dict:
    """The named tensors at default options; any whose exposure changes onnxruntime's kernels
    or outputs is dropped (tried alone once exposing all of them together changed something)."""
    same, tensors = runner.unchanged(names)
    if same:
        return tensors
    tensors = {}
    for name in names:
        alone_same, alone = runner.unchanged([name])
        if alone_same:
            tensors.update(alone)
        else:
            report.dropped.append(name)
    return tensors


def compare_model(model: str | pathlib.Path | onnx.ModelProto, inputs: dict[str, np.ndarray],
                  exposure: str = "model", passes: PassManager | None = None) -> ModelComparison:
    """Compare every IR value of `model` that holds an onnxruntime tensor (see the module doc);
    with `passes`, the IR those passes make of the imported IR (values keep their names)."""
    if exposure not in EXPOSURES:
        raise VitcError(f"unknown exposure '{exposure}' (one of {', '.join(EXPOSURES)})")
    proto = model if isinstance(model, onnx.ModelProto) else onnx.load(str(model))
    label = proto.graph.name if isinstance(model, onnx.ModelProto) else pathlib.Path(model).name
    imported = import_model_with_tensors(proto)
    if passes is not None:
        passes.run(imported.graph)
    values = run_graph(imported.graph, inputs, keep_all=True)
    report = ModelComparison(label, exposure, detect().describe())
    with tempfile.TemporaryDirectory(prefix="vitc-compare-") as tmp:
        runner = _DefaultRun(proto, inputs, pathlib.Path(tmp))
        if exposure == "model":
            pairs = _exposable(proto, imported, values)
            tensors = _exposed_tensors(runner, [onnx_name for _, onnx_name in pairs], report)
        else:
            pairs = [(ir, onnx_name) for ir, onnx_name in imported.onnx_tensor.items() if ir in values]
            tensors = all_tensors(imported.optimized, inputs)
    outputs = runner.outputs
    output_names = {v.name for v in imported.graph.outputs}
    for ir_name, onnx_name in pairs:
        if onnx_name in tensors and ir_name not in output_names:
            report.tensors.append(compare_arrays(ir_name, onnx_name, values[ir_name], tensors[onnx_name]))
    for value, theirs in zip(imported.graph.outputs, outputs):
        report.outputs.append(compare_arrays(value.name, value.name, values[value.name], theirs))
    return report


def summarize(reports: list[ModelComparison]) -> str:
    """One summary block per model, then the totals."""
    totals = {"tensors": 0, "tensors_exact": 0, "elements": 0, "elements_exact": 0}
    for r in reports:
        for k, v in r.counts().items():
            totals[k] += v
    tail = (f"total: {totals['tensors_exact']}/{totals['tensors']} tensors exact, "
            f"{totals['elements_exact']}/{totals['elements']} elements exact")
    cpus = sorted({r.cpu for r in reports})
    return "\n".join(cpus + [r.summary() for r in reports] + [tail])
