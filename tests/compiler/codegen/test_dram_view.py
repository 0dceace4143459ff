"""DRAM views against numpy: every layout op as addressing must select exactly the elements
numpy's reshape/transpose/take/slicing/broadcasting select, read back through the view from a
byte image (`read_view`)."""

import numpy as np
from hypothesis import given, settings, strategies as st

from compiler.codegen.dram_view import DramView
from compiler.codegen.verification import read_view
from tests.compiler.codegen.programs import assert_equal_tensors


def _image(shape, offset=0):
    data = np.arange(np.prod(shape), dtype=np.int32)
    dram = np.zeros(offset + data.nbytes, np.uint8)
    dram[offset:] = data.view(np.uint8)
    return dram, data.reshape(shape), DramView.contiguous(offset, shape, 4)


def test_patch_embedding_chain_keeps_sub_axes():
    dram, x, v = _image((1, 3, 32, 32), offset=64)
    view = v.reshape((1, 3, 4, 8, 4, 8)).transpose((0, 2, 4, 1, 3, 5)).reshape((16, 192))
    assert view.axes[1] == ((3, 1024), (8, 32), (8, 1))
    assert_equal_tensors("patches", read_view(dram, view, "i32"),
                         x.reshape(1, 3, 4, 8, 4, 8).transpose(0, 2, 4, 1, 3, 5).reshape(16, 192))


def test_attention_views():
    dram, x, v = _image((1, 17, 64))
    kt = v.reshape((1, 17, 4, 16)).transpose((0, 2, 3, 1))
    assert_equal_tensors("K^T", read_view(dram, kt, "i32"), x.reshape(1, 17, 4, 16).transpose(0, 2, 3, 1))
    merged = DramView.contiguous(0, (1, 4, 17, 16), 4).transpose((0, 2, 1, 3)).reshape((1, 17, 64))
    assert merged.axes[2] == ((4, 272), (16, 1))
    assert_equal_tensors("merged heads", read_view(dram, merged, "i32"),
                         x.reshape(1, 4, 17, 16).transpose(0, 2, 1, 3).reshape(1, 17, 64))


def test_select_narrow_broadcast():
    dram, x, v = _image((2, 17, 64))
    assert_equal_tensors("gather", read_view(dram, v.select(1, 0), "i32"), x[:, 0])
    assert_equal_tensors("slice", read_view(dram, v.narrow(1, 1, 16), "i32"), x[:, 1:17])
    assert_equal_tensors("strided slice", read_view(dram, v.narrow(2, 3, 20, 3), "i32"), x[:, :, 3:63:3])
    row = DramView.contiguous(0, (64,), 4).broadcast_to((2, 17, 64))
    assert_equal_tensors("broadcast", read_view(dram, row, "i32"), np.broadcast_to(x.reshape(-1)[:64], (2, 17, 64)))


def test_reshape_splits_sub_axes_and_refuses_an_uneven_cut():
    dram, x, v = _image((6, 4))
    t = v.transpose((1, 0))  # (4, 6) with strides (1, 4)
    assert_equal_tensors("split", read_view(dram, t.reshape((8, 3)), "i32"), x.T.reshape(8, 3))
    assert t.reshape((3, 8)) is None  # 3 rows would cut the 4-extent sub-axis


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=4), st.randoms(use_true_random=False))
def test_random_transpose_reshape_chains_match_numpy(shape, rnd):
    dram, x, v = _image(tuple(shape))
    expected = x
    for _ in range(3):
        perm = list(range(expected.ndim))
        rnd.shuffle(perm)
        expected, v = expected.transpose(perm), v.transpose(perm)
        new_shape = _random_factorisation(expected.size, rnd)
        reshaped = v.reshape(new_shape)
        if reshaped is None:  # a cut the view cannot express: numpy would copy
            continue
        expected, v = expected.reshape(new_shape), reshaped
    assert_equal_tensors("view", read_view(dram, v, "i32"), expected)


def _random_factorisation(n, rnd):
    factors, rest = [], n
    for p in (2, 3, 2, 2):
        if rest % p == 0 and rnd.random() < 0.6:
            factors.append(p)
            rest //= p
    return tuple(factors + [rest])
