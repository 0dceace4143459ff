"""rowsum's summation orders (`seq`, `lanes8`, `f64x4`, `lanes16`), squares and divisor:
- against a scalar oracle written from the table text (exact rounding by `exact_float`), every
  order with and without squares, on row lengths with and without tails;
- against the reference interpreter's onnxruntime-exact kernels: ReduceMean's mean is one
  `rowsum order=lanes8, div=N`; LayerNorm's mean one `rowsum order=f64x4, div=N`, its
  `f32(var / N)` one `rowsum order=lanes8, sq=1, div=N` after one `valu sub` (rows of 64, 192,
  768 and with tails, random and adversarial data);
- against onnxruntime itself for the sign of an all -0.0 row.
Programs are assembly text run with hazard checking (tests/runtime_emulator/assembly.py).
"""

import itertools
from fractions import Fraction

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from compiler.reference.kernels.layernorm import _centred_sum_of_squares, _mean
from compiler.reference.kernels.reduce import reduce_mean_last_axis
from tests.runtime_emulator.assembly import ACC_WORD, run_assembly
from tests.runtime_emulator.exact_float import exact_add, exact_fma, round_to_f32
from tests.runtime_emulator.float_rows import rows_for
from tests.runtime_emulator.harness import assert_equal

F32 = np.float32
DIM = 16  # the default configuration's lanes


def rowsum_program(rows: int, cols: int, order: str, sq: int, div) -> str:
    """Load x (rows x cols) into ACC, one rowsum, store the column vector."""
    blocks = -(-cols // DIM)
    dst = blocks * rows
    return f"""
dma.load mem=acc, addr=0, rows={rows}, cols={cols}, bs={rows}, dram={{x}}, dram_stride={cols * ACC_WORD}, signal=vector
rowsum src=0, dst={dst}, rows={rows}, cols={cols}, src_bs={rows}, sq={sq}, order={order}, div={float(div)!r}, wait=load, signal=store
dma.store mem=acc, addr={dst}, rows={rows}, cols=1, bs={rows}, dram={{s}}, dram_stride={ACC_WORD}, wait=vector
"""


def run_rowsum(x: np.ndarray, order: str, sq: int = 0, div=1.0) -> np.ndarray:
    rows, cols = x.shape
    result = run_assembly(rowsum_program(rows, cols, order, sq, div), {"x": x}, {"s": ("float32", (rows, 1))})
    return result.outputs["s"][:, 0]


# --- the scalar oracle, one line of the table's text per step -----------------------------------

def f32_add(s, v):
    return exact_add(s, v)


def f32_square(v):
    return exact_fma(v, v, F32(-0.0))  # x*x rounded once (adding -0.0 is exact)


def f32_divide(s, div):
    if s == 0 or not np.isfinite(s):
        return F32(s / F32(div))
    return round_to_f32(Fraction(float(s)) / Fraction(float(div)))


def oracle_seq(row, sq, div):
    s = F32(0.0)
    for v in row:
        s = f32_add(s, f32_square(v) if sq else v)
    return f32_divide(s, div)


def oracle_lanes8(row, sq, div):
    cols = len(row)
    full = cols // 8 * 8
    acc = [F32(-0.0)] * 8
    for c in range(full):
        acc[c % 8] = exact_fma(row[c], row[c], acc[c % 8]) if sq else f32_add(acc[c % 8], row[c])
    a = acc
    s = f32_add(f32_add(f32_add(a[0], a[4]), f32_add(a[2], a[6])), f32_add(f32_add(a[1], a[5]), f32_add(a[3], a[7])))
    tail = cols - full
    for j, v in enumerate(row[full:]):
        if not sq:
            s = f32_add(s, v)
        elif tail >= 4 and j < 4:
            s = f32_add(s, f32_square(v))
        else:
            s = exact_fma(v, v, s)
    return f32_divide(s, div)


def oracle_f64x4(row, sq, div):
    """float64 steps, each rounded once: Python floats are IEEE doubles."""
    values = [float(v) * float(v) if sq else float(v) for v in row]
    full = len(row) // 4 * 4
    acc = [0.0] * 4
    for c in range(full):
        acc[c % 4] = acc[c % 4] + values[c]
    s = (acc[0] + acc[2]) + (acc[1] + acc[3])
    for v in values[full:]:
        s = s + v
    return F32(s / float(F32(div)))  # one rounding from float64 to float32


def oracle_lanes16(row, sq, div):
    acc = [F32(0.0)] * 16
    for c, v in enumerate(row):
        acc[c % 16] = exact_fma(v, v, acc[c % 16]) if sq else f32_add(acc[c % 16], v)
    a = [f32_add(acc[i + 8], acc[i]) for i in range(8)]
    s = f32_add(f32_add(f32_add(a[0], a[1]), f32_add(a[2], a[3])), f32_add(f32_add(a[4], a[5]), f32_add(a[6], a[7])))
    return f32_divide(s, div)


ORACLES = {"seq": oracle_seq, "lanes8": oracle_lanes8, "f64x4": oracle_f64x4, "lanes16": oracle_lanes16}


def mixed_magnitudes(rng, rows, cols):
    """Values over ten decades with both signs: every summation order gives different bits."""
    return (rng.standard_normal((rows, cols)) * 10.0 ** rng.integers(-4, 6, (rows, cols))).astype(F32)


@pytest.mark.parametrize("cols", [1, 5, 8, 12, 13, 16, 17, 40, 100])
@pytest.mark.parametrize("sq", [0, 1])
@pytest.mark.parametrize("order", list(ORACLES))
def test_rowsum_matches_the_table_text(order, sq, cols):
    rng = np.random.default_rng([list(ORACLES).index(order), sq, cols])
    x = mixed_magnitudes(rng, 5, cols)
    x[4] = -0.0  # all negative zeros: the sign of the sum shows each order's starting value
    div = F32(3.0) if cols % 2 else F32(cols)
    expected = np.array([ORACLES[order](row, sq, div) for row in x], F32)
    assert_equal(f"rowsum order={order} sq={sq} cols={cols}", run_rowsum(x, order, sq, div), expected)


def test_orders_differ_on_the_test_data():
    """The table-text test can fail: on its data every two orders give different sums."""
    x = mixed_magnitudes(np.random.default_rng(5), 6, 100)
    sums = {order: np.array([ORACLES[order](row, 0, F32(1)) for row in x], F32) for order in ORACLES}
    for first, second in itertools.combinations(ORACLES, 2):
        assert not np.array_equal(sums[first], sums[second]), (first, second)


# --- against the reference interpreter's kernels (themselves tested against onnxruntime) --------

@pytest.mark.parametrize("n", [64, 192, 768])
def test_reduce_mean_is_one_rowsum(n):
    x = rows_for(n, 8 if n < 768 else 1, n)
    with np.errstate(all="ignore"):  # near-overflow rows: inf is a value here
        expected = reduce_mean_last_axis(x)[:, 0]
    got = run_rowsum(x, "lanes8", 0, F32(n))
    assert_equal(f"ReduceMean over {n}", got, expected)
    assert not np.array_equal(run_rowsum(x, "seq", 0, F32(n)), expected), "data too easy: seq gives the same"


LAYERNORM_STATS = """
dma.load mem=acc, addr=0, rows={rows}, cols={n}, bs={rows}, dram={{x}}, dram_stride={stride}, signal=vector
rowsum src=0, dst={mean}, rows={rows}, cols={n}, src_bs={rows}, order=f64x4, div={n}.0, wait=load
valu op=sub, ty=f32, bmode=row, a=0, b={mean}, dst={d}, rows={rows}, cols={n}, a_bs={rows}, dst_bs={rows}
rowsum src={d}, dst={var}, rows={rows}, cols={n}, src_bs={rows}, sq=1, order=lanes8, div={n}.0, signal=store
dma.store mem=acc, addr={mean}, rows={rows}, cols=1, bs={rows}, dram={{mean}}, dram_stride=4, wait=vector
dma.store mem=acc, addr={var}, rows={rows}, cols=1, bs={rows}, dram={{var}}, dram_stride=4
"""


@pytest.mark.parametrize("n", [64, 192, 768, 13, 50, 100])
def test_layernorm_mean_and_variance_are_one_rowsum_each(n):
    x = rows_for(n, 8 if n < 768 else 1, 1000 + n)
    rows = len(x)
    block_rows = -(-n // DIM) * rows
    body = LAYERNORM_STATS.format(rows=rows, n=n, stride=n * ACC_WORD, mean=block_rows, var=block_rows + rows,
                                  d=block_rows + 2 * rows)
    result = run_assembly(body, {"x": x}, {"mean": ("float32", (rows, 1)), "var": ("float32", (rows, 1))})
    with np.errstate(all="ignore"):  # near-overflow rows: inf is a value here
        mean = _mean(x)
        variance = (_centred_sum_of_squares((x - mean).astype(F32)) / F32(n)).astype(F32)
    assert_equal(f"LayerNorm mean over {n}", result.outputs["mean"], mean)
    assert_equal(f"LayerNorm f32(var / N) over {n}", result.outputs["var"], variance)
    float32_mean = np.add.accumulate(x, axis=1, dtype=F32)[:, -1:] / F32(n)
    assert not np.array_equal(float32_mean, mean), "data too easy: a float32 sequential mean gives the same"


# --- onnxruntime itself: the sign of an all -0.0 row ---------------------------------------------

def onnxruntime_outputs(node, inputs: dict, outputs: list, initializers=()) -> list:
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info(k, TensorProto.FLOAT, v.shape) for k, v in inputs.items()],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs], list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, inputs)


def test_negative_zero_rows_match_onnxruntime():
    x = np.full((2, 16), -0.0, F32)
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    reduce_mean = onnxruntime_outputs(helper.make_node("ReduceMean", ["x", "axes"], ["y"]), {"x": x}, ["y"], [axes])[0]
    ones, zeros = np.ones(16, F32), np.zeros(16, F32)
    node = helper.make_node("LayerNormalization", ["x", "g", "b"], ["y", "mean", "inv"], axis=-1)
    layernorm_mean = onnxruntime_outputs(node, {"x": x, "g": ones, "b": zeros}, ["y", "mean", "inv"])[1]
    assert_equal("ReduceMean of -0.0 rows", run_rowsum(x, "lanes8", 0, F32(16))[:, None], reduce_mean.reshape(2, 1))
    assert_equal("LayerNorm mean of -0.0 rows", run_rowsum(x, "f64x4", 0, F32(16))[:, None], layernorm_mean.reshape(2, 1))
    assert np.signbit(reduce_mean).all() and not np.signbit(layernorm_mean).any()
