"""Type rules against numpy: the inferred shape of each op equals the shape numpy computes.

numpy is the independent reference for shapes: each case builds real arrays, applies the numpy
function the op mirrors, and compares with the op table's inference; quantization moves with
the axes it belongs to.
"""

import numpy as np
import pytest

from compiler.ir.errors import IRError
from compiler.ir.ops import check_op, infer_result_type
from compiler.ir.types import Quant, TensorType

SEEDS = range(40)


def random_shape(rng, rank=None, low=1, high=4):
    rank = int(rng.integers(1, 5)) if rank is None else rank
    return tuple(int(d) for d in rng.integers(low, high + 1, size=rank))


def f32(shape):
    return TensorType("f32", tuple(shape))


@pytest.mark.parametrize("seed", SEEDS)
def test_transpose_squeeze_unsqueeze_shapes(seed):
    rng = np.random.default_rng(seed)
    shape = random_shape(rng, high=3)
    x = np.zeros(shape)
    perm = tuple(int(p) for p in rng.permutation(len(shape)))
    assert infer_result_type("transpose", [f32(shape)], {"perm": perm}).shape == x.transpose(perm).shape
    ones = tuple(i for i, d in enumerate(shape) if d == 1)
    assert infer_result_type("squeeze", [f32(shape)], {"axes": ones}).shape == np.squeeze(x, ones).shape
    axes = tuple(sorted(int(a) for a in rng.choice(len(shape) + 2, size=2, replace=False)))
    assert infer_result_type("unsqueeze", [f32(shape)], {"axes": axes}).shape == np.expand_dims(x, axes).shape


@pytest.mark.parametrize("seed", SEEDS)
def test_gather_slice_concat_shapes(seed):
    rng = np.random.default_rng(seed)
    shape = random_shape(rng, high=5)
    x = np.zeros(shape)
    axis = int(rng.integers(len(shape)))
    indices = rng.integers(0, shape[axis], size=random_shape(rng, rank=int(rng.integers(0, 3))))
    index_type = TensorType("i64", indices.shape)
    got = infer_result_type("gather", [f32(shape), index_type], {"axis": axis}).shape
    assert got == np.take(x, indices, axis=axis).shape
    starts, ends, steps = [], [], []
    for d in shape:
        step = int(rng.choice([1, 2, -1]))
        a, b = sorted(int(v) for v in rng.integers(0, d, size=2))
        starts.append(a if step > 0 else b)
        ends.append(b + 1 if step > 0 else a - 1)
        steps.append(step)
    expected = x
    for i, (s, e, st) in enumerate(zip(starts, ends, steps)):
        expected = np.take(expected, np.arange(s, e, st), axis=i)
    got = infer_result_type("slice", [f32(shape)], {"starts": tuple(starts), "ends": tuple(ends), "steps": tuple(steps)})
    assert got.shape == expected.shape
    other = list(shape)
    other[axis] = int(rng.integers(1, 4))
    got = infer_result_type("concat", [f32(shape), f32(other), f32(shape)], {"axis": axis}).shape
    assert got == np.concatenate([x, np.zeros(other), x], axis=axis).shape


@pytest.mark.parametrize("seed", SEEDS)
def test_matmul_broadcast_reduce_flatten_shapes(seed):
    rng = np.random.default_rng(seed)
    m, k, n = (int(v) for v in rng.integers(1, 5, size=3))
    batch_a = random_shape(rng, rank=int(rng.integers(0, 3)), high=3)
    batch_b = tuple(1 if rng.random() < 0.5 else d for d in batch_a[int(rng.integers(0, len(batch_a) + 1)):])
    a, b = np.zeros(batch_a + (m, k)), np.zeros(batch_b + (k, n))
    got = infer_result_type("matmul", [f32(a.shape), f32(b.shape)], {}).shape
    assert got == np.matmul(a, b).shape
    assert infer_result_type("matmul_int", [TensorType("u8", a.shape), TensorType("i8", b.shape)], {}).shape == got
    row = np.zeros(a.shape[-1:])
    assert infer_result_type("add", [f32(a.shape), f32(row.shape)], {}).shape == (a + row).shape
    axes = tuple(sorted(int(v) for v in rng.choice(a.ndim, size=int(rng.integers(1, a.ndim + 1)), replace=False)))
    for keepdims in (0, 1):
        got = infer_result_type("reduce_mean", [f32(a.shape)], {"axes": axes, "keepdims": keepdims}).shape
        assert got == np.mean(a, axis=axes, keepdims=bool(keepdims)).shape
    axis = int(rng.integers(0, a.ndim + 1))
    got = infer_result_type("flatten", [f32(a.shape)], {"axis": axis}).shape
    assert got == a.reshape(int(np.prod(a.shape[:axis])), -1).shape


def test_per_axis_quant_moves_with_its_axis():
    q = Quant((0.5, 0.25, 0.125), (0, 1, 2), axis=1)
    w = TensorType("i8", (2, 3, 4), q)
    assert infer_result_type("transpose", [w], {"perm": (2, 0, 1)}).quant.axis == 2
    assert infer_result_type("unsqueeze", [w], {"axes": (0,)}).quant.axis == 2
    assert infer_result_type("gather", [w, TensorType("i64", (5, 6))], {"axis": 0}).quant.axis == 2
    assert infer_result_type("slice", [w], {"starts": (0, 0, 1), "ends": (1, 3, 3), "steps": (1, 1, 1)}).quant.axis == 1
    with pytest.raises(IRError, match="gather rearranges the per-axis quantization axis 1"):
        infer_result_type("gather", [w, TensorType("i64", (2,))], {"axis": 1})
    with pytest.raises(IRError, match="slice rearranges the per-axis quantization axis 1"):
        infer_result_type("slice", [w], {"starts": (0, 0, 0), "ends": (2, 2, 4), "steps": (1, 1, 1)})
    # a reshape keeps the axis when the elements before it and its size are unchanged
    check_op("reshape", [w], {}, TensorType("i8", (2, 3, 2, 2), q))
    with pytest.raises(IRError, match="cannot carry the per-axis quantization from axis 1 to axis 1"):
        check_op("reshape", [w], {}, TensorType("i8", (1, 3, 8), q))


def test_qmatmul_per_channel_multiplier():
    a = TensorType("u8", (1, 5, 3), Quant.tensor(0.5, 3))
    b = TensorType("i8", (3, 4), Quant((0.5,) * 4, (0,) * 4, axis=1))
    y = TensorType("u8", (1, 5, 4), Quant.tensor(1.0, 0))
    check_op("qmatmul", [a, b, TensorType("i32", (4,))], {"multiplier": (0.25,) * 4}, y)
    with pytest.raises(IRError, match="expected 4 \\(per output channel\\)"):
        check_op("qmatmul", [a, b], {"multiplier": (0.25,)}, y)
    b0 = TensorType("i8", (3, 4), Quant((0.5,) * 3, (0,) * 3, axis=0))
    with pytest.raises(IRError, match="only along its last axis"):
        check_op("qmatmul", [a, b0], {"multiplier": (0.25,) * 4}, y)
