"""The `table` op: a unary function of an 8-bit code, looked up in 256 entries.

The `tabulate` pass builds the table by running the original DQ -> float chain -> Q subgraph (an
`onnx_chain` op) through onnxruntime on all 256 codes, so the look-up is exact by construction;
int8 codes index by their byte (`x & 0xFF`, i.e. -1 reads entry 255).
"""

from __future__ import annotations

import numpy as np


def lookup(x: np.ndarray, table: np.ndarray) -> np.ndarray:
    codes = np.asarray(x)
    index = codes.view(np.uint8) if codes.dtype == np.int8 else codes.astype(np.uint8)
    return np.asarray(table)[index]
