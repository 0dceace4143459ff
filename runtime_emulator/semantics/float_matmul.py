"""`fmm`: float32 matrix multiply on ACC in MLAS SGEMM's summation order.

A is the ACC region `(a, m, k, a_bs)`, B `(b, k, n, b_bs)` (or stored transposed as
`(b, n, k, b_bs)` when `bt=1`), C `(c, m, n, c_bs)`, all float32. Every output element is one
sequential chain `p = fma(A[i, kk], B[kk, j], p)` over kk = 0 .. k-1 from +0.0, each fma rounded
once (`numerics.fma_f32`, exact); `accum=1` then writes `f32(C + p)`, `accum=0` writes `p`.

The loop runs over k, the sequential dimension: each step is one fma over the whole m x n
block, so the work per step is numpy's. A and B are widened to float64 once (exact), which the
fma's exact product needs anyway.
"""

import numpy as np

from runtime_emulator.machine import Machine
from runtime_emulator.numerics import F32, fma_f32
from runtime_emulator.regions import Region, read_region, write_region


def fmm(m: Machine, f) -> None:
    a = read_region(m.acc_f32, Region(f["a"], f["m"], f["k"], f["a_bs"])).astype(np.float64)
    if f["bt"]:
        b = read_region(m.acc_f32, Region(f["b"], f["n"], f["k"], f["b_bs"])).T.astype(np.float64)
    else:
        b = read_region(m.acc_f32, Region(f["b"], f["k"], f["n"], f["b_bs"])).astype(np.float64)
    chain = np.zeros((f["m"], f["n"]), F32)
    for kk in range(f["k"]):
        chain = fma_f32(a[:, kk:kk + 1], b[kk:kk + 1, :], chain)
    c = Region(f["c"], f["m"], f["n"], f["c_bs"])
    if f["accum"]:
        chain = np.add(read_region(m.acc_f32, c), chain, dtype=F32)
    write_region(m.acc_f32, c, chain)
