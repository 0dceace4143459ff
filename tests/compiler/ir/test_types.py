"""TensorType and Quant: what a valid type is, and the messages for invalid ones."""

import numpy as np
import pytest

from compiler.ir.errors import IRError
from compiler.ir.types import Quant, TensorType
from isa.errors import VitcError


def test_per_tensor_quant_rounds_scale_to_float32():
    q = Quant.tensor(0.1, 3)
    assert q.scale == (float(np.float32(0.1)),)
    assert q.zero_point == (3,) and q.per_tensor


@pytest.mark.parametrize("make, message", [
    (lambda: Quant((0.1,), (0,)), "not a positive finite float32"),           # 0.1 is not float32
    (lambda: Quant((0.5, 0.25), (0, 0)), "per-tensor quantization has one scale"),
    (lambda: Quant((0.5,), (0, 1)), "as many zero points as scales"),
    (lambda: Quant((-0.5,), (0,)), "not a positive finite float32"),
    (lambda: Quant((float("inf"),), (0,)), "not a positive finite float32"),
    (lambda: TensorType("f16", (1,)), "unknown dtype 'f16'"),
    (lambda: TensorType("f32", (2, -1)), "non-negative ints"),
    (lambda: TensorType("f32", (2,), Quant((0.5,), (0,))), "dtype f32 cannot be quantized"),
    (lambda: TensorType("u8", (2,), Quant((0.5,), (-1,))), "zero point -1 does not fit u8 [0, 255]"),
    (lambda: TensorType("i8", (2,), Quant((0.5,), (128,))), "zero point 128 does not fit i8 [-128, 127]"),
    (lambda: TensorType("i8", (2, 3), Quant((0.5, 0.5), (0, 0), axis=1)), "needs 3 scales, got 2"),
    (lambda: TensorType("i8", (2, 3), Quant((0.5, 0.5), (0, 0), axis=2)), "axis 2 is out of range"),
])
def test_invalid_types_raise_vitc_errors(make, message):
    with pytest.raises(IRError, match=message.replace("[", r"\[").replace("]", r"\]")) as info:
        make()
    assert isinstance(info.value, VitcError)


def test_types_are_hashable_and_compare_exactly():
    a = TensorType("u8", (1, 2), Quant.tensor(0.5, 1))
    assert a == TensorType("u8", (1, 2), Quant.tensor(0.5, 1))
    assert a != TensorType("u8", (1, 2), Quant.tensor(0.5, 2))
    assert len({a, TensorType("u8", (1, 2), Quant.tensor(0.5, 1))}) == 1
    assert TensorType("f32", ()).num_elements == 1


def test_of_array():
    t = TensorType.of_array(np.zeros((3, 4), np.int64))
    assert t == TensorType("i64", (3, 4))
    with pytest.raises(IRError, match="float16 has no IR dtype"):
        TensorType.of_array(np.zeros(2, np.float16))
