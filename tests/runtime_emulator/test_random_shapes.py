"""Random shapes, block strides and zero points: block-layout edge cases (cols a multiple of
dim, exactly dim, one column; bs larger than rows) for DMA with depth and for mm, against numpy."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.runtime_emulator.harness import ProgramBuilder, assert_equal, load, store
from tests.runtime_emulator.test_matrix import reference_mm, run_mm

DIM = 16
sizes = st.sampled_from([1, 2, 15, 16, 17, 31, 32, 33, 48])


@settings(max_examples=40, deadline=None)
@given(rows=sizes, cols=sizes, extra_bs=st.integers(0, 5), depth=st.integers(1, 3), mem=st.integers(0, 1), seed=st.integers(0, 2**16))
def test_dma_round_trip_through_a_copy(rows, cols, extra_bs, depth, mem, seed):
    dtype = np.int32 if mem else np.int8
    info = np.iinfo(dtype)
    x = np.random.default_rng(seed).integers(info.min, info.max, (depth, rows, cols), endpoint=True).astype(dtype)
    bs = rows + extra_bs
    footprint = -(-cols // DIM) * bs
    b = ProgramBuilder()
    src = b.input("x", x)
    out = b.output("y", np.dtype(dtype).name, x.shape)
    esize = x.itemsize
    stacked = dict(depth=depth, depth_stride=footprint, dram_depth_stride=rows * cols * esize)
    b.sequence(
        [load(src, rows, cols, 0, mem=mem, bs=bs, **stacked)],
        [("copy", dict(mem=mem, src=0, dst=depth * footprint, rows=rows, cols=cols, src_bs=bs, dst_bs=bs))],
        # Slice 0 from the copy, the other slices straight from where they were loaded.
        [store(out, rows, cols, depth * footprint, mem=mem, bs=bs)]
        + ([store(out + rows * cols * esize, rows, cols, footprint, mem=mem, bs=bs, **stacked | dict(depth=depth - 1))]
           if depth > 1 else []),
    )
    assert_equal("y", b.run().outputs["y"], x)


@settings(max_examples=40, deadline=None)
@given(m=sizes, k=sizes, n=sizes, za=st.integers(-256, 255), zb=st.integers(-256, 255),
       bt=st.integers(0, 1), accum=st.integers(0, 1), seed=st.integers(0, 2**16))
def test_mm_random_shapes(m, k, n, za, zb, bt, accum, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (m, k)).astype(np.uint8)
    bmat = rng.integers(-128, 128, (k, n)).astype(np.int8)
    c0 = rng.integers(-2**31, 2**31, (m, n)).astype(np.int32)
    c = run_mm(a, bmat, b_addr=1000, za=za, zb=zb, bt=bt, c0=c0, accum=accum, a_bs=m + 1)
    assert_equal("c", c, reference_mm(a, bmat, za, zb, c0 if accum else None))
