"""QLinearSoftmax against onnxruntime: random rows of many lengths, uint8 and int8, QDQ (1/255)
and QOperator (1/256) output scales, a non-last axis, rows with one dominant element (int8
saturation at 127), and pinned rows on which the plausible alternatives are wrong (a float32
quotient, a double `log` in the table shift, a pairwise row sum)."""

import json
import math
import pathlib

import numpy as np
import pytest

from compiler.reference.kernels.qsoftmax import exp_table, output_multiplier, qsoftmax
from tests.compiler.reference.onnxruntime_runner import assert_exact, ms_node, run_nodes

F32 = np.float32
ADVERSARIAL = json.loads((pathlib.Path(__file__).parent / "qsoftmax_adversarial_rows.json").read_text())


def _onnxruntime(x, axis, sx, sy, zy):
    dtype = x.dtype.type
    (y,) = run_nodes([ms_node("QLinearSoftmax", ["x", "sx", "zx", "sy", "zy"], ["y"], axis=axis, opset=13)],
                     {"x": x}, {"y": dtype}, {"sx": F32(sx), "zx": dtype(0), "sy": F32(sy), "zy": dtype(zy)})
    return y


@pytest.mark.parametrize("dtype", [np.uint8, np.int8], ids=["u8", "i8"])
@pytest.mark.parametrize("length", [3, 16, 17, 50, 64, 197])
def test_random_rows(dtype, length):
    rng = np.random.default_rng(length * 2 + (dtype == np.int8))
    info = np.iinfo(dtype)
    for sy, zy in [(1 / 256, info.min), (1 / 255, info.min + int(rng.integers(0, 40))), (float(rng.uniform(1 / 400, 1 / 100)), info.min)]:
        sx = float(rng.uniform(0.01, 0.3))
        x = rng.integers(int(rng.integers(info.min, info.max)), info.max + 1, (3000, length)).astype(dtype)
        x[:300] = info.min
        x[np.arange(300), rng.integers(0, length, 300)] = info.max  # one dominant element per row
        y = _onnxruntime(x, -1, sx, sy, zy)
        assert_exact(f"QLinearSoftmax D={length} sy={sy!r} zy={zy}", qsoftmax(x, -1, sx, sy, zy, dtype), y)


def test_int8_saturates_at_127():
    x = np.full((4, 20), -128, np.int8)
    x[:, 3] = 127
    y = _onnxruntime(x, -1, 0.2, 1 / 256, -128)
    assert (y[:, 3] == 127).all(), "onnxruntime 1.32 saturates (does not wrap to -128)"
    assert_exact("QLinearSoftmax int8 dominant", qsoftmax(x, -1, 0.2, 1 / 256, -128, np.int8), y)


def test_softmax_along_a_middle_axis():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (2, 30, 7)).astype(np.uint8)
    y = _onnxruntime(x, 1, 0.1, 1 / 255, 0)
    assert_exact("QLinearSoftmax axis=1", qsoftmax(x, 1, 0.1, 1 / 255, 0, np.uint8), y)


def test_table_shift_uses_float32_logf():
    """float32(log(q)) (what exp_table uses) equals glibc's logf for every row length 1..5000."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("m")
    if name is None:
        pytest.skip("no C math library to compare with")
    logf = ctypes.CDLL(name).logf
    logf.restype, logf.argtypes = ctypes.c_float, [ctypes.c_float]
    flt_max = np.finfo(F32).max
    for d in range(1, 5001):
        q = float(flt_max / F32(d))
        assert float(F32(math.log(q))) == logf(q), f"row length {d}"


def _alternative(row, sx, sy, zy, dtype, why):
    """What each rejected formula gives for one row."""
    codes = row.astype(np.int32)
    table = exp_table(sx, row.size)
    if why == "double log":
        shift = max(0.0, math.log(float(np.finfo(F32).max / F32(row.size))) - 5.0) / float(F32(sx))
        table = np.array([math.exp((i - 255 + shift) * float(F32(sx))) for i in range(256)]).astype(F32)
    t = table[255 - codes.max() + codes]
    total = t.sum(dtype=F32) if why == "pairwise sum" else np.add.accumulate(t, dtype=F32)[-1]
    ys = output_multiplier(sy)
    quotient = (t * ys).astype(F32) / total if why == "float32 quotient" else t.astype(np.float64) * float(ys) / float(total)
    return np.minimum(np.rint(quotient) + zy, np.iinfo(dtype).max).astype(dtype)


@pytest.mark.parametrize("case", ADVERSARIAL, ids=lambda c: f"{c['why']}-D{len(c['row'])}")
def test_adversarial_rows(case):
    dtype = np.dtype(case["dtype"]).type
    row = np.array(case["row"], dtype)
    sx, sy, zy = case["x_scale"], case["y_scale"], case["y_zero_point"]
    y = _onnxruntime(row[None], -1, sx, sy, zy)[0]
    assert_exact(f"QLinearSoftmax pinned row ({case['why']})", qsoftmax(row, -1, sx, sy, zy, dtype), y)
    assert not np.array_equal(_alternative(row, sx, sy, zy, dtype, case["why"]), y), \
        f"the rejected formula ({case['why']}) should be wrong on this row"
