"""Test helper: numpy evaluation of IR ops written from the spec (docs/ir-design.md,
docs/architecture.md), not from vitc's code, for the ops whose meaning is integer, layout or
single-rounding float32 arithmetic. The onnxruntime side is `ort_optimizer.all_tensors`.
"""

from __future__ import annotations

import numpy as np


def _requantize(acc: np.ndarray, multiplier: np.ndarray, t) -> np.ndarray:
    info = np.iinfo(t.np_dtype)
    zy = t.quant.zero_point[0]
    scaled = acc.astype(np.int32).astype(np.float32) * multiplier
    clamped = np.clip(scaled, np.float32(info.min - zy), np.float32(info.max - zy))
    return (np.rint(clamped) + zy).astype(t.np_dtype)


def _centered(value: np.ndarray, t) -> np.ndarray:
    zero = np.asarray(t.quant.zero_point, dtype=np.int64)
    if t.quant.axis is not None:
        shape = [1] * len(t.shape)
        shape[t.quant.axis] = -1
        zero = zero.reshape(shape)
    return value.astype(np.int64) - zero


def _wrapped_int32(acc: np.ndarray) -> np.ndarray:
    """An exact integer as the int32 it wraps to (two's complement)."""
    return ((acc.astype(np.int64) + 2 ** 31) % 2 ** 32 - 2 ** 31).astype(np.int32)


def _matmul_int(op, args):
    a, b = op.operands[0], op.operands[1]
    return _wrapped_int32(_centered(args[0], a.type) @ _centered(args[1], b.type))


def _bias_add(op, args):
    return _wrapped_int32(args[0].astype(np.int64) + args[1].astype(np.int64))


def _qmatmul(op, args):
    acc = _matmul_int(op, args[:2])
    if len(args) == 3:
        acc = _bias_add(op, [acc, args[2]])
    return _requantize(acc, np.asarray(op.attrs["multiplier"], dtype=np.float32), op.result.type)


def _quantize_to(x: np.ndarray, t) -> np.ndarray:
    info = np.iinfo(t.np_dtype)
    zp = t.quant.zero_point[0]
    v = x / np.float32(t.quant.scale[0])
    v = np.clip(v, np.float32(info.min - zp), np.float32(info.max - zp))
    return (np.rint(v) + zp).astype(t.np_dtype)


def _dequantize(value: np.ndarray, t) -> np.ndarray:
    scale = np.asarray(t.quant.scale, dtype=np.float32)
    if t.quant.axis is not None:
        shape = [1] * len(t.shape)
        shape[t.quant.axis] = -1
        scale = scale.reshape(shape)
    return _centered(value, t).astype(np.float32) * scale


def _fma(x, r, t):
    """fma(x, r, t) for 8-bit-sized integer x: exact in float64, then one rounding to float32."""
    return (x.astype(np.float64) * np.float64(r) + np.asarray(t, dtype=np.float64)).astype(np.float32)


def _saturate(v: np.ndarray, t) -> np.ndarray:
    info = np.iinfo(t.np_dtype)
    return np.clip(np.rint(v), info.min, info.max).astype(t.np_dtype)


def _qadd(op, args):
    a, b = (_dequantize(x, v.type) for x, v in zip(args, op.operands))
    if op.attrs["mode"] == "float":
        return _quantize_to(a + b, op.result.type)
    inner = _fma(args[1], op.attrs["rb"], np.float32(op.attrs["fixed"]))
    return _saturate(_fma(args[0], op.attrs["ra"], inner), op.result.type)


def _qmul(op, args):
    if op.attrs["mode"] == "float":
        a, b = (_dequantize(x, v.type) for x, v in zip(args, op.operands))
        return _quantize_to(a * b, op.result.type)
    product = (_centered(args[0], op.operands[0].type) * _centered(args[1], op.operands[1].type)).astype(np.float32)
    zc = np.float32(op.result.type.quant.zero_point[0])
    return _saturate(product * np.float32(op.attrs["multiplier"]) + zc, op.result.type)


def _slice(op, args):
    index = tuple(slice(s, e if e >= 0 else None, st)
                  for s, e, st in zip(op.attrs["starts"], op.attrs["ends"], op.attrs["steps"]))
    return args[0][index]


SPEC_OPS = {
    "qmatmul": _qmatmul,
    "matmul_int": _matmul_int,
    "bias_add": _bias_add,
    "requantize": lambda op, args: _requantize(args[0], np.asarray(op.attrs["multiplier"], dtype=np.float32),
                                               op.result.type),
    "quantize": lambda op, args: _quantize_to(args[0], op.result.type),
    "dequantize": lambda op, args: _dequantize(args[0], op.operands[0].type),
    "qadd": _qadd,
    "qmul": _qmul,
    "table": lambda op, args: op.attrs["table"][args[0].view(np.uint8)],
    "reshape": lambda op, args: args[0].reshape(op.result.type.shape),
    "transpose": lambda op, args: np.transpose(args[0], op.attrs["perm"]),
    "gather": lambda op, args: np.take(args[0], args[1], axis=op.attrs["axis"]),
    "slice": _slice,
    "concat": lambda op, args: np.concatenate(args, axis=op.attrs["axis"]),
    "squeeze": lambda op, args: np.squeeze(args[0], axis=op.attrs["axes"]),
    "unsqueeze": lambda op, args: np.expand_dims(args[0], axis=op.attrs["axes"]),
    "flatten": lambda op, args: args[0].reshape(op.result.type.shape),
}
