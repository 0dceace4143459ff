"""QLinearAdd against onnxruntime: every code pair for random and pinned parameter sets (the
pinned ones are where the FMA-contracted `fixed` and the uncontracted one disagree), every
broadcasting pattern (including the ones where onnxruntime swaps the operands), and the float
DQ -> Add -> Q path."""

import zlib

import numpy as np
import pytest
from onnx import helper

from compiler.reference.kernels.fp32 import fma
from compiler.reference.kernels.qadd import fixed_term, float_path_add, qlinear_add
from tests.compiler.reference.onnxruntime_runner import all_code_pairs, assert_exact, count_differences, ms_node, run_nodes

F32 = np.float32
INPUTS = ["a", "sa", "za", "b", "sb", "zb", "sc", "zc"]

# (dtype, sa, sb, sc, za, zb, zc): the uncontracted fixed = zc - (ra*za + rb*zb) is wrong here
PINNED = [
    (np.uint8, 0.06286776810884476, 0.10110516101121902, 0.17064477503299713, 145, 247, 239),
    (np.uint8, 0.11170957237482071, 0.11468134820461273, 0.13494350016117096, 174, 119, 82),
    (np.int8, 0.04650800675153732, 0.1454465240240097, 0.06388770788908005, -97, -38, -98),
    (np.int8, 0.14953619241714478, 0.14196133613586426, 0.07984691113233566, -61, -88, 1),
]


def _constants(sa, za, sb, zb, sc, zc):
    ra, rb = F32(F32(sa) / F32(sc)), F32(F32(sb) / F32(sc))
    return ra, rb, fixed_term(ra, za, rb, zb, zc)


def _onnxruntime(a, b, dtype, sa, sb, sc, za, zb, zc):
    (y,) = run_nodes([ms_node("QLinearAdd", INPUTS, ["y"])], {"a": a, "b": b}, {"y": dtype},
                     {"sa": F32(sa), "za": dtype(za), "sb": F32(sb), "zb": dtype(zb), "sc": F32(sc), "zc": dtype(zc)})
    return y


def _random_params(rng, dtype):
    info = np.iinfo(dtype)
    sa, sb, sc = rng.uniform(0.005, 0.2, 3).astype(F32)
    return (float(sa), float(sb), float(sc)) + tuple(int(rng.integers(info.min, info.max + 1)) for _ in range(3))


@pytest.mark.parametrize("dtype", [np.uint8, np.int8], ids=["u8", "i8"])
def test_every_code_pair(dtype):
    rng = np.random.default_rng(7 + (dtype == np.int8))
    a, b = all_code_pairs(dtype)
    params = [_random_params(rng, dtype) for _ in range(6)] + [p[1:] for p in PINNED if p[0] == dtype]
    uncontracted_wrong = 0
    for sa, sb, sc, za, zb, zc in params:
        y = _onnxruntime(a, b, dtype, sa, sb, sc, za, zb, zc)
        ra, rb, fixed = _constants(sa, za, sb, zb, sc, zc)
        assert_exact(f"QLinearAdd {sa, sb, sc, za, zb, zc}", qlinear_add(a, b, ra, rb, fixed, (za, zb, zc), dtype), y)
        plain = F32(F32(zc) - F32(F32(ra * F32(za)) + F32(rb * F32(zb))))
        uncontracted_wrong += count_differences(qlinear_add(a, b, ra, rb, plain, (za, zb, zc), dtype), y)
    assert uncontracted_wrong > 0, "the pinned sets must show the uncontracted fixed is wrong"


SHAPES = [((64, 300), (1,)), ((1,), (64, 300)), ((64, 300), (300,)), ((300,), (64, 300)),
          ((64, 300), (64, 1)), ((64, 1), (64, 300)), ((64, 1, 7), (1, 300, 7)), ((1,), (1,)), ((4, 1), (1, 1))]


@pytest.mark.parametrize("dtype", [np.uint8, np.int8], ids=["u8", "i8"])
@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_broadcasting(dtype, shapes):
    rng = np.random.default_rng(zlib.crc32(repr((shapes, np.dtype(dtype).name)).encode()))
    info = np.iinfo(dtype)
    for _ in range(8):
        sa, sb, sc, za, zb, zc = _random_params(rng, dtype)
        a = rng.integers(info.min, info.max + 1, shapes[0]).astype(dtype)
        b = rng.integers(info.min, info.max + 1, shapes[1]).astype(dtype)
        y = _onnxruntime(a, b, dtype, sa, sb, sc, za, zb, zc)
        ra, rb, fixed = _constants(sa, za, sb, zb, sc, zc)
        assert_exact(f"QLinearAdd {shapes}", qlinear_add(a, b, ra, rb, fixed, (za, zb, zc), dtype), y)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8], ids=["u8", "i8"])
def test_input0_scalar_spans_swap_the_operands(dtype):
    """a of shape (N, 1) against b (N, 300): the unswapped nesting is wrong somewhere."""
    rng = np.random.default_rng(21 + (dtype == np.int8))
    info = np.iinfo(dtype)
    unswapped_wrong = 0
    for _ in range(16):
        sa, sb, sc, za, zb, zc = _random_params(rng, dtype)
        a = rng.integers(info.min, info.max + 1, (2048, 1)).astype(dtype)
        b = rng.integers(info.min, info.max + 1, (2048, 300)).astype(dtype)
        y = _onnxruntime(a, b, dtype, sa, sb, sc, za, zb, zc)
        ra, rb, fixed = _constants(sa, za, sb, zb, sc, zc)
        assert_exact("QLinearAdd (N,1)+(N,300)", qlinear_add(a, b, ra, rb, fixed, (za, zb, zc), dtype), y)
        unswapped = np.clip(np.rint(fma(a.astype(F32), ra, fma(b.astype(F32), rb, fixed))), info.min, info.max)
        unswapped_wrong += count_differences(unswapped.astype(dtype), y)
    assert unswapped_wrong > 0, "for input0-scalar spans the unswapped nesting must be wrong (test power)"


@pytest.mark.parametrize("a_type, b_type, c_type", [(np.uint8, np.int8, np.int8), (np.int8, np.int8, np.uint8),
                                                    (np.uint8, np.uint8, np.uint8)])
def test_float_path(a_type, b_type, c_type):
    """DQ -> Add -> Q run exactly as written (what onnxruntime runs when it cannot fuse)."""
    rng = np.random.default_rng(4)
    a = rng.integers(np.iinfo(a_type).min, np.iinfo(a_type).max + 1, (50, 64)).astype(a_type)
    b = rng.integers(np.iinfo(b_type).min, np.iinfo(b_type).max + 1, (64,)).astype(b_type)
    qa, qb, qc = (F32(0.031), a_type(3)), (F32(0.017), b_type(-2 if b_type == np.int8 else 120)), (F32(0.04), c_type(5))
    nodes = [helper.make_node("DequantizeLinear", ["a", "sa", "za"], ["da"]),
             helper.make_node("DequantizeLinear", ["b", "sb", "zb"], ["db"]),
             helper.make_node("Add", ["da", "db"], ["s"]),
             helper.make_node("QuantizeLinear", ["s", "sc", "zc"], ["y"])]
    (y,) = run_nodes(nodes, {"a": a, "b": b}, {"y": c_type},
                     {"sa": qa[0], "za": qa[1], "sb": qb[0], "zb": qb[1], "sc": qc[0], "zc": qc[1]}, optimize=False)
    mine = float_path_add(a, (qa[0], int(qa[1])), b, (qb[0], int(qb[1])), (qc[0], int(qc[1])), c_type)
    assert_exact("DQ -> Add -> Q", mine, y)
