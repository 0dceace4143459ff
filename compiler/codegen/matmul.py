"""Lowering of `qmatmul`: tiling to the scratchpad and accumulator, then DMA, mm, requant.

`y = sat(RNE(clamp(f32(f32(acc) * M), qmin - zy, qmax - zy)) + zy)` with
`acc = sum (a - za)(b - zb) (+ bias)`:
- the bias is preloaded into the accumulator tile by a broadcasting DMA (DRAM row stride 0),
  then `mm` accumulates; without a bias the first `mm` overwrites;
- za, zb go into the `mm` fields; M is `requant`'s immediate (per tensor) or a row vector of
  per-column multipliers loaded into the accumulator (per channel);
- batched matmuls (attention Q.K^T per head, attention x V) loop over the broadcast batch;
  a B whose columns are strided but whose rows are contiguous (K^T as a view of K) is loaded as
  stored and multiplied with `bt=1`;
- an A whose columns are runs narrower than a block and not block-aligned (the patch matrix of
  the embedding convolution) is multiplied one run (K chunk) at a time, accumulating.

Tiles: `tn` output columns, `tm` output rows, chosen as the feasible pair that moves the fewest
DRAM bytes (plus a per-transfer cost), with two buffers for every tile so the next loads can run
while the current tile computes. Partial edge tiles (e.g. 197 tokens) are simply smaller.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from compiler.codegen.dram_view import DramView
from compiler.codegen.onchip import Arena
from compiler.codegen.program import ProgramBuilder
from compiler.codegen.region import Region, ceil_div
from compiler.codegen.transfer import transfer
from compiler.ir.graph import Op
from compiler.ir.types import dtype_range
from isa.errors import VitcError


@dataclass(frozen=True)
class MatmulOperands:
    a: DramView  # (..., M, K)
    b: DramView  # (..., K, N)
    bias: DramView | None  # (N,) int32
    out: DramView  # (..., M, N)
    multipliers: DramView | None  # (1, N) float32 when per channel


@dataclass(frozen=True)
class Tiling:
    tm: int
    tn: int
    k_chunks: tuple[tuple[int, int], ...]  # (first k, length)
    b_transposed: bool


def k_chunks(a_cols, k: int, dim: int) -> tuple[tuple[int, int], ...]:
    """K ranges each loadable into its own block-aligned tile: the whole K unless A's columns
    are runs that would start inside a block."""
    run = a_cols[-1][0]
    if len(a_cols) == 1 or run % dim == 0:
        return ((0, k),)
    return tuple((start, run) for start in range(0, k, run))


def choose_tiling(m: int, n: int, chunks, b_transposed: bool, spad_rows: int, acc_rows: int, config) -> Tiling:
    dim = config.dim
    per_transfer = config.dma_latency * config.dma_bytes_per_cycle
    k = sum(length for _, length in chunks)
    blocks_k = sum(ceil_div(length, dim) for _, length in chunks)
    best = None
    tn_options = sorted({n} | {t for t in range(dim, n, dim)}, reverse=True)
    tm_options = sorted({m} | {t for t in range(dim, m, dim)}, reverse=True)
    for tn, tm in itertools.product(tn_options, tm_options):
        b_rows = tn * blocks_k if b_transposed else sum(length for _, length in chunks) * ceil_div(tn, dim)
        tile_rows = tm * ceil_div(tn, dim)
        spad = 2 * tm * blocks_k + 2 * b_rows + 2 * tile_rows
        acc = 2 * tile_rows + 2 * ceil_div(tn, dim)
        if spad > spad_rows or acc > acc_rows:
            continue
        n_tiles, m_tiles = ceil_div(n, tn), ceil_div(m, tm)
        a_loads = 1 if tm == m else n_tiles
        transfers = n_tiles * m_tiles * (2 + len(chunks)) + n_tiles * len(chunks)
        cost = k * n + m * k * a_loads + transfers * per_transfer
        if best is None or cost < best[0]:
            best = (cost, Tiling(tm, tn, tuple(chunks), b_transposed))
    if best is None:
        raise VitcError(f"no tiling fits: K chunks {list(chunks)}, {spad_rows} spad / {acc_rows} acc rows available")
    return best[1]


def lower_qmatmul(op: Op, operands: MatmulOperands, builder: ProgramBuilder, spad: Arena, acc: Arena, config) -> None:
    a_type, b_type = op.operands[0].type, op.operands[1].type
    y_type = op.result.type
    za, zb = a_type.quant.zero_point[0], _single_zero_point(op, b_type)
    out_shape = y_type.shape
    batch = out_shape[:-2]
    m, n = out_shape[-2], out_shape[-1]
    k = a_type.shape[-1]
    a = operands.a.broadcast_to(batch + (m, k))
    b = operands.b.broadcast_to(batch + (k, n))
    b_transposed = _needs_transpose(b)
    chunks = k_chunks(a.as_matrix().axes[1], k, config.dim)
    tiling = choose_tiling(m, n, chunks, b_transposed, spad.free, acc.free, config)
    slots = _Slots(tiling, spad, acc, config.dim, op.describe())
    qmin, qmax = dtype_range(y_type.dtype)
    requant = {
        "u": int(y_type.dtype == "u8"), "zy": y_type.quant.zero_point[0], "lo": qmin, "hi": qmax,
    }
    mm_types = {"au": int(a_type.dtype == "u8"), "bu": int(b_type.dtype == "u8"), "za": za, "zb": zb, "bt": int(b_transposed)}
    multiplier = op.attrs["multiplier"]
    tile_number = 0
    for batch_index in np.ndindex(*batch):
        a2 = _select(a, batch_index)
        b2 = _select(b, batch_index)
        out2 = _select(operands.out, batch_index)
        a_tiles = {}
        for n_index, n0 in enumerate(range(0, n, tiling.tn)):
            tn = min(tiling.tn, n - n0)
            b_tiles = [_load_b(builder, b2, slots.b_tile(n_index, chunk, tn), chunk, n0, b_transposed) for chunk in chunks]
            mult_region = None
            if operands.multipliers is not None:
                mult_region = slots.multipliers(n_index, tn)
                transfer(builder, "load", operands.multipliers, mult_region, 0, n0)
            for m_index, m0 in enumerate(range(0, m, tiling.tm)):
                tm = min(tiling.tm, m - m0)
                if (m0, tm) not in a_tiles or tiling.tm != m:
                    a_tiles[(m0, tm)] = [_load_a(builder, a2, slots.a_tile(tile_number, chunk, tm), chunk, m0) for chunk in chunks]
                c = slots.acc_tile(tile_number, tm, tn)
                accumulate = operands.bias is not None
                if accumulate:
                    transfer(builder, "load", operands.bias.broadcast_to((m, n)), c, m0, n0)
                for a_tile, b_tile in zip(a_tiles[(m0, tm)], b_tiles):
                    builder.emit("mm", {
                        "a": a_tile.addr, "b": b_tile.addr, "c": c.addr, "m": tm, "k": a_tile.cols, "n": tn,
                        "a_bs": a_tile.bs, "b_bs": b_tile.bs, "c_bs": c.bs, "accum": int(accumulate), **mm_types,
                    }, reads=[a_tile, b_tile] + ([c] if accumulate else []), writes=[c])
                    accumulate = True
                y = slots.out_tile(tile_number, tm, tn)
                fields = {"src": c.addr, "dst": y.addr, "rows": tm, "cols": tn, "src_bs": c.bs, "dst_bs": y.bs, **requant}
                reads = [c]
                if mult_region is None:
                    fields.update(pc=0, mult=multiplier[0])
                else:
                    fields.update(pc=1, mult_addr=mult_region.addr)
                    reads.append(mult_region)
                builder.emit("requant", fields, reads=reads, writes=[y])
                transfer(builder, "store", out2, y, m0, n0)
                tile_number += 1


def per_channel_multipliers(op: Op) -> np.ndarray | None:
    """The (1, N) float32 multiplier row when they differ per output column, else None."""
    multiplier = op.attrs["multiplier"]
    if len(multiplier) == 1:
        return None
    return np.asarray(multiplier, np.float32).reshape(1, -1)


def _single_zero_point(op: Op, b_type) -> int:
    points = set(b_type.quant.zero_point)
    if len(points) != 1:
        raise VitcError(f"{op.describe()}: per-channel zero points of B differ ({sorted(points)[:4]}...); mm takes one")
    return points.pop()


def _needs_transpose(b: DramView) -> bool:
    cols = b.as_matrix().axes[1]
    if cols[-1][1] == 1 or b.shape[-1] == 1:
        return False
    rows = b.as_matrix().axes[0]
    if rows[-1][1] != 1:
        raise VitcError(f"B operand has neither contiguous rows nor columns in DRAM ({b})")
    return True


def _select(view: DramView, batch_index) -> DramView:
    for index in batch_index:
        view = view.select(0, index)
    return view


def _load_a(builder, a2: DramView, region: Region, chunk, m0: int) -> Region:
    transfer(builder, "load", a2, region, m0, chunk[0])
    return region


def _load_b(builder, b2: DramView, region: Region, chunk, n0: int, transposed: bool) -> Region:
    if transposed:
        transfer(builder, "load", b2.transpose((1, 0)), region, n0, chunk[0])
    else:
        transfer(builder, "load", b2, region, chunk[0], n0)
    return region


class _Slots:
    """Two of every tile buffer, used alternately (double buffering)."""

    def __init__(self, tiling: Tiling, spad: Arena, acc: Arena, dim: int, owner: str):
        self.dim = dim
        tm, tn = tiling.tm, tiling.tn
        self.a = [[spad.region(tm, length, dim, "A tile") for _, length in tiling.k_chunks] for _ in range(2)]
        if tiling.b_transposed:
            self.b = [[spad.region(tn, length, dim, "B tile") for _, length in tiling.k_chunks] for _ in range(2)]
        else:
            self.b = [[spad.region(length, tn, dim, "B tile") for _, length in tiling.k_chunks] for _ in range(2)]
        self.c = [acc.region(tm, tn, dim, "accumulator tile") for _ in range(2)]
        self.y = [spad.region(tm, tn, dim, "output tile") for _ in range(2)]
        self.mult = [acc.row_vector(tn, dim, "multipliers") for _ in range(2)]
        self.chunk_index = {chunk: i for i, chunk in enumerate(tiling.k_chunks)}
        self.b_transposed = tiling.b_transposed

    def a_tile(self, number: int, chunk, tm: int) -> Region:
        full = self.a[number % 2][self.chunk_index[chunk]]
        return Region(full.mem, full.addr, tm, full.cols, full.bs)

    def b_tile(self, number: int, chunk, tn: int) -> Region:
        full = self.b[number % 2][self.chunk_index[chunk]]
        if self.b_transposed:
            return Region(full.mem, full.addr, tn, full.cols, full.bs)
        return Region(full.mem, full.addr, full.rows, tn, full.bs)

    def acc_tile(self, number: int, tm: int, tn: int) -> Region:
        full = self.c[number % 2]
        return Region(full.mem, full.addr, tm, tn, full.bs)

    def out_tile(self, number: int, tm: int, tn: int) -> Region:
        full = self.y[number % 2]
        return Region(full.mem, full.addr, tm, tn, full.bs)

    def multipliers(self, number: int, tn: int) -> Region:
        full = self.mult[number % 2]
        return Region(full.mem, full.addr, 1, tn, 1)
