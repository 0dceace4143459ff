"""Tensor types of IR values: dtype, static shape and optional quantization.

Invariants kept here (checked when a type is built, so an invalid type never exists):
- `dtype` is one of `DTYPES`; `shape` is a tuple of non-negative Python ints.
- `Quant.scale` holds Python floats that are exactly float32 and positive and finite;
  `Quant.zero_point` holds Python ints; per-tensor quantization (`axis is None`) has one of each,
  per-axis quantization has one per index of `shape[axis]` (checked by `TensorType`).
- Only integer dtypes (`i8`, `u8`, `i32`) carry quantization, and every zero point fits the dtype.
Types are frozen and hashable; equality is exact (float32 scales compared bit for bit).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compiler.ir.errors import IRError

# IR dtype name -> numpy dtype. The order is the order the text form and the docs list them in.
DTYPES: dict[str, np.dtype] = {
    "f32": np.dtype(np.float32),
    "i8": np.dtype(np.int8),
    "u8": np.dtype(np.uint8),
    "i32": np.dtype(np.int32),
    "i64": np.dtype(np.int64),
}
QUANTIZABLE_DTYPES = ("i8", "u8", "i32")


def dtype_of_numpy(dtype: np.dtype) -> str:
    """The IR dtype name of a numpy dtype; raises `IRError` for a dtype the IR has not got."""
    for name, candidate in DTYPES.items():
        if candidate == np.dtype(dtype):
            return name
    raise IRError(f"numpy dtype {np.dtype(dtype)} has no IR dtype (one of {', '.join(DTYPES)})")


def dtype_range(dtype: str) -> tuple[int, int]:
    """The smallest and largest value of an integer IR dtype."""
    info = np.iinfo(DTYPES[dtype])
    return int(info.min), int(info.max)


def is_float32(value: float) -> bool:
    """True when a Python float is exactly representable as float32 (NaN never is accepted)."""
    return float(np.float32(value)) == value


@dataclass(frozen=True)
class Quant:
    """Affine quantization: real = f32(float(q - zero_point) * scale).

    `axis is None`: per-tensor, `scale` and `zero_point` have length 1.
    Otherwise per-axis along `axis` (non-negative), one entry per index of that axis.
    """

    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    axis: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "scale", tuple(float(s) for s in self.scale))
        object.__setattr__(self, "zero_point", tuple(int(z) for z in self.zero_point))
        if not self.scale or len(self.scale) != len(self.zero_point):
            raise IRError(f"quantization needs as many zero points as scales, got {len(self.scale)} "
                          f"scale(s) and {len(self.zero_point)} zero point(s)")
        if self.axis is None and len(self.scale) != 1:
            raise IRError(f"per-tensor quantization has one scale, got {len(self.scale)}; give an axis")
        if self.axis is not None and (not isinstance(self.axis, int) or self.axis < 0):
            raise IRError(f"quantization axis must be a non-negative int, got {self.axis!r}")
        for s in self.scale:
            if not (np.isfinite(s) and s > 0 and is_float32(s)):
                raise IRError(f"quantization scale {s!r} is not a positive finite float32 value")

    @property
    def per_tensor(self) -> bool:
        return self.axis is None

    @classmethod
    def tensor(cls, scale: float, zero_point: int) -> Quant:
        """Per-tensor quantization; `scale` is rounded to float32 first."""
        return cls((float(np.float32(scale)),), (int(zero_point),))

    def with_axis(self, axis: int | None) -> Quant:
        return Quant(self.scale, self.zero_point, axis)


@dataclass(frozen=True)
class TensorType:
    """The type of an IR value: `dtype` (a key of DTYPES), static `shape`, optional `quant`."""

    dtype: str
    shape: tuple[int, ...]
    quant: Quant | None = None

    def __post_init__(self):
        if self.dtype not in DTYPES:
            raise IRError(f"unknown dtype {self.dtype!r} (one of {', '.join(DTYPES)})")
        shape = tuple(self.shape)
        if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise IRError(f"shape {shape!r} must be a tuple of non-negative ints")
        object.__setattr__(self, "shape", tuple(int(d) for d in shape))
        if self.quant is not None:
            self._check_quant()

    def _check_quant(self):
        q = self.quant
        if self.dtype not in QUANTIZABLE_DTYPES:
            raise IRError(f"dtype {self.dtype} cannot be quantized (only {', '.join(QUANTIZABLE_DTYPES)})")
        lo, hi = dtype_range(self.dtype)
        bad = [z for z in q.zero_point if not lo <= z <= hi]
        if bad:
            raise IRError(f"zero point {bad[0]} does not fit {self.dtype} [{lo}, {hi}]")
        if q.axis is None:
            return
        if q.axis >= len(self.shape):
            raise IRError(f"quantization axis {q.axis} is out of range for shape {self.shape}")
        if len(q.scale) != self.shape[q.axis]:
            raise IRError(f"per-axis quantization along axis {q.axis} needs {self.shape[q.axis]} "
                          f"scales, got {len(q.scale)}")

    @property
    def np_dtype(self) -> np.dtype:
        return DTYPES[self.dtype]

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def num_elements(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def with_shape(self, shape: tuple[int, ...], quant: Quant | None = None) -> TensorType:
        """Same dtype, new shape; `quant` defaults to this type's quant (which must then fit)."""
        return TensorType(self.dtype, tuple(shape), self.quant if quant is None else quant)

    @classmethod
    def of_array(cls, array: np.ndarray, quant: Quant | None = None) -> TensorType:
        """The type of a numpy array (its dtype and shape), with optional quantization."""
        return cls(dtype_of_numpy(array.dtype), tuple(array.shape), quant)
