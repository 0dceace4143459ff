"""The lowering interface the backend driver relies on: dispatch and its errors, region checks,
row_tile / scratch_rows consistency, instructions free of tokens, determinism, and exactness on
the larger hardware configuration (dim 32)."""

import numpy as np
import pytest

from compiler.codegen.region import Region
from compiler.codegen.vector import vector_lowering
from isa.config import load_config
from isa.errors import VitcError
from isa.table import load_table
from tests.compiler.codegen.vector import onnxruntime_reference as ort_ref
from tests.compiler.codegen.vector.harness import assert_exact, run_lowering
from tests.compiler.codegen.vector.ir_ops import f32, q8, qbinary_op, single_op

CONFIG = load_config("default")


def _expanding_qadd(rows=40, cols=197):
    """qadd (kernel) of a row vector a and a tile b: a is placed as a "broadcast" tile."""
    return qbinary_op("qadd", "qlinear", q8("u8", (cols,), 0.01, 128), q8("u8", (rows, cols), 0.02, 120),
                      q8("u8", (rows, cols), 0.03, 125))


def _softmax(rows=40, cols=197):
    """qsoftmax: its ACC scratch (row max, row sum, the exp tile) grows with the row count."""
    return single_op("qsoftmax", [q8("u8", (rows, cols), 0.01, 0)], q8("u8", (rows, cols), 1 / 256, 0), axis=1)


def test_unsupported_op_names_the_op_and_the_supported_kinds():
    op = single_op("erf", [f32((4, 8))])
    with pytest.raises(VitcError, match=r"op 'erf' %y \(loc 'erf_node'\): no vector-unit lowering for 'erf' "
                                        r"\(supported: add, dequantize, div"):
        vector_lowering(op, CONFIG)


def test_wrong_input_region_is_an_error_naming_the_op():
    lowering = vector_lowering(_expanding_qadd(), CONFIG)
    rows = 4
    scratch = (None, None)
    row = Region.packed("spad", 0, rows, 197)
    wrong = Region.packed("spad", 100, rows, 196)
    with pytest.raises(VitcError, match=r"op 'qadd' %y.*input 1 \(tile\) region .* should be 4 x 197 in spad"):
        lowering.emit(rows, [row, wrong], Region.packed("spad", 2000, rows, 197), scratch, {}, 0)


def test_row_tile_is_the_largest_tile_whose_scratch_fits():
    lowering = vector_lowering(_softmax(rows=500), CONFIG)
    for spad_free, acc_free in ((0, 15), (0, 1000), (5, 333)):
        tile = lowering.row_tile(spad_free, acc_free)
        spad, acc = lowering.scratch_rows(tile)
        assert spad <= spad_free and acc <= acc_free
        spad, acc = lowering.scratch_rows(tile + 1)
        assert spad > spad_free or acc > acc_free
    assert vector_lowering(_softmax(rows=3), CONFIG).row_tile(0, 1000) == 3  # never more than the op's rows


def test_row_tile_when_one_row_does_not_fit():
    with pytest.raises(VitcError, match=r"op 'qsoftmax' %y.*one row needs 0 spad and 15 acc scratch rows, only 0 and 10"):
        vector_lowering(_softmax(), CONFIG).row_tile(0, 10)


def test_instructions_are_vector_unit_without_tokens_and_deterministic():
    op = qbinary_op("qadd", "qlinear", q8("u8", (1,), 0.01, 128), q8("u8", (30, 40), 0.02, 120), q8("u8", (30, 40), 0.03, 125))
    first, second = (run_lowering(op, [np.array([7], np.uint8), np.zeros((30, 40), np.uint8)], max_tile_rows=8)[1]
                     for _ in range(2))
    assert first == second
    table = load_table()
    for instruction in first:
        assert table.by_mnemonic[instruction.mnemonic].unit == "vector"
        assert instruction.fields.get("wait", 0) == 0 and instruction.fields.get("signal", 0) == 0
    table = np.arange(256, dtype=np.uint8)[::-1].copy()
    op = single_op("table", [q8("u8", (4, 8), 0.1, 0)], q8("u8", (4, 8), 0.1, 0), table=table)
    constants = [vector_lowering(op, CONFIG).constants() for _ in range(2)]
    assert constants[0] == constants[1] and constants[0][0].mem == "spad" and constants[0][0].data == table.tobytes()


def test_large_configuration():
    """dim = 32: the same lowerings, other block boundaries (70 columns = 3 blocks)."""
    rng = np.random.default_rng(32)
    a, b = rng.integers(0, 256, (20, 70)).astype(np.uint8), rng.integers(0, 256, (70,)).astype(np.uint8)
    qa, qb, qc = (float(np.float32(0.011)), 120), (float(np.float32(0.007)), 130), (float(np.float32(0.013)), 125)
    op = qbinary_op("qadd", "qlinear", q8("u8", a.shape, *qa), q8("u8", b.shape, *qb), q8("u8", a.shape, *qc))
    got, _ = run_lowering(op, [a, b], "large", max_tile_rows=6)
    assert_exact("qadd on large", got, ort_ref.qlinear_binary("QLinearAdd", a, qa, b, qb, qc, np.uint8))
    op = qbinary_op("qadd", "qlinear", q8("u8", b.shape, *qb), q8("u8", a.shape, *qa), q8("u8", a.shape, *qc))
    got, _ = run_lowering(op, [b, a], "large", max_tile_rows=6)
    assert_exact("qadd (row vector a) on large", got, ort_ref.qlinear_binary("QLinearAdd", b, qb, a, qa, qc, np.uint8))
