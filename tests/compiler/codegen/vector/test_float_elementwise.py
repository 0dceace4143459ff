"""Float32 elementwise lowerings against onnxruntime's Add / Sub / Mul / Div / Sqrt / Pow, with
the broadcasts ViT graphs contain: full tiles, a row vector (per column), a column vector (per
row, e.g. x - mean), and a scalar; special values (signed zeros, infinities, NaN, subnormals)."""

import numpy as np
import pytest

from isa.errors import VitcError
from tests.compiler.codegen.vector import onnxruntime_reference as ort_ref
from tests.compiler.codegen.vector.harness import assert_exact, run_lowering
from tests.compiler.codegen.vector.ir_ops import f32, single_op

OPS = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div"}
SHAPES = [((9, 40), (9, 40)), ((9, 40), (40,)), ((3, 3, 40), (3, 3, 1)), ((9, 40), ()), ((40,), (9, 40))]


def _values(rng, shape):
    x = np.asarray(rng.standard_normal(shape) * 3, np.float32)
    flat = x.reshape(-1)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -3e-39, 3.4e38], np.float32)
    flat[:min(flat.size, special.size)] = special[:flat.size]
    return x


# A broadcast first operand is swapped into b for add and mul only (sub/div refuse it, below).
CASES = [(kind, shapes) for kind in OPS for shapes in SHAPES
         if kind in ("add", "mul") or shapes[0] == np.broadcast_shapes(*shapes)]


@pytest.mark.parametrize("kind, shapes", CASES, ids=str)
def test_binary_against_onnxruntime(kind, shapes):
    a_shape, b_shape = shapes
    rng = np.random.default_rng(len(kind) * 13 + len(b_shape))
    a, b = _values(rng, a_shape), _values(rng, b_shape)
    op = single_op(kind, [f32(a_shape), f32(b_shape)])
    got, _ = run_lowering(op, [a, b], max_tile_rows=4)
    assert_exact(f"{kind} {shapes}", got, ort_ref.float_op(OPS[kind], {"a": a, "b": b}, {}))


def test_broadcast_first_operand_of_sub_is_refused():
    op = single_op("sub", [f32((40,)), f32((9, 40))])
    with pytest.raises(VitcError, match=r"op 'sub' %y.*broadcast first operand \(row\)"):
        run_lowering(op, [np.zeros(40, np.float32), np.zeros((9, 40), np.float32)])


def test_sqrt_against_onnxruntime():
    rng = np.random.default_rng(5)
    x = np.abs(_values(rng, (9, 40)))
    x[0, :3] = [-1.0, -0.0, np.inf]
    got, _ = run_lowering(single_op("sqrt", [f32(x.shape)]), [x])
    assert_exact("sqrt", got, ort_ref.float_op("Sqrt", {"x": x}, {}))


@pytest.mark.parametrize("exponent", [2.0, 3.0])
def test_pow_against_onnxruntime(exponent):
    rng = np.random.default_rng(int(exponent))
    x = _values(rng, (9, 40))
    e = np.array(exponent, np.float32)
    op = single_op("pow", [f32(x.shape), f32(())])
    got, _ = run_lowering(op, [x, e], constant_operands={1: e})
    assert_exact(f"pow {exponent}", got, ort_ref.float_op("Pow", {"x": x}, {"e": e}))


def test_pow_needs_a_known_exponent():
    op = single_op("pow", [f32((4, 8)), f32(())])
    with pytest.raises(VitcError, match=r"op 'pow' %y.*constant exponent 2 or 3 only, got 0.5"):
        run_lowering(op, [np.zeros((4, 8), np.float32), np.float32(0.5)], constant_operands={1: np.float32(0.5)})
