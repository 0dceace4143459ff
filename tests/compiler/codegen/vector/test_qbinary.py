"""qadd / qmul lowerings against onnxruntime: QLinearAdd / QLinearMul (com.microsoft, default
session options) for mode qlinear, and the unfused DQ -> Add/Mul -> Q graph for mode float;
int8 and uint8, tiles, row vectors and scalars on either side, several tiles per op."""

import zlib

import numpy as np
import pytest

from compiler.codegen.vector import vector_lowering
from isa.config import load_config
from isa.errors import VitcError
from tests.compiler.codegen.vector import onnxruntime_reference as ort_ref
from tests.compiler.codegen.vector.harness import assert_exact, run_lowering
from tests.compiler.codegen.vector.ir_ops import q8, qbinary_op

NP = {"u8": np.uint8, "i8": np.int8}
SHAPES = [((30, 40), (30, 40)), ((30, 40), (40,)), ((40,), (30, 40)), ((3, 10, 40), (1, 40)),
          ((30, 40), (1,)), ((1,), (30, 40)), ((2, 197), (2, 197)), ((1,), (1,)), ((1, 1), (1,))]
DTYPES = [("u8", "u8", "u8"), ("i8", "i8", "i8"), ("u8", "i8", "i8"), ("i8", "u8", "u8")]


def _codes(rng, dtype, shape):
    info = np.iinfo(NP[dtype])
    return rng.integers(info.min, info.max + 1, shape).astype(NP[dtype])


def _quant(rng, dtype, scale):
    return float(np.float32(scale)), int(rng.integers(-30, 30)) + (128 if dtype == "u8" else 0)


# onnxruntime's QLinear kernels take one 8-bit type; the float path mixes them.
CASES = [(kind, mode, dtypes) for kind in ("qadd", "qmul") for mode in ("qlinear", "float") for dtypes in DTYPES
         if mode == "float" or len(set(dtypes)) == 1]


@pytest.mark.parametrize("kind, mode, dtypes", CASES, ids=lambda v: v if isinstance(v, str) else "-".join(v))
@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_against_onnxruntime(kind, mode, dtypes, shapes):
    rng = np.random.default_rng(zlib.crc32(repr((kind, mode, dtypes, shapes)).encode()))
    a_shape, b_shape = shapes
    out_shape = np.broadcast_shapes(a_shape, b_shape)
    a, b = _codes(rng, dtypes[0], a_shape), _codes(rng, dtypes[1], b_shape)
    qa, qb = _quant(rng, dtypes[0], 0.011), _quant(rng, dtypes[1], 0.0071)
    qc = _quant(rng, dtypes[2], 0.013 if kind == "qadd" else 0.031)
    op = qbinary_op(kind, mode, q8(dtypes[0], a_shape, *qa), q8(dtypes[1], b_shape, *qb), q8(dtypes[2], out_shape, *qc))
    got, _ = run_lowering(op, [a, b], max_tile_rows=7)
    onnx_op = {"qadd": "QLinearAdd", "qmul": "QLinearMul"}[kind]
    if mode == "qlinear":
        expected = ort_ref.qlinear_binary(onnx_op, a, qa, b, qb, qc, NP[dtypes[2]])
    else:
        expected = ort_ref.float_path_binary(onnx_op[len("QLinear"):], a, qa, b, qb, qc, NP[dtypes[2]])
    assert_exact(f"{kind} {mode} {dtypes} {shapes}", got, expected)


@pytest.mark.parametrize("kind", ["qadd", "qmul"])
def test_saturation_at_both_ends(kind):
    """Extreme codes with a small output scale: every result saturates, in both directions."""
    a = np.array([[0, 255, 0, 255] * 8] * 4, np.uint8)
    b = np.array([[0, 255, 255, 0] * 8] * 4, np.uint8)
    qa, qb, qc = (0.5, 128), (0.5, 128), (0.001, 128)
    op = qbinary_op(kind, "qlinear", q8("u8", a.shape, *qa), q8("u8", b.shape, *qb), q8("u8", a.shape, *qc))
    got, _ = run_lowering(op, [a, b])
    onnx_op = {"qadd": "QLinearAdd", "qmul": "QLinearMul"}[kind]
    assert_exact(kind, got, ort_ref.qlinear_binary(onnx_op, a, qa, b, qb, qc, np.uint8))
    assert set(np.unique(got)) <= {0, 255}


def test_column_broadcast_is_refused():
    op = qbinary_op("qadd", "float", q8("u8", (4, 8), 0.1, 128), q8("u8", (4, 1), 0.1, 128), q8("u8", (4, 8), 0.1, 128))
    with pytest.raises(VitcError, match=r"qadd.*%x1 \[4, 1\] is not a tile, a row vector or a scalar"):
        run_lowering(op, [np.zeros((4, 8), np.uint8), np.zeros((4, 1), np.uint8)])


def test_row_vector_a_of_qlinear_qadd_is_a_broadcast_tile_not_swapped():
    """onnxruntime's kernel is not symmetric in a and b, so a broadcast a is a full tile of copies of
    the row ("broadcast": the caller loads it once with a stride-0 DMA), never swapped into b."""
    rng = np.random.default_rng(9)
    a, b = rng.integers(0, 256, 40).astype(np.uint8), rng.integers(0, 256, (9, 40)).astype(np.uint8)
    qa, qb, qc = (float(np.float32(0.011)), 120), (float(np.float32(0.007)), 130), (float(np.float32(0.013)), 125)
    op = qbinary_op("qadd", "qlinear", q8("u8", (40,), *qa), q8("u8", (9, 40), *qb), q8("u8", (9, 40), *qc))
    assert vector_lowering(op, load_config("default")).operand_kinds == ("broadcast", "tile")
    got, instructions = run_lowering(op, [a, b], max_tile_rows=4)
    assert [i.mnemonic for i in instructions] == ["qadd"] * 3  # no copies, one instruction per tile
    assert instructions[-1].fields["bbc"] == 0
    assert_exact("qadd of a broadcast row vector a", got, ort_ref.qlinear_binary("QLinearAdd", a, qa, b, qb, qc, np.uint8))


@pytest.mark.parametrize("scales", [(3.0, 0.01, 0.01), (1e-6, 0.01, 0.01), (0.01, 0.01, 1e-4), (0.5, 1e-7, 0.02),
                                    (300.0, 0.2, 1.0)], ids=str)
@pytest.mark.parametrize("dtype", ["u8", "i8"])
def test_extreme_scale_ratios(scales, dtype):
    """Scale ratios far outside 2^-14 .. 2^8 (where some MLAS kernels switch algorithm)."""
    rng = np.random.default_rng(len(str(scales)))
    a, b = _codes(rng, dtype, (64, 64)), _codes(rng, dtype, (64, 64))
    zero = 128 if dtype == "u8" else 0
    qa, qb, qc = ((float(np.float32(s)), zero + z) for s, z in zip(scales, (3, -5, 1)))
    for kind, onnx_op in (("qadd", "QLinearAdd"), ("qmul", "QLinearMul")):
        op = qbinary_op(kind, "qlinear", q8(dtype, a.shape, *qa), q8(dtype, b.shape, *qb), q8(dtype, a.shape, *qc))
        got, _ = run_lowering(op, [a, b])
        assert_exact(f"{kind} {dtype} scales {scales}", got, ort_ref.qlinear_binary(onnx_op, a, qa, b, qb, qc, NP[dtype]))


@pytest.mark.parametrize("kind, mode, dtypes", CASES,
                         ids=lambda v: v if isinstance(v, str) else "-".join(v))
def test_every_code_pair(kind, mode, dtypes):
    """All 65536 (a, b) code pairs at once: rare rounding cases cannot hide."""
    rng = np.random.default_rng(zlib.crc32(repr((kind, mode, dtypes)).encode()))
    lows = [np.iinfo(NP[d]).min for d in dtypes[:2]]
    a, b = ((np.indices((256, 256))[k] + lows[k]).astype(NP[dtypes[k]]) for k in (0, 1))
    qa, qb = _quant(rng, dtypes[0], 0.011), _quant(rng, dtypes[1], 0.0071)
    qc = _quant(rng, dtypes[2], 0.013 if kind == "qadd" else 0.031)
    op = qbinary_op(kind, mode, q8(dtypes[0], a.shape, *qa), q8(dtypes[1], b.shape, *qb), q8(dtypes[2], a.shape, *qc))
    got, _ = run_lowering(op, [a, b])
    onnx_op = {"qadd": "QLinearAdd", "qmul": "QLinearMul"}[kind]
    if mode == "qlinear":
        expected = ort_ref.qlinear_binary(onnx_op, a, qa, b, qb, qc, NP[dtypes[2]])
    else:
        expected = ort_ref.float_path_binary(onnx_op[len("QLinear"):], a, qa, b, qb, qc, NP[dtypes[2]])
    assert_exact(f"{kind} {mode} {dtypes} every code pair", got, expected)


def test_one_element_qadd_runs_swapped_like_onnxruntime():
    """A one-element QLinearAdd takes onnxruntime's input0-scalar loop (operands swapped); these
    codes and parameters (found by search) give a different code in the unswapped order."""
    qa, qb, qc = (0.010502714663743973, 144), (0.00837975274771452, 121), (0.009113812819123268, 122)
    a, b = np.array([173], np.uint8), np.array([120], np.uint8)
    op = qbinary_op("qadd", "qlinear", q8("u8", (1,), *qa), q8("u8", (1,), *qb), q8("u8", (1,), *qc))
    got, _ = run_lowering(op, [a, b])
    expected = ort_ref.qlinear_binary("QLinearAdd", a, qa, b, qb, qc, np.uint8)
    assert_exact("one-element qadd", got, expected)
    assert expected[0] == 155
