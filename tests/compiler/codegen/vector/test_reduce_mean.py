"""reduce_mean: onnxruntime 1.32 sums a row with Eigen's vectorized reduction (SSE packets of 4
lanes, two packet accumulators); that recipe is checked here against onnxruntime bit for bit
(for N a multiple of 8 it is `rowsum order=lanes8`; other N peel a prologue that depends on each
row's memory alignment), and the lowering (one `rowsum order=lanes8, div=N`) is run on the
emulator against onnxruntime's ReduceMean, both opsets' forms, keepdims 1 and 0."""

import numpy as np
import pytest
from onnx import helper

from compiler.codegen.vector import vector_lowering
from isa.config import load_config
from isa.errors import VitcError
from tests.compiler.codegen.vector import onnxruntime_reference as ort_ref
from tests.compiler.codegen.vector.harness import assert_exact, run_lowering
from tests.compiler.codegen.vector.ir_ops import f32, single_op

F32 = np.float32
PACKET = 4


def _horizontal(packet: np.ndarray) -> np.ndarray:
    """Eigen's predux of an SSE packet: (l0 + l2) + (l1 + l3)."""
    pair = (packet[:, :2] + packet[:, 2:]).astype(F32)
    return (pair[:, :1] + pair[:, 1:]).astype(F32)


def eigen_row_sums(x: np.ndarray, aligned_start: int = 0) -> np.ndarray:
    """Eigen's sum of each row (LinearVectorizedTraversal, NoUnrolling), float32."""
    n = x.shape[1]
    pairs_end = aligned_start + (n - aligned_start) // (2 * PACKET) * (2 * PACKET)
    packets_end = aligned_start + (n - aligned_start) // PACKET * PACKET
    if packets_end == aligned_start:
        return np.add.accumulate(x, axis=1, dtype=F32)[:, -1:]
    first = x[:, aligned_start:aligned_start + PACKET]
    if packets_end - aligned_start > PACKET:
        second = x[:, aligned_start + PACKET:aligned_start + 2 * PACKET]
        for k in range(aligned_start + 2 * PACKET, pairs_end, 2 * PACKET):
            first = (first + x[:, k:k + PACKET]).astype(F32)
            second = (second + x[:, k + PACKET:k + 2 * PACKET]).astype(F32)
        first = (first + second).astype(F32)
        if packets_end > pairs_end:
            first = (first + x[:, pairs_end:packets_end]).astype(F32)
    total = _horizontal(first)
    for k in list(range(aligned_start)) + list(range(packets_end, n)):
        total = (total + x[:, k:k + 1]).astype(F32)
    return total


@pytest.mark.parametrize("n", [64, 192, 768, 17, 197])
def test_recipe_matches_onnxruntime(n):
    rows = 300
    x = (np.random.default_rng(n).standard_normal((rows, n)) * 3 + 1).astype(F32)
    starts = [-(r * n) % PACKET for r in range(rows)]  # the buffer is 64-byte aligned
    sums = np.concatenate([eigen_row_sums(x[r:r + 1], starts[r]) for r in range(rows)])
    node = helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=1)
    expected = ort_ref.run_nodes([node], {"x": x}, {"axes": np.array([-1], np.int64)}, "y", np.float32, opset=18)
    assert_exact(f"reduce_mean recipe N={n}", (sums / F32(n)).astype(F32), expected)


def _rows(rng, rows, n):
    x = (rng.standard_normal((rows, n)) * 3 + 1).astype(F32)
    x[0] = F32(-0.0)                  # Eigen's accumulators start from -0.0: the mean is -0.0
    x[1] = F32(0.0)
    x[2, ::2], x[2, 1::2] = F32(1e30), F32(-1e30)  # cancellation: the order decides
    x[3] = F32(1e-40)                 # subnormals
    return x


@pytest.mark.parametrize("n", [64, 192, 768, 8])
@pytest.mark.parametrize("opset, keepdims", [(13, 1), (18, 1), (18, 0)])
def test_lowering_against_onnxruntime(n, opset, keepdims):
    rows = 24 if n < 256 else 8
    x = _rows(np.random.default_rng(n), rows, n).reshape(2, rows // 2, n)
    op = single_op("reduce_mean", [f32(x.shape)], axes=(2,), keepdims=keepdims)
    got, instructions = run_lowering(op, [x], max_tile_rows=5)
    if opset >= 18:
        node = helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=keepdims)
        initializers = {"axes": np.array([-1], np.int64)}
    else:
        node = helper.make_node("ReduceMean", ["x"], ["y"], keepdims=keepdims, axes=[-1])
        initializers = {}
    expected = ort_ref.run_nodes([node], {"x": x}, initializers, "y", np.float32, opset=opset)
    assert_exact(f"reduce_mean N={n} opset {opset} keepdims {keepdims}", got, expected)
    assert [i.mnemonic for i in instructions] == ["rowsum"] * -(-rows // 5)


def test_refusals():
    config = load_config("default")
    with pytest.raises(VitcError, match=r"op 'reduce_mean' %y.*rows of 12 elements: only multiples of 8"):
        vector_lowering(single_op("reduce_mean", [f32((4, 12))], axes=(1,), keepdims=1), config)
    with pytest.raises(VitcError, match=r"op 'reduce_mean' %y.*axes \[0\]: only the last axis"):
        vector_lowering(single_op("reduce_mean", [f32((4, 16))], axes=(0,), keepdims=1), config)
