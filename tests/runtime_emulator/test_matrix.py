"""mm against numpy written from the ISA reference: C (=|+=) (A - za) @ (B' - zb), wrapping int32."""

import numpy as np
import pytest

from tests.runtime_emulator.harness import ProgramBuilder, assert_equal, load, store


def reference_mm(a, b, za, zb, c0=None):
    """Exact integer product in Python ints (object arrays), wrapped to int32."""
    exact = (a.astype(object) - za) @ (b.astype(object) - zb)
    if c0 is not None:
        exact = exact + c0.astype(object)
    wrapped = [((int(v) + 2**31) % 2**32) - 2**31 for v in exact.ravel()]
    return np.array(wrapped, np.int64).astype(np.int32).reshape(exact.shape)


def run_mm(a, bmat, *, b_addr, za=0, zb=0, bt=0, au=1, bu=0, c0=None, accum=None, a_bs=None, c_bs=None):
    """One `mm` of A (m x k) by B (k x n, stored transposed when `bt`): A, B and C0 (when given)
    loaded, C stored and returned. It accumulates onto C0 when given, unless `accum` says
    otherwise (C0 then shows that C was overwritten). Block strides default to m."""
    (m, k), n = a.shape, bmat.shape[1]
    a_bs, c_bs = a_bs or m, c_bs or m
    stored_b = bmat.T.copy() if bt else bmat
    b_rows = stored_b.shape[0]
    b = ProgramBuilder()
    a_dram, b_dram = b.input("a", a), b.input("b", stored_b)
    loads = [load(a_dram, m, k, 0, bs=a_bs), load(b_dram, b_rows, stored_b.shape[1], b_addr, bs=b_rows)]
    if c0 is not None:
        loads.append(load(b.input("c0", c0), m, n, 0, mem=1, bs=c_bs))
    out = b.output("c", "int32", (m, n))
    mm = dict(a=0, b=b_addr, c=0, m=m, k=k, n=n, a_bs=a_bs, b_bs=b_rows, c_bs=c_bs, au=au, bu=bu, za=za, zb=zb, bt=bt,
              accum=int(c0 is not None) if accum is None else accum)
    b.sequence(loads, [("mm", mm)], [store(out, m, n, 0, mem=1, bs=c_bs)])
    return b.run().outputs["c"]


@pytest.mark.parametrize("au,bu,za,zb,bt", [(0, 0, 0, 0, 0), (1, 0, 128, 0, 0), (1, 1, -3, 255, 1), (0, 1, 5, -256, 1)])
def test_mm_types_zero_points_and_transposed_b(au, bu, za, zb, bt):
    rng = np.random.default_rng(10 + au + 2 * bu + 4 * bt)
    m, k, n = 20, 45, 33
    a_type, b_type = (np.uint8 if au else np.int8), (np.uint8 if bu else np.int8)
    a = rng.integers(np.iinfo(a_type).min, np.iinfo(a_type).max + 1, (m, k)).astype(a_type)
    bmat = rng.integers(np.iinfo(b_type).min, np.iinfo(b_type).max + 1, (k, n)).astype(b_type)
    c = run_mm(a, bmat, b_addr=100, za=za, zb=zb, bt=bt, au=au, bu=bu, c_bs=24)
    assert_equal("c", c, reference_mm(a, bmat, za, zb))


def test_mm_accumulate_wraps_int32():
    m = k = n = 16
    a = np.full((m, k), -128, np.int8)
    bmat = np.full((k, n), -128, np.int8)
    c0 = np.full((m, n), 2**31 - 1000, np.int32)
    b = ProgramBuilder()
    a_dram, b_dram, c_dram = b.input("a", a), b.input("b", bmat), b.input("c0", c0)
    out = b.output("c", "int32", (m, n))
    b.sequence(
        [load(a_dram, m, k, 0), load(b_dram, k, n, 16), load(c_dram, m, n, 0, mem=1)],
        [("mm", dict(a=0, b=16, c=0, m=m, k=k, n=n, a_bs=m, b_bs=k, c_bs=m, accum=1)),
         ("mm", dict(a=0, b=16, c=0, m=m, k=k, n=n, a_bs=m, b_bs=k, c_bs=m, accum=1))],
        [store(out, m, n, 0, mem=1)],
    )
    once = reference_mm(a, bmat, 0, 0, c0)
    assert_equal("c", b.run().outputs["c"], reference_mm(a, bmat, 0, 0, once))


@pytest.mark.parametrize("bt", [0, 1])
@pytest.mark.parametrize("k", [258, 259, 517, 1100])
def test_mm_exact_across_float32_chunks_of_k(k, bt):
    """Extreme codes (|A - za| = |B - zb| = 255, so float32 is exact over at most 258 columns at
    a time), k on and around chunk boundaries, accumulating onto C: every element is checked
    against the exact integer sum."""
    rng = np.random.default_rng(k + bt)
    m, n = 7, 19
    a = rng.choice(np.array([0, 255], np.uint8), (m, k))
    bmat = rng.choice(np.array([-128, 127], np.int8), (k, n))
    c0 = rng.integers(-2**31, 2**31, (m, n)).astype(np.int32)
    c = run_mm(a, bmat, b_addr=2048, za=0, zb=-128, bt=bt, c0=c0)
    assert_equal("c", c, reference_mm(a, bmat, 0, -128, c0))


@pytest.mark.parametrize("bt", [0, 1])
def test_mm_of_one_shape_at_different_addresses(bt):
    """mm's of the same shape share what does not depend on addresses (`matrix._shape_of`):
    each still reads its own A and B and writes its own C."""
    rng = np.random.default_rng(70 + bt)
    m, k, n = 12, 40, 36
    a1, a2 = (rng.integers(-128, 128, (m, k)).astype(np.int8) for _ in range(2))
    b1, b2 = (rng.integers(-128, 128, (k, n)).astype(np.int8) for _ in range(2))
    stored = [b.T.copy() if bt else b for b in (b1, b2)]
    rows, cols = stored[0].shape
    b = ProgramBuilder()
    drams = [b.input(name, value) for name, value in (("a1", a1), ("a2", a2), ("b1", stored[0]), ("b2", stored[1]))]
    outs = [b.output(name, "int32", (m, n)) for name in ("c1", "c2")]
    spad = [0, 48, 100, 300]  # a1, a2, b1, b2 (each 3 column blocks of `bs` rows)
    shape = dict(m=m, k=k, n=n, a_bs=m, b_bs=rows, c_bs=m, za=1, zb=-2, bt=bt)
    b.sequence(
        [load(drams[0], m, k, spad[0], bs=m), load(drams[1], m, k, spad[1], bs=m),
         load(drams[2], rows, cols, spad[2], bs=rows), load(drams[3], rows, cols, spad[3], bs=rows)],
        [("mm", dict(shape, a=spad[0], b=spad[2], c=0)), ("mm", dict(shape, a=spad[1], b=spad[3], c=40))],
        [store(outs[0], m, n, 0, mem=1, bs=m), store(outs[1], m, n, 40, mem=1, bs=m)],
    )
    result = b.run().outputs
    assert_equal("c1", result["c1"], reference_mm(a1, b1, 1, -2))
    assert_equal("c2", result["c2"], reference_mm(a2, b2, 1, -2))
