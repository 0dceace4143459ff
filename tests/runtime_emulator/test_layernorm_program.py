"""onnxruntime's LayerNormalization as a vector-unit program of eight instructions, assembled
from text and run with hazard checking; the recipe the codegen can lower onto:

    rowsum  order=f64x4, div=N           mean = f32(sum_f64(x) / N)
    valu    sub, bmode=row               d = f32(x - mean)
    rowsum  order=lanes8, sq=1, div=N    v = f32(var / N)   (8 fma lanes, halving tree)
    valu    add, bmode=scalar            v = f32(v + eps)
    vunary  sqrt; vunary recip           inv = f32(1 / f32(sqrt(v)))
    valu    mul, bmode=row               t = f32(d * inv)
    vfma    bmode=col, cmode=col         y = fma(t, gamma, beta)

Checked against the reference interpreter's kernel (compiler/reference/kernels/layernorm.py)
on rows of 64, 192, 768 and with tails, random and adversarial data, two epsilons, and against
onnxruntime itself.
"""

import numpy as np
import pytest

from compiler.reference.kernels.layernorm import layernorm
from tests.runtime_emulator.assembly import ACC_WORD, f32_bits, run_assembly
from tests.runtime_emulator.harness import assert_equal
from tests.runtime_emulator.onnxruntime_ops import run_node
from tests.runtime_emulator.float_rows import rows_for

F32 = np.float32
DIM = 16


def layernorm_program(rows: int, n: int, epsilon: float) -> str:
    blocks = -(-n // DIM)
    x, d = 0, blocks * rows  # two (rows x n) regions
    gamma, beta = 2 * blocks * rows, 2 * blocks * rows + blocks  # row vectors
    mean, var = beta + blocks, beta + blocks + rows  # column vectors
    stride = n * ACC_WORD
    return f"""
dma.load mem=acc, addr={x}, rows={rows}, cols={n}, bs={rows}, dram={{x}}, dram_stride={stride}
dma.load mem=acc, addr={gamma}, rows=1, cols={n}, bs=1, dram={{gamma}}, dram_stride={stride}
dma.load mem=acc, addr={beta}, rows=1, cols={n}, bs=1, dram={{beta}}, dram_stride={stride}, signal=vector
rowsum src={x}, dst={mean}, rows={rows}, cols={n}, src_bs={rows}, order=f64x4, div={n}.0, wait=load
valu op=sub, ty=f32, bmode=row, a={x}, b={mean}, dst={d}, rows={rows}, cols={n}, a_bs={rows}, dst_bs={rows}
rowsum src={d}, dst={var}, rows={rows}, cols={n}, src_bs={rows}, sq=1, order=lanes8, div={n}.0
valu op=add, ty=f32, bmode=scalar, a={var}, dst={var}, rows={rows}, cols=1, a_bs=1, dst_bs=1, imm={f32_bits(epsilon)}
vunary fn=sqrt, src={var}, dst={var}, rows={rows}, cols=1, src_bs=1, dst_bs=1
vunary fn=recip, src={var}, dst={var}, rows={rows}, cols=1, src_bs=1, dst_bs=1
valu op=mul, ty=f32, bmode=row, a={d}, b={var}, dst={d}, rows={rows}, cols={n}, a_bs={rows}, dst_bs={rows}
vfma bmode=col, cmode=col, a={d}, b={gamma}, c={beta}, dst={d}, rows={rows}, cols={n}, a_bs={rows}, dst_bs={rows}, signal=store
dma.store mem=acc, addr={d}, rows={rows}, cols={n}, bs={rows}, dram={{y}}, dram_stride={stride}, wait=vector
"""


def run_layernorm(x, gamma, beta, epsilon):
    rows, n = x.shape
    result = run_assembly(layernorm_program(rows, n, epsilon), {"x": x, "gamma": gamma[None], "beta": beta[None]},
                          {"y": ("float32", (rows, n))})
    return result.outputs["y"]


def parameters(n, seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(n) * 0.5 + 1).astype(F32), (rng.standard_normal(n) * 0.2).astype(F32)


@pytest.mark.parametrize("epsilon", [1e-5, 1e-12])
@pytest.mark.parametrize("n", [64, 192, 768, 13, 50, 100])
def test_layernorm_program_matches_the_reference_kernel(n, epsilon):
    x = rows_for(n, 8 if n < 768 else 1, 2000 + n)
    gamma, beta = parameters(n, n)
    with np.errstate(all="ignore"):  # the near-overflow row's variance is inf, so its y is beta
        expected = layernorm(x, gamma, beta, axis=1, epsilon=epsilon)
    assert_equal(f"LayerNorm over {n}, eps {epsilon}", run_layernorm(x, gamma, beta, F32(epsilon)), expected)


@pytest.mark.parametrize("n", [64, 192, 768])
def test_layernorm_program_matches_onnxruntime(n):
    rng = np.random.default_rng(n + 1)
    x = (rng.standard_normal((4, n)) * rng.uniform(0.1, 30, (4, 1)) + rng.uniform(-5, 5, (4, 1))).astype(F32)
    gamma, beta = parameters(n, n + 2)
    expected = run_node("LayerNormalization", {"x": x}, {"gamma": gamma, "beta": beta}, np.float32, x.shape)
    assert_equal(f"onnxruntime LayerNorm over {n}", run_layernorm(x, gamma, beta, F32(1e-5)), expected)
