"""Which operand onnxruntime's binary-op broadcaster treats as a scalar per inner span.

onnxruntime's BroadcastHelper walks the broadcast output in spans along its innermost
non-trivial axis and calls one of three loops: input0 scalar, input1 scalar, or general. The
QLinearAdd kernel is not symmetric in its operands, and for an input0-scalar span onnxruntime
calls it with the operands swapped (established in tests/compiler/reference/test_qadd.py).
"""

from __future__ import annotations


def first_operand_is_span_scalar(a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> bool:
    """True when onnxruntime runs the input0-scalar loop: at the innermost output axis of size
    > 1, `a` has size 1 (is broadcast) and `b` has not. A one-element output counts as input0
    scalar too (onnxruntime tests that case first)."""
    rank = max(len(a_shape), len(b_shape))
    a = (1,) * (rank - len(a_shape)) + tuple(a_shape)
    b = (1,) * (rank - len(b_shape)) + tuple(b_shape)
    for da, db in zip(reversed(a), reversed(b)):
        if max(da, db) == 1:
            continue
        return da == 1 and db != 1
    return True
