"""The `onnx_chain` op: an elementwise chain of ONNX nodes on one 8-bit tensor, run by onnxruntime.

The op's `model` attribute is a small ONNX model in onnx's textual syntax (`onnx.printer`),
holding the chain's nodes exactly as they stand in onnxruntime's optimised graph (same kernels,
same dtypes, constants inline). Running it with optimisations disabled runs exactly those
kernels, so `run_chain` is exact by construction. `tabulate` evaluates the chain on all 256
codes laid out in the declared input shape (so vectorised kernels see the same lengths as in the
full model) and refuses a chain that gives one code different results at different positions.

Invariants: the text is parsed and its session built once per distinct text (cached); an input
whose dtype or shape differs from the declared one, or a text onnx cannot parse, is a `VitcError`.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

from isa.errors import VitcError

SESSION_CACHE = 64  # distinct chains kept (a vit-base has 24)


def unoptimized_session(model: onnx.ModelProto) -> ort.InferenceSession:
    """An onnxruntime CPU session that runs `model` exactly as written (ORT_DISABLE_ALL)."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    # cached sessions stay alive: their idle worker threads must sleep, not spin on 2 cores
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # one thread: the chains are elementwise (every element computed alone, so any split of the
    # work gives the same values) and small, and a session per distinct chain starting a
    # thread pool cost more than the threads saved (tabulate on deit-tiny: 24 chains)
    options.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


@functools.lru_cache(maxsize=SESSION_CACHE)
def _session(text: str) -> tuple[ort.InferenceSession, str, np.dtype, tuple[int, ...], np.dtype]:
    """The session of a chain text, its input name, dtype and shape, and its output dtype."""
    try:
        model = onnx.parser.parse_model(text)
    except Exception as err:  # onnx raises its own ParseError type
        raise VitcError(f"the chain's ONNX text does not parse: {str(err).strip().splitlines()[0]}") from None
    if len(model.graph.input) != 1 or len(model.graph.output) != 1:
        raise VitcError(f"the chain's ONNX model has {len(model.graph.input)} inputs and "
                        f"{len(model.graph.output)} outputs; it needs one of each")
    source, output = model.graph.input[0].type.tensor_type, model.graph.output[0].type.tensor_type
    try:
        session = unoptimized_session(model)
    except Exception as err:  # onnxruntime raises its own exception types
        raise VitcError(f"onnxruntime cannot load the chain: {str(err).strip().splitlines()[0]}") from None
    return (session, model.graph.input[0].name, helper.tensor_dtype_to_np_dtype(source.elem_type),
            tuple(d.dim_value for d in source.shape.dim), helper.tensor_dtype_to_np_dtype(output.elem_type))


def chain_signature(text: str) -> tuple[np.dtype, tuple[int, ...], np.dtype]:
    """The chain's declared input dtype and shape, and its output dtype."""
    return _session(text)[2:]


def run_chain(text: str, x: np.ndarray) -> np.ndarray:
    """The chain applied to `x` by onnxruntime (its declared input dtype and shape)."""
    session, name, dtype, shape, _ = _session(text)
    if x.dtype != dtype or x.shape != shape:
        raise VitcError(f"the chain takes {dtype}{list(shape)}, got {x.dtype}{list(x.shape)}")
    (y,) = session.run(None, {name: x})
    if y.shape != shape:
        raise VitcError(f"the elementwise chain changes the shape {list(shape)} -> {list(y.shape)}")
    return y


def tabulate(text: str) -> np.ndarray:
    """The chain on all 256 codes: a 256-entry table of its output dtype, indexed by the byte.

    The codes fill the declared input shape (cyclically when it holds more than 256 elements,
    in several runs when fewer); every code must give one output wherever it sits: within a run
    the codes repeat every 256 positions, so the outputs must too (a shifted comparison, no
    gather), and a code met in an earlier run must give what it gave there."""
    _, _, dtype, shape, out_dtype = _session(text)
    size = math.prod(shape)
    table = np.zeros(256, dtype=out_dtype)
    seen = np.zeros(256, dtype=bool)
    for start in range(0, 256, max(size, 1)):
        codes = np.resize(((np.arange(256) + start) % 256).astype(np.uint8), size)  # cyclic from `start`
        y = run_chain(text, codes.view(dtype).reshape(shape)).ravel()
        head, first = codes[:256], y[:256]  # every code of this run once, at its first position
        again = seen[head]
        table_before = table[head[again]]
        table[head], seen[head] = first, True
        if not np.array_equal(table_before, first[again]) or not np.array_equal(y[256:], y[:-256]):
            raise VitcError("onnxruntime gives one code different results at different positions of the "
                            "chain's input; it is not a table")
    return table
