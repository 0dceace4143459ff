"""How types and float32 numbers are spelled in the `.vir` text form (the printer's atoms).

Kept apart from the printer so that the type rules can name types in their error messages in
exactly the text syntax without importing the printer (which imports the op table).
Invariant: `format_f32` returns text that reads back, through the parser, to the same float32.
"""

from __future__ import annotations

import numpy as np

from compiler.ir.types import Quant, TensorType


def format_f32(x: float) -> str:
    """A float32 value as text that reads back (decimal or hex float) to the same float32."""
    f = np.float32(x)
    if np.isnan(f):
        return "nan"
    text = str(f)  # numpy's shortest decimal that identifies this float32
    if np.float32(float(text)).tobytes() == f.tobytes():
        return text
    return float(f).hex()


def format_quant(q: Quant) -> str:
    if q.per_tensor:
        return f"q<{format_f32(q.scale[0])} : {q.zero_point[0]}>"
    scales = ", ".join(format_f32(s) for s in q.scale)
    zeros = ", ".join(str(z) for z in q.zero_point)
    return f"q<axis={q.axis}, [{scales}] : [{zeros}]>"


def format_type(t: TensorType) -> str:
    dims = "".join(f"{d}x" for d in t.shape)
    quant = f", {format_quant(t.quant)}" if t.quant is not None else ""
    return f"tensor<{dims}{t.dtype}{quant}>"
