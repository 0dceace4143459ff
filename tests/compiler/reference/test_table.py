"""The `table` look-up: uint8 codes index directly, int8 codes by their byte (-1 -> entry 255)."""

import numpy as np

from compiler.reference.kernels.table import lookup


def test_uint8_and_int8_indexing():
    table = np.arange(256, dtype=np.int64).astype(np.uint8)[::-1].copy()  # entry i holds 255 - i
    assert lookup(np.array([0, 1, 255], np.uint8), table).tolist() == [255, 254, 0]
    assert lookup(np.array([-128, -1, 0, 127], np.int8), table).tolist() == [127, 0, 255, 128]
