"""Test helpers: build small IR graphs, compile them, run them on the emulator with hazard
checking, and the numpy meaning of qmatmul written from docs/ir-design.md (not from codegen)."""

from __future__ import annotations

import numpy as np

from compiler.codegen.driver import compile_graph
from compiler.ir.graph import Graph
from compiler.ir.types import Quant, TensorType
from isa.container import write_vitb
from runtime_emulator import run_binary


def f32(x: float) -> float:
    return float(np.float32(x))


def q(scale: float, zero_point: int, axis=None) -> Quant:
    if isinstance(scale, (list, tuple)):
        return Quant(tuple(f32(s) for s in scale), tuple(zero_point), axis)
    return Quant((f32(scale),), (zero_point,))


def run_graph_on_emulator(graph: Graph, config, inputs: dict):
    """Compile `graph`, run it with hazard checking; returns (outputs, RunResult, image)."""
    image = write_vitb(compile_graph(graph, config))
    result = run_binary(image, inputs, config, check_hazards=True)
    return result.outputs, result, image


def qmatmul_reference(a, za, b, zb, bias, multiplier, zy, dtype) -> np.ndarray:
    """`acc = sum (a - za)(b - zb) (+ bias)` exactly, then
    `y = sat(RNE(clamp(f32(f32(acc) * M), qmin - zy, qmax - zy)) + zy)`."""
    acc = (a.astype(np.int64) - za) @ (b.astype(np.int64) - np.asarray(zb, np.int64))
    if bias is not None:
        acc = acc + bias.astype(np.int64)
    acc32 = acc.astype(np.int32).astype(np.float32)
    info = np.iinfo(dtype)
    scaled = np.multiply(acc32, np.asarray(multiplier, np.float32), dtype=np.float32)
    clamped = np.clip(scaled, np.float32(info.min - zy), np.float32(info.max - zy))
    return (np.rint(clamped) + zy).astype(dtype)


def assert_equal_tensors(name: str, got: np.ndarray, expected: np.ndarray) -> None:
    """Per element: the message names the tensor, the first differing index and both values."""
    assert got.shape == expected.shape, f"{name}: shape {got.shape} != expected {expected.shape}"
    differ = np.argwhere(got != expected)
    if differ.size:
        index = tuple(int(i) for i in differ[0])
        raise AssertionError(f"{name}: {len(differ)} of {got.size} elements differ, first at {list(index)}: "
                             f"got {got[index]}, expected {expected[index]}")


def random_codes(rng, shape, dtype) -> np.ndarray:
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, shape).astype(dtype)


def tensor_type(dtype: str, shape, quant=None) -> TensorType:
    return TensorType(dtype, tuple(shape), quant)
