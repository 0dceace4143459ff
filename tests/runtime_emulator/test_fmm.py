"""fmm: float32 matrix multiply, one sequential fma chain over k per output element.

- onnxruntime's float MatMul with a constant B is one `fmm` per K block of 256, the first with
  `accum=0`, the rest `accum=1`: checked against the reference interpreter's SGEMM kernel
  (compiler/reference/kernels/sgemm.py) and against onnxruntime itself, K = 64 .. 600;
- one `fmm` against a scalar oracle written from the table text (Fraction-exact fma, then the
  float32 addition of `accum`), with B stored plainly and transposed;
- the cost, the work counted, and the refusal of a C that overlaps A or B.
Programs are assembly text run with hazard checking.
"""

import numpy as np
import pytest

from compiler.reference.kernels.sgemm import PACKED_K_STRIDE, sgemm
from isa.config import load_config
from isa.errors import VitcError
from tests.runtime_emulator.assembly import ACC_WORD, run_assembly
from tests.runtime_emulator.exact_float import exact_add, exact_fma
from tests.runtime_emulator.harness import assert_equal
from tests.runtime_emulator.onnxruntime_ops import run_node

F32 = np.float32
DIM = 16


def blocked_matmul_program(m: int, k: int, n: int, dram: dict) -> str:
    """y = a @ w with w constant (DRAM addresses in `dram`): per K block, load A's and B's slices, one fmm accumulating into
    C; the next block's loads wait until the fmm has read the previous slices."""
    a_addr, b_addr = 0, m * (PACKED_K_STRIDE // DIM)
    c_addr = b_addr + PACKED_K_STRIDE * -(-n // DIM)
    starts = list(range(0, k, PACKED_K_STRIDE))
    lines = []
    for i, k0 in enumerate(starts):
        kk = min(PACKED_K_STRIDE, k - k0)
        wait = ", wait=vector" if i else ""
        last = i == len(starts) - 1
        lines += [
            f"dma.load mem=acc, addr={a_addr}, rows={m}, cols={kk}, bs={m}, dram={dram['a'] + k0 * ACC_WORD}, "
            f"dram_stride={k * ACC_WORD}{wait}",
            f"dma.load mem=acc, addr={b_addr}, rows={kk}, cols={n}, bs={kk}, dram={dram['w'] + k0 * n * ACC_WORD}, "
            f"dram_stride={n * ACC_WORD}, signal=vector",
            f"fmm a={a_addr}, b={b_addr}, c={c_addr}, m={m}, k={kk}, n={n}, a_bs={m}, b_bs={kk}, c_bs={m}, "
            f"accum={int(i > 0)}, wait=load, signal={'store' if last else 'load'}",
        ]
    lines.append(f"dma.store mem=acc, addr={c_addr}, rows={m}, cols={n}, bs={m}, dram={dram['y']}, "
                 f"dram_stride={n * ACC_WORD}, wait=vector")
    return "\n".join(lines)


@pytest.mark.parametrize("k", [64, 256, 300, 600])
def test_constant_b_matmul_is_one_fmm_per_256_block(k):
    m, n = 8, 32
    rng = np.random.default_rng(k)
    a = (rng.standard_normal((m, k)) * 10.0 ** rng.integers(-2, 3, (m, k))).astype(F32)
    w = rng.standard_normal((k, n)).astype(F32)
    got = run_assembly(lambda dram: blocked_matmul_program(m, k, n, dram), {"a": a, "w": w}, {"y": ("float32", (m, n))}).outputs["y"]
    expected = sgemm(a, w, b_is_constant=True)
    assert_equal(f"fmm chain, K={k}", got, expected)
    onnxruntime = run_node("MatMul", {"a": a}, {"w": w}, np.float32, (m, n))
    assert_equal(f"onnxruntime MatMul, K={k}", got, onnxruntime)
    assert not np.array_equal(got, (a.astype(np.float64) @ w).astype(F32)), "data too easy: exact sums agree"


def oracle(a, b, c, accum):
    """The table text, one element at a time: p = +0.0; p = fma(A[i, kk], B[kk, j], p) for each
    kk in order; accum=1 writes f32(C + p)."""
    m, k = a.shape
    out = np.empty((m, b.shape[1]), F32)
    for i in range(m):
        for j in range(b.shape[1]):
            p = F32(0.0)
            for kk in range(k):
                p = exact_fma(a[i, kk], b[kk, j], p)
            out[i, j] = exact_add(c[i, j], p) if accum else p
    return out


@pytest.mark.parametrize("accum", [0, 1])
@pytest.mark.parametrize("bt", [0, 1])
def test_fmm_matches_the_table_text(bt, accum):
    m, k, n = 3, 21, 18  # k and n cross a column block
    rng = np.random.default_rng(10 * bt + accum)
    a = (rng.standard_normal((m, k)) * 10.0 ** rng.integers(-3, 4, (m, k))).astype(F32)
    b = rng.standard_normal((k, n)).astype(F32)
    c = (rng.standard_normal((m, n)) * 100).astype(F32)
    stored_b = np.ascontiguousarray(b.T) if bt else b
    b_rows, b_cols = stored_b.shape
    body = f"""
dma.load mem=acc, addr=0, rows={m}, cols={k}, bs={m}, dram={{a}}, dram_stride={k * ACC_WORD}
dma.load mem=acc, addr=10, rows={b_rows}, cols={b_cols}, bs={b_rows}, dram={{b}}, dram_stride={b_cols * ACC_WORD}
dma.load mem=acc, addr=60, rows={m}, cols={n}, bs={m}, dram={{c}}, dram_stride={n * ACC_WORD}, signal=vector
fmm a=0, b=10, c=60, m={m}, k={k}, n={n}, a_bs={m}, b_bs={b_rows}, c_bs={m}, bt={bt}, accum={accum}, wait=load, signal=store
dma.store mem=acc, addr=60, rows={m}, cols={n}, bs={m}, dram={{y}}, dram_stride={n * ACC_WORD}, wait=vector
"""
    result = run_assembly(body, {"a": a, "b": stored_b, "c": c}, {"y": ("float32", (m, n))})
    assert_equal(f"fmm bt={bt} accum={accum}", result.outputs["y"], oracle(a, b, c, accum))
    cycles = load_config("default").vector_latency + -(-m * n // DIM) * k
    span = [e for e in result.trace_events()["traceEvents"] if e.get("name") == "fmm" and e["ph"] == "X"][0]
    assert round(span["dur"] * 1000) == cycles
    assert result.stats.vector_elements == m * n * k


@pytest.mark.parametrize("b_addr, c_addr, field, row", [(10, 2, "a", 2), (10, 25, "b", 25)])
def test_fmm_refuses_c_over_its_sources(b_addr, c_addr, field, row):
    body = f"fmm a=0, b={b_addr}, c={c_addr}, m=4, k=20, n=8, a_bs=4, b_bs=20, c_bs=4"
    with pytest.raises(VitcError, match=rf"pc 0 .*`fmm .*`: source \({field}\) and destination \(c\) overlap at acc row {row}"):
        run_assembly(body, {}, {})
