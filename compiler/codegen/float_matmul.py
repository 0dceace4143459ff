"""Lowering of float `matmul` (the MatMuls onnxruntime leaves in float32) to `fmm`.

onnxruntime runs them with MLAS SGEMM: every output element is one sequential fma chain per K
block, and the blocks' chains are added to the output in order. `fmm` computes exactly one such
chain per element, so each K block is one `fmm` over a whole block of A's columns and B's rows
(`accum=0` for the first block, `accum=1` after). The blocking is MLAS's, taken from the
reference kernel (`compiler/reference/kernels/sgemm.py`, established against onnxruntime): a
constant (prepacked) B uses K blocks of 256; a computed B is split into column slices by
MLAS's thread partition, each with its own K stride. That split depends on onnxruntime's
intra-op thread count, which is a compile-time parameter here (default: this machine's, as
onnxruntime's default is).

Rows and columns within a slice are tiled freely (elements are independent); a K block never
is (a chain cannot be split). A, B and C tiles live in the accumulator as float32 words.
"""

from __future__ import annotations

import math

import numpy as np

from compiler.codegen.dram_view import DramView
from compiler.codegen.onchip import Arena
from compiler.codegen.program import ProgramBuilder
from compiler.codegen.region import Region, ceil_div
from compiler.codegen.transfer import transfer
from compiler.ir.graph import Op
from compiler.reference.kernels import sgemm
from isa.errors import VitcError


def column_blocks(m: int, n: int, k: int, prepacked: bool, threads: int) -> list[tuple[int, int, int]]:
    """(first column, columns, K stride) of each column slice MLAS computes separately."""
    if prepacked:
        return [(0, n, sgemm.PACKED_K_STRIDE)]
    return [(start, count, sgemm._k_stride(count, k)) for start, count in sgemm._column_slices(m, n, k, threads)]


def lower_float_matmul(op: Op, a: DramView, b: DramView, out: DramView, builder: ProgramBuilder,
                       acc: Arena, config, threads: int | None = None) -> None:
    a_shape, b_shape = op.operands[0].type.shape, op.operands[1].type.shape
    out_shape = op.result.type.shape
    k, n = a_shape[-1], out_shape[-1]
    prepacked = bool(op.attrs.get("b_prepacked", 0))
    threads = threads or sgemm.default_threads()
    if len(b_shape) == 2:  # onnxruntime folds A's leading axes into M
        rows = math.prod(a_shape[:-1])
        problems = [(a.reshape((rows, k)), b, out.reshape((rows, n)))]
    else:
        batch = out_shape[:-2]
        a_full, b_full = a.broadcast_to(batch + a_shape[-2:]), b.broadcast_to(batch + b_shape[-2:])
        problems = [tuple(v.at(index) for v in (a_full, b_full, out)) for index in np.ndindex(*batch)]
        if not prepacked and k > sgemm.STRIDE_K:
            raise VitcError(f"batched float matmul by a computed matrix with K={k} > {sgemm.STRIDE_K}: "
                            f"MLAS's per-batch thread split is not reproduced")
    m = problems[0][0].shape[0]
    if not prepacked and m == 1:
        raise VitcError("float matmul of a single row by a computed matrix: MLAS's M=1 kernel is not reproduced")
    slices = column_blocks(m, n, k, prepacked, threads)
    for a2, b2, out2 in problems:
        for start, count, k_stride in slices:
            _slice(builder, a2, b2, out2, start, count, k_stride, acc, config.dim)


def _slice(builder, a: DramView, b: DramView, out: DramView, start: int, count: int, k_stride: int, acc: Arena, dim: int) -> None:
    """Columns [start, start + count) of out = a @ b, K blocks of `k_stride`."""
    m, k = a.shape
    ks = min(k_stride, k)
    tn, tm = _tile(m, count, ks, acc.free, dim)
    a_region = Region("acc", acc.base + acc.used, tm, ks, tm)
    b_region = Region("acc", a_region.end(dim), ks, tn, ks)
    c_region = Region("acc", b_region.end(dim), tm, tn, tm)
    for n0 in range(start, start + count, tn):
        cols = min(tn, start + count - n0)
        for m0 in range(0, m, tm):
            rows = min(tm, m - m0)
            c = Region("acc", c_region.addr, rows, cols, c_region.bs)
            for number, k0 in enumerate(range(0, k, k_stride)):
                depth = min(k_stride, k - k0)
                a_tile = Region("acc", a_region.addr, rows, depth, a_region.bs)
                b_tile = Region("acc", b_region.addr, depth, cols, b_region.bs)
                transfer(builder, "load", a, a_tile, m0, k0)
                transfer(builder, "load", b, b_tile, k0, n0)
                builder.emit("fmm", {
                    "a": a_tile.addr, "b": b_tile.addr, "c": c.addr, "m": rows, "k": depth, "n": cols,
                    "a_bs": a_tile.bs, "b_bs": b_tile.bs, "c_bs": c.bs, "accum": int(number > 0),
                }, reads=[a_tile, b_tile] + ([c] if number else []), writes=[c])
            transfer(builder, "store", out, c, m0, n0)


def _tile(m: int, count: int, ks: int, rows_free: int, dim: int) -> tuple[int, int]:
    """The widest column tile, then the tallest row tile, whose A, B and C fit."""
    for tn in sorted({count} | {dim << i for i in range(12) if dim << i < count}, reverse=True):
        b_rows = ks * ceil_div(tn, dim)
        per_row = ceil_div(ks, dim) + ceil_div(tn, dim)
        tm = min(m, (rows_free - b_rows) // per_row) if rows_free > b_rows else 0
        if tm > 0:
            return tn, tm
    raise VitcError(f"a float matmul K block of {ks} does not fit in {rows_free} accumulator rows")
