"""Lowering of `qmatmul`: tiling to the scratchpad and accumulator, then DMA, mm, requant.

`y = sat(RNE(clamp(f32(f32(acc) * M), qmin - zy, qmax - zy)) + zy)` with
`acc = sum (a - za)(b - zb) (+ bias)`:
- the first `mm` overwrites the accumulator tile, the others accumulate; a bias (a row vector
  loaded once per N tile) is then added by one int32 `valu` (wrapping, as `mm` does, so the sum
  is the same in any order) on the vector unit, `tm * tn / dim` cycles: a broadcasting DMA of
  the bias into every accumulator row moved 4 * tm * tn bytes per output tile on the load unit,
  the patch embedding's busiest (its gathered A loads);
- za, zb go into the `mm` fields; M is `requant`'s immediate (per tensor) or a row vector of
  per-column multipliers loaded into the accumulator (per channel);
- batched matmuls (attention Q.K^T per head, attention x V) loop over the broadcast batch;
  a B whose columns are strided but whose rows are contiguous (K^T as a view of K) is loaded as
  stored and multiplied with `bt=1`;
- an A whose columns are runs narrower than a block and not block-aligned (the patch matrix of
  the embedding convolution) is multiplied one run (K chunk) at a time, accumulating.

Tiles: `tn` output columns, `tm` output rows and K steps of `tk`, with A and/or B either
resident (loaded once, reused across the other operand's tiles) or streamed per step, chosen as
the feasible combination with the fewest estimated cycles (`_estimated_cycles`: the busiest of
the four units with the configuration's instruction costs, plus pipeline fill and drain; of
equal estimates, the fewest load cycles). Output tiles go N tile by N tile, or row tile by row
tile (`rows_outer`: each row tile of A loaded once for every N tile, with every B panel on chip
or, for a gathered A, B streamed). A
fused chain after the matmul runs on its output tiles (whole rows, or narrower tiles dividing
the row when the chain reduces nothing along it). Every
buffer has two copies used alternately, so the next loads run while the current tile computes.
Partial edge tiles (e.g. 197 tokens) are simply smaller.

The choice is made once, by `plan_tiling` in the `tile-matmul` pass, and recorded as the op's
attributes `tile_m`, `tile_n`, `tile_k`, `resident` (`tiling_attrs`); the lowering rebuilds the
`Tiling` from them (`recorded_tiling`) and never chooses itself.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass

import numpy as np

from compiler.codegen.dram_view import DramView
from compiler.codegen.onchip import Arena, OnChipPlan
from compiler.codegen.program import Prepared, ProgramBuilder
from compiler.codegen.region import Region, ceil_div
from compiler.codegen.transfer import row_pieces, transfer
from compiler.ir.graph import Op
from compiler.ir.types import dtype_range
from isa.errors import VitcError

log = logging.getLogger("vitc.codegen.matmul")


class TilingError(VitcError):
    """No tiling fits the on-chip memory given (raised before anything is emitted)."""


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
    steps: tuple[tuple[int, int], ...]  # K steps (first k, length), accumulated in order
    a_resident: bool  # the whole A (tm == M) stays on chip for every N tile
    b_resident: bool  # a whole K x tn panel of B stays on chip for every M tile
    b_transposed: bool
    gather: int = 0  # width of A's column runs gathered on chip into longer K steps (0: none)
    # Output tiles row tile by row tile, each over every N panel, so each row tile of A is loaded
    # once; with `b_resident`, every N panel of B is on chip at once, else B is streamed.
    rows_outer: bool = False


def k_chunks(a_cols, k: int, dim: int) -> tuple[tuple[int, int], ...]:
    """K ranges each loadable into its own block-aligned tile: the whole K unless A's columns
    are runs that would start inside a block."""
    run = a_cols[-1][0]
    if len(a_cols) == 1 or run % dim == 0:
        return ((0, k),)
    return tuple((start, run) for start in range(0, k, run))


def _split(chunks, tk: int):
    return tuple((start + offset, min(tk, length - offset)) for start, length in chunks for offset in range(0, length, tk))


def _candidates(total: int, dim: int) -> list[int]:
    """Tile sizes worth trying for an extent of columns (or K): all of it, powers of two times
    `dim`, and the block-rounded sizes that split it into 2..16 near-equal tiles."""
    sizes = {total} | {dim << i for i in range(16) if dim << i < total}
    sizes |= {ceil_div(ceil_div(total, parts), dim) * dim for parts in range(2, 17)}
    return sorted((s for s in sizes if 0 < s <= total), reverse=True)


def _row_candidates(total: int, dim: int) -> list[int]:
    """Tile sizes worth trying for output rows: those of `_candidates`, plus the unrounded
    sizes that split the rows into 2..16 near-equal tiles of at least `dim` rows. An `mm` costs
    max(m, dim) row-cycles and rows are not padded to blocks, so 197 rows as 50 + 49 + 49 + 49
    cost 197 where blocks of 32 (32 x 6 + 5) cost 224."""
    sizes = set(_candidates(total, dim))
    sizes |= {ceil_div(total, parts) for parts in range(2, 17) if total // parts >= dim}
    return sorted(sizes, reverse=True)


def _forced(options: list[int], size: int, total: int) -> list[int]:
    """`options`, or only `size` (capped at the extent) when one is forced (non-zero)."""
    return [min(size, total)] if size else options


def choose_tiling(m: int, n: int, chunks, b_transposed: bool, spad_rows: int, acc_rows: int, config,
                  epilogue_needs=None, forced: tuple[int, int, int] = (0, 0, 0), bias: bool = False,
                  batch: int = 1, a_rows=()) -> Tiling:
    """The feasible tiling with the fewest estimated cycles (`_estimated_cycles`) for `batch`
    matrices of m x n outputs. With
    `epilogue_needs(tm, tn) -> (rows, per_tile, shared)` (a fused chain after the matmul: the
    on-chip rows it needs, {"spad", "acc"}, its cycles per output tile, {"load", "store",
    "vector"}, and the rows of one copy of its once-per-column-range operands; None when the
    chain cannot run on tiles tn columns wide) output tiles leave the
    epilogue its rows. `forced` (tm, tn, tk), each non-zero one fixed, is for experiments;
    `bias`: a bias row is added to every output tile. A resident operand needs
    a second copy only when there is a next one to load while it computes (a next matrix of
    the batch; for B, also a next N tile). `a_rows`: the sub-axes of A's rows in DRAM (loads of
    rows crossing them take more transfers)."""
    dim = config.dim
    force_m, force_n, force_k = forced
    longest = max(length for _, length in chunks)
    tn_options = _forced(_candidates(n, dim), force_n, n)
    tm_options = _forced(_row_candidates(m, dim), force_m, m)
    tk_options = _forced(sorted({longest} | {dim << i for i in range(16) if dim << i < longest}, reverse=True),
                         force_k, longest)
    step_options = [(_split(chunks, tk), 0) for tk in tk_options]
    run = chunks[0][1]
    if len(chunks) > 1:  # A's runs may instead be gathered into block-aligned K steps
        k = sum(length for _, length in chunks)
        unit = math.lcm(run, dim)
        gathered = _forced(sorted({k} | {unit << i for i in range(16) if unit << i < k}, reverse=True), force_k, k)
        step_options += [(_split(((0, k),), tk), run) for tk in gathered if tk > run and tk % run == 0]
    no_epilogue = ({"spad": 0, "acc": 0}, {"load": 0, "store": 0, "vector": 0}, {"spad": 0, "acc": 0})
    best = {False: None, True: None}  # without `a-rows`, with it: (cost, tiling)
    for tn, tm in itertools.product(tn_options, tm_options):
        needs = epilogue_needs(tm, tn) if epilogue_needs else no_epilogue
        if needs is None:
            continue
        extra, per_tile, shared = needs
        tile_rows = tm * ceil_div(tn, dim)
        if 2 * tile_rows + 2 * ceil_div(tn, dim) + extra["acc"] > acc_rows:
            continue
        for steps, gather in step_options:
            blocks = [ceil_div(length, dim) for _, length in steps]
            lengths = [length for _, length in steps]
            a_piece = (tm * sum(blocks), tm * max(blocks))  # rows: resident, streamed
            b_piece = (tn * sum(blocks), tn * max(blocks)) if b_transposed else \
                (sum(lengths) * ceil_div(tn, dim), max(lengths) * ceil_div(tn, dim))
            n_panels = ceil_div(n, tn)
            for a_resident, b_resident, rows_outer in PREFERENCE:
                if a_resident and tm != m or rows_outer and (tm == m or n_panels == 1):
                    continue
                if rows_outer and not (b_resident or gather):  # `a-rows`: see RESIDENT and below
                    continue
                a_space = (2 if batch > 1 or not a_resident else 1) * a_piece[0 if a_resident or rows_outer else 1]
                b_space = (1 if b_resident and batch == 1 and (tn == n or rows_outer) else 2) * b_piece[0 if b_resident else 1]
                b_space *= n_panels if rows_outer and b_resident else 1
                mult_space = (n_panels if rows_outer else 2) * ceil_div(tn, dim) * (2 if bias else 1)  # + the bias rows
                # rows_outer keeps the epilogue's once-per-column-range operands of every range, not two.
                ranges = {mem: extra[mem] + (n_panels - 2) * shared[mem] if rows_outer else extra[mem] for mem in extra}
                gather_space = _gather_rows(tm, max(lengths), gather, dim) if gather else 0
                if a_space + b_space + gather_space + 2 * tile_rows + ranges["spad"] > spad_rows or \
                        2 * tile_rows + mult_space + ranges["acc"] > acc_rows:
                    continue
                tiling = Tiling(tm, tn, steps, a_resident, b_resident, b_transposed, gather, rows_outer)
                cycles, loads = _estimated_cycles(m, n, tiling, bias, per_tile, config, batch, a_rows)
                if rows_outer and b_resident:  # its rows finish early for the next layer, which one op's estimate cannot see
                    cycles = cycles * (100 - B_ALL_DISCOUNT) // 100
                # Of equal estimates, the fewest load cycles: loads the busiest unit hides still
                # delay the neighbouring layers' loads (the patch embedding's, the input's).
                cost = (cycles, loads)
                kind = rows_outer and not b_resident
                if best[kind] is None or cost < best[kind][0]:
                    best[kind] = (cost, tiling)
    if best[False] is None and best[True] is None:
        raise TilingError(f"no tiling fits: K chunks {list(chunks)}, {spad_rows} spad / {acc_rows} acc rows available"
                          + (f", tile sizes forced to (m, n, k) = {forced}" if any(forced) else ""))
    # `a-rows` is there to load less: taken only when it is estimated no slower and loads no more.
    if best[False] is None or best[True] is not None and all(
            ours <= theirs for ours, theirs in zip(best[True][0], best[False][0])):
        return best[True][1]
    return best[False][1]


def _gather_rows(tm: int, step: int, run: int, dim: int) -> int:
    """SPAD rows of gathering A's runs for K steps of `step` columns: two copies of the runs
    as loaded (each in its own column blocks) and one of the transposed step."""
    return 2 * tm * (step // run) * ceil_div(run, dim) + step * ceil_div(tm, dim)


def _tile_sizes(total: int, size: int) -> list[tuple[int, int]]:
    """(tile size, how many tiles) covering `total` in tiles of `size` (the last one smaller)."""
    sizes = [(size, total // size)]
    if total % size:
        sizes.append((total % size, 1))
    return sizes


def _row_transfers(a_rows, m: int, tm: int) -> int:
    """Transfers per K run of an A tile of `tm` rows, on average over the tiles: rows that
    cross A's row sub-axes `a_rows` (e.g. patches: 14 rows of 14) take more than one
    (`transfer.row_pieces`)."""
    if len(a_rows) < 2:
        return 1
    starts = range(0, m, tm)
    return ceil_div(sum(len(list(row_pieces(a_rows, m0, min(m, m0 + tm)))) for m0 in starts), len(starts))


def _estimated_cycles(m: int, n: int, tiling: Tiling, bias: bool, epilogue: dict, config, batch: int = 1,
                      a_rows=()) -> tuple[int, int]:
    """The cost model of the tiling choice, (estimated cycles, load cycles): the busiest unit's cycles
    over the `batch` matrices (every unit runs its own queue and double buffering overlaps them, also from one matrix of
    the batch to the next), plus filling the pipeline once (the first A and B pieces) and
    draining it (the last tile's vector work and store), with the instruction costs of
    docs/architecture.md ("Timing"). Fill and drain count half: the `interleave` pass overlaps
    them with the neighbouring layers' work (half was better than all or none on deit-tiny and
    deit-small, both configurations, measured with that pass). The load cycles are the load unit's
    alone. `epilogue`: a fused chain's cycles per tile; `a_rows`: the sub-axes of A's
    rows in DRAM."""
    dim, bw, latency = config.dim, config.dma_bytes_per_cycle, config.dma_latency
    vector_latency = config.vector_latency
    steps = tiling.steps
    k = sum(length for _, length in steps)
    k_blocks = sum(ceil_div(length, dim) for _, length in steps)

    def dma(rows: int, cols: int, esize: int = 1, transfers: int = 1) -> int:
        return transfers * latency + ceil_div(rows * cols * esize, bw)

    def load_a(rows: int) -> int:
        """Loading A's rows for every K step; gathered runs are one transfer each."""
        pieces = _row_transfers(a_rows, m, rows)
        return dma(rows, k, transfers=pieces * (k // tiling.gather if tiling.gather else len(steps)))

    def gather_a(rows: int) -> int:
        """The vector unit's transposes of gathered runs: each run, then each K step back."""
        if not tiling.gather:
            return 0
        runs = k // tiling.gather
        return runs * (vector_latency + ceil_div(rows * tiling.gather, dim)) + \
            len(steps) * vector_latency + ceil_div(rows * k, dim)

    m_tiles, n_tiles = _tile_sizes(m, tiling.tm), _tile_sizes(n, tiling.tn)
    matrix = load = store = vector = 0
    for tm, m_times in m_tiles:
        for number, (tn, n_times) in enumerate(n_tiles):
            batch_loads = 1 if number == 0 else 0  # rows_outer loads a row tile's A once, for every N tile
            times = m_times * n_times
            matrix += times * (k_blocks * ceil_div(tn, dim) * max(tm, dim) + len(steps) * config.mm_latency)
            vector += times * (vector_latency + ceil_div(tm * tn, dim) + epilogue["vector"])
            store += times * (epilogue["store"] or dma(tm, tn))
            load += times * epilogue["load"]
            vector += times * (vector_latency + ceil_div(tm * tn, dim) if bias else 0)  # the bias added
            if not tiling.b_resident:
                load += times * dma(k, tn, transfers=len(steps))
            a_loads = m_times * batch_loads if tiling.rows_outer else times
            if not tiling.a_resident:
                load += a_loads * load_a(tm)
                vector += a_loads * gather_a(tm)
    if tiling.a_resident:
        load += load_a(m)
        vector += gather_a(m)
    if tiling.b_resident:
        load += sum(times * dma(k, tn, transfers=len(steps)) for tn, times in n_tiles)
    if bias:  # a row vector per N tile
        load += sum(times * dma(1, tn, 4) for tn, times in n_tiles)
    # The first output tile needs all its K steps loaded; the last one's result is then stored.
    fill = load_a(tiling.tm) + gather_a(tiling.tm) + dma(k, tiling.tn, transfers=len(steps))
    drain = vector_latency + ceil_div(tiling.tm * tiling.tn, dim) + epilogue["vector"] + (epilogue["store"] or dma(tiling.tm, tiling.tn))
    return batch * max(matrix, load, store, vector) + (fill + drain) // 2, batch * load


@dataclass(frozen=True)
class MatmulShape:
    """What a qmatmul's tiling depends on besides the on-chip space: output rows and columns of
    one matrix, A's K chunks, whether B is loaded transposed, and how many matrices the batch
    has."""

    m: int
    n: int
    chunks: tuple[tuple[int, int], ...]
    b_transposed: bool
    batch: int = 1
    a_rows: tuple = ()  # the sub-axes (extent, stride) of A's rows in DRAM

    @classmethod
    def of(cls, op: Op, a: DramView, b: DramView, dim: int) -> "MatmulShape":
        """From the op and its operands' DRAM views (any base address)."""
        batch = op.result.type.shape[:-2]
        m, n = op.result.type.shape[-2:]
        k = op.operands[0].type.shape[-1]
        a = a.broadcast_to(batch + (m, k))
        b = b.broadcast_to(batch + (k, n))
        rows, cols = a.as_matrix().axes
        return cls(m, n, k_chunks(cols, k, dim), needs_transpose(b), math.prod(batch), tuple(rows))


# The `resident` attribute: (A resident, B panel resident, rows outer). `b-all`: every B panel
# on chip at once, output tiles row tile by row tile; `a-rows`: row tile by row tile too, each
# row tile of A kept for every N panel while B streams, only for an A gathered on chip (the patch
# embedding), whose every re-load costs vector transposes besides the loads, and only when it
# loads no more than the best other tiling. Without those limits it lost: deit-small large's MLP
# output matmul took it on a 1% lower estimate and ran 4% slower overall, vit-base large's patch
# embedding on a 0.7% lower estimate with 12% more loads (0.15% slower overall).
RESIDENT = {"none": (False, False, False), "a": (True, False, False), "b": (False, True, False),
            "ab": (True, True, False), "b-all": (False, True, True), "a-rows": (False, False, True)}
# Among tilings of equal estimated cycles and load cycles, the first here is taken: `b-all`
# loads each row tile of A once and finishes the output row tile by row tile, so a row-wise
# consumer (the next matmul's row tiles, a LayerNorm) can start early; then the fewest loads.
PREFERENCE = [RESIDENT[name] for name in ("b-all", "ab", "a", "b", "a-rows", "none")]
# Percent taken off a rows-outer tiling's estimate: a consumer of whole rows (the next matmul, a
# LayerNorm) overlaps it from its first row tile on. 3 was tuned with the interleave pass on
# deit-tiny and deit-small: deit-tiny large 1.320 -> 1.279 cycles/roofline, deit-small large
# 1.190 -> 1.200, deit-tiny default 1.060 -> 1.065, vit-base large unchanged.
B_ALL_DISCOUNT = 3


def plan_tiling(op: Op, shape: MatmulShape, config, epilogue=None, forced: tuple[int, int, int] = (0, 0, 0)) -> Tiling:
    """The tiling of `op` in the on-chip memory one op gets (`OnChipPlan`), with the chain
    `epilogue(tn)` (a `VectorChain` for output tiles tn columns wide, views needed for shapes
    only, or None when the chain cannot run on such tiles) fused after it; `TilingError` if
    none fits. Matmuls of the same shape with the same kind of chain (`epilogue.key`) share the
    search."""
    spad, acc = OnChipPlan(config).for_op(0, op.describe())
    bias = len(op.operands) > 2
    key = (shape, spad.free, acc.free, config, forced, bias, getattr(epilogue, "key", None))  # (`config.hash` costs a JSON dump)
    if key not in _PLANNED:
        try:
            _PLANNED[key] = choose_tiling(shape.m, shape.n, shape.chunks, shape.b_transposed, spad.free, acc.free, config,
                                          epilogue_needs(epilogue), forced, bias, shape.batch, shape.a_rows)
        except TilingError as err:
            _PLANNED[key] = err
    if isinstance(_PLANNED[key], TilingError):
        raise _PLANNED[key]
    return _PLANNED[key]


_PLANNED: dict = {}  # plan_tiling's results by what they depend on


def tiling_attrs(tiling: Tiling) -> dict:
    """The op attributes recording `tiling` (its K steps follow from `tile_k` and the chunks)."""
    return {"tile_m": tiling.tm, "tile_n": tiling.tn, "tile_k": max(length for _, length in tiling.steps),
            "resident": next(name for name, key in RESIDENT.items()
                             if key == (tiling.a_resident, tiling.b_resident, tiling.rows_outer))}


def recorded_tiling(op: Op, shape: MatmulShape) -> Tiling:
    """The `Tiling` the `tile-matmul` pass recorded on `op`."""
    missing = [name for name in ("tile_m", "tile_n", "tile_k", "resident") if name not in op.attrs]
    if missing:
        raise VitcError(f"{op.describe()}: no tiling recorded (attribute '{missing[0]}' missing): "
                        f"run the tile-matmul pass before code generation")
    a_resident, b_resident, rows_outer = RESIDENT[op.attrs["resident"]]
    tk, run = op.attrs["tile_k"], shape.chunks[0][1]
    if len(shape.chunks) > 1 and tk > run:  # K steps longer than A's runs: gathered on chip
        k = sum(length for _, length in shape.chunks)
        return Tiling(op.attrs["tile_m"], op.attrs["tile_n"], _split(((0, k),), tk), a_resident, b_resident,
                      shape.b_transposed, run, rows_outer)
    return Tiling(op.attrs["tile_m"], op.attrs["tile_n"], _split(shape.chunks, tk),
                  a_resident, b_resident, shape.b_transposed, 0, rows_outer)


def lower_qmatmul(op: Op, operands: MatmulOperands, builder: ProgramBuilder, spad: Arena, acc: Arena, config,
                  pool=None, epilogue=None) -> None:
    """Emit `op` with its recorded tiling; with `epilogue` (a `VectorChain` fused after it)
    each requantised output tile goes through the chain on chip instead of to DRAM."""
    a_type = op.operands[0].type
    out_shape = op.result.type.shape
    batch = out_shape[:-2]
    m, n = out_shape[-2], out_shape[-1]
    k = a_type.shape[-1]
    a = operands.a.broadcast_to(batch + (m, k))
    b = operands.b.broadcast_to(batch + (k, n))
    tiling = recorded_tiling(op, MatmulShape.of(op, operands.a, operands.b, config.dim))
    if epilogue is not None and tiling.tn != epilogue.cols:
        raise TilingError(f"{op.describe()}: the fused chain runs on tiles of {epilogue.cols} columns, the recorded "
                          f"tile_n is {tiling.tn} of {n} (run tile-matmul after fuse-elementwise)")
    log.debug("%s: M=%d K=%d N=%d batch=%s tiling %s", op.describe(), m, k, n, batch, tiling)
    slots = _Slots(tiling, spad, acc, config.dim, math.prod(batch), n, operands.bias is not None,
                   operands.multipliers is not None)
    emitter = _MatmulEmitter(op, operands, tiling, builder, slots, epilogue)
    if epilogue is not None:
        epilogue.prepare(builder, spad, acc, pool, tiling.tm, ceil_div(n, tiling.tn) if tiling.rows_outer else 2)
    for batch_number, batch_index in enumerate(np.ndindex(*batch)):
        emitter.matrix(batch_number, *(v.at(batch_index) for v in (a, b, operands.out)))


class _MatmulEmitter:
    """Emits one 2-D matrix product of a (possibly batched) qmatmul, tile by tile."""

    def __init__(self, op: Op, operands: MatmulOperands, tiling: Tiling, builder: ProgramBuilder, slots, epilogue):
        a_type, b_type, y_type = op.operands[0].type, op.operands[1].type, op.result.type
        qmin, qmax = dtype_range(y_type.dtype)
        self.requant = {"u": int(y_type.dtype == "u8"), "zy": y_type.quant.zero_point[0], "lo": qmin, "hi": qmax}
        self.mm_fields = {"au": int(a_type.dtype == "u8"), "bu": int(b_type.dtype == "u8"), "bt": int(tiling.b_transposed),
                          "za": a_type.quant.zero_point[0], "zb": _single_zero_point(op, b_type)}
        self.multiplier = op.attrs["multiplier"]
        self.operands, self.tiling, self.builder, self.slots, self.epilogue = operands, tiling, builder, slots, epilogue
        self.m, self.n = y_type.shape[-2], y_type.shape[-1]
        self.counter = _Counter()
        # The on-chip instructions (mm, bias, requant) by what decides them: the tiles alternate
        # between two copies of each buffer, so most tiles repeat an earlier one's exactly.
        self.prepared: dict[tuple, Prepared] = {}

    def _emit_on_chip(self, key: tuple, prepare) -> None:
        """Append the instruction `prepare()` gives, made once per `key`."""
        prepared = self.prepared.get(key)
        if prepared is None:
            prepared = self.prepared[key] = prepare()
        self.builder.replay((prepared,))

    def matrix(self, batch_number: int, a: DramView, b: DramView, out: DramView) -> None:
        """out = requant(a @ b (+ bias)) for one batch index: N tiles outside, M tiles inside;
        with `rows_outer`, every N panel's row vectors (and resident B) first, then the output
        tiles row tile by row tile."""
        tiling = self.tiling
        self.a_kept, self.a_kept_for = {}, None
        b = b.transpose((1, 0)) if tiling.b_transposed else b  # B as its tiles are loaded (`_load_b`)
        panels = []
        for n_number, n0 in enumerate(range(0, self.n, tiling.tn)):
            panels.append(self._panel(b, n_number, n0))
            if tiling.rows_outer:
                continue
            for m0 in range(0, self.m, tiling.tm):
                self.output_tile(batch_number, a, b, out, m0, *panels[-1])
        if tiling.rows_outer:
            for m0 in range(0, self.m, tiling.tm):
                for panel in panels:
                    self.output_tile(batch_number, a, b, out, m0, *panel)

    def _panel(self, b: DramView, n_number: int, n0: int):
        """(n0, tn, B's resident tiles or None, multiplier region or None, bias region or None)
        of one N tile, loading what stays on chip for it."""
        tiling, builder = self.tiling, self.builder
        tn = min(tiling.tn, self.n - n0)
        b_tiles = None
        if tiling.b_resident:
            # Numbered across the batch, so the next matrix's panel loads into the other copy.
            panel = self.counter.next("b panel")
            b_tiles = [_load_b(builder, b, self.slots.b(panel, s, tn, True), step, n0, tiling.b_transposed)
                       for s, step in enumerate(tiling.steps)]
        mult_region = None
        if self.operands.multipliers is not None:
            mult_region = self.slots.multipliers(n_number, tn)
            transfer(builder, "load", self.operands.multipliers, mult_region, 0, n0)
        bias_region = None
        if self.operands.bias is not None:
            bias_region = self.slots.bias_row(n_number, tn)
            transfer(builder, "load", self.operands.bias, bias_region, 0, n0)
        return n0, tn, b_tiles, mult_region, bias_region

    def output_tile(self, batch_number, a, b, out, m0: int, n0: int, tn: int, b_tiles, mult_region,
                    bias_region) -> None:
        """One mm per K step, the bias added, requant, then store (or the fused epilogue)."""
        tiling, builder, slots = self.tiling, self.builder, self.slots
        tm = min(tiling.tm, self.m - m0)
        tile = self.counter.next("tile")
        c = slots.acc_tile(tile, tm, tn)
        accumulate = False
        for s, step in enumerate(tiling.steps):
            a_tile = self._a_tile(batch_number, a, s, step, tm, m0)
            if b_tiles is not None:
                b_tile = b_tiles[s]
            else:
                b_tile = _load_b(builder, b, slots.b(self.counter.next("b"), s, tn, False), step, n0, tiling.b_transposed)
            self._emit_on_chip(("mm", a_tile, b_tile, c, step[1], accumulate), lambda: builder.prepare("mm", {
                "a": a_tile.addr, "b": b_tile.addr, "c": c.addr, "m": tm, "k": step[1], "n": tn,
                "a_bs": a_tile.bs, "b_bs": b_tile.bs, "c_bs": c.bs, "accum": int(accumulate), **self.mm_fields,
            }, reads=[a_tile, b_tile] + ([c] if accumulate else []), writes=[c]))
            accumulate = True
        if bias_region is not None:
            self._emit_on_chip(("bias", c, bias_region), lambda: builder.prepare("valu", {
                "op": "add", "ty": "i32", "bmode": "col", "dst": c.addr, "a": c.addr, "b": bias_region.addr,
                "rows": tm, "cols": tn, "dst_bs": c.bs, "a_bs": c.bs}, reads=[c, bias_region], writes=[c]))
        y = slots.out_tile(tile, tm, tn)
        self._emit_on_chip(("requant", c, y, mult_region), lambda: self._requant(c, y, mult_region))
        if self.epilogue is None:
            transfer(builder, "store", out, y, m0, n0)
        else:
            self.epilogue.apply(builder, tile, y, batch_number * self.m + m0, tm, n0)

    def _requant(self, c: Region, y: Region, mult_region: Region | None) -> Prepared:
        fields = {"src": c.addr, "dst": y.addr, "rows": c.rows, "cols": c.cols, "src_bs": c.bs, "dst_bs": y.bs,
                  **self.requant}
        if mult_region is None:
            fields.update(pc=0, mult=self.multiplier[0])
        else:
            fields.update(pc=1, mult_addr=mult_region.addr)
        return self.builder.prepare("requant", fields, reads=[c] + ([mult_region] if mult_region else []), writes=[y])

    def _a_tile(self, batch_number: int, a: DramView, s: int, step, tm: int, m0: int) -> Region:
        """A's tile for K step `s`: loaded once per batch when resident, once per row tile with
        `rows_outer`, else every time."""
        tiling = self.tiling
        if not (tiling.a_resident or tiling.rows_outer):
            return self._load_a(a, self.slots.a(self.counter.next("a"), s, tm, False), step, m0)
        if self.a_kept_for != m0:  # (the resident A has one row tile)
            self.a_kept, self.a_kept_for = {}, m0
            self.a_number = batch_number if tiling.a_resident else self.counter.next("a rows")
        if s not in self.a_kept:
            self.a_kept[s] = self._load_a(a, self.slots.a(self.a_number, s, tm, True), step, m0)
        return self.a_kept[s]

    def _load_a(self, a: DramView, region: Region, step, m0: int) -> Region:
        """A's rows [m0, m0 + rows) and K step `step` into `region`: one transfer, or, when
        A's runs are gathered, each run into its own column block, transposed run by run into
        the rows of the step's transpose, which is transposed back into `region`."""
        if not self.tiling.gather:
            transfer(self.builder, "load", a, region, m0, step[0])
            return region
        builder, run = self.builder, self.tiling.gather
        staged = self.slots.staged_runs(self.counter.next("staged"), region.rows)
        flipped = self.slots.flipped(region.rows, step[1])
        for j, k0 in enumerate(range(step[0], step[0] + step[1], run)):
            piece = staged.col_blocks(j * ceil_div(run, builder.dim), run, builder.dim)
            transfer(builder, "load", a, piece, m0, k0)
            target = Region("spad", flipped.addr + j * run, run, region.rows, flipped.bs)
            builder.emit("transpose", {"src": piece.addr, "dst": target.addr, "rows": piece.rows, "cols": run,
                                       "src_bs": piece.bs, "dst_bs": target.bs}, reads=[piece], writes=[target])
        builder.emit("transpose", {"src": flipped.addr, "dst": region.addr, "rows": step[1], "cols": region.rows,
                                   "src_bs": flipped.bs, "dst_bs": region.bs}, reads=[flipped], writes=[region])
        return region


def epilogue_needs(epilogue):
    """For the fused chain `epilogue(tn)`: the function (tm, tn) -> (on-chip rows the chain
    needs, its cycles per output tile, the rows of one copy of its once-per-column-range
    operands), or None for tiles it cannot run on (see choose_tiling);
    None without a chain."""
    if epilogue is None:
        return None

    def needs(tm: int, tn: int):
        chain = epilogue(tn)
        if chain is None:
            return None
        once, per_tile = chain.once_rows_needed(), chain.tile_rows_needed(tm)
        return {mem: per_tile[mem] + once[mem] for mem in per_tile}, chain.tile_cycles(tm), chain.shared_rows_per_copy(tm)

    return needs


class _Counter:
    """Running numbers per buffer kind, to alternate between the two copies of each."""

    def __init__(self):
        self.counts = {}

    def next(self, kind: str) -> int:
        self.counts[kind] = self.counts.get(kind, -1) + 1
        return self.counts[kind]


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


def needs_transpose(b: DramView) -> bool:
    cols = b.as_matrix().axes[1]
    if cols[-1][1] == 1 or b.shape[-1] == 1:
        return False
    rows = b.as_matrix().axes[0]
    if rows[-1][1] != 1:
        raise VitcError(f"B operand has neither contiguous rows nor columns in DRAM ({b})")
    return True


def _load_b(builder, b_as_loaded: DramView, region: Region, chunk, n0: int, transposed: bool) -> Region:
    """B's rows `chunk` (a K step) and the columns from `n0` into `region`; `b_as_loaded` is B,
    or its transpose when B is loaded transposed (`Tiling.b_transposed`)."""
    if transposed:
        transfer(builder, "load", b_as_loaded, region, n0, chunk[0])
    else:
        transfer(builder, "load", b_as_loaded, region, chunk[0], n0)
    return region


class _Slots:
    """Two copies of every tile buffer, used alternately (double buffering), except a resident
    operand loaded only once (A of a single matrix; B of a single matrix in one N tile). A resident operand has one region per K step in
    each copy; a streamed one a single region sized for the longest step."""

    def __init__(self, tiling: Tiling, spad: Arena, acc: Arena, dim: int, batch: int, n: int, bias: bool,
                 multipliers: bool):
        tm, tn = tiling.tm, tiling.tn
        lengths = [length for _, length in tiling.steps]
        longest = max(lengths)
        a_lengths = lengths if tiling.a_resident or tiling.rows_outer else [longest]
        b_lengths = lengths if tiling.b_resident else [longest]
        a_copies = 1 if tiling.a_resident and batch == 1 else 2
        b_copies = 1 if tiling.b_resident and batch == 1 and (tn == n or tiling.rows_outer) else 2
        panels = ceil_div(n, tn) if tiling.rows_outer else 1
        b_copies *= panels if tiling.b_resident else 1
        self.a_regions = [[spad.region(tm, length, dim, "A tile") for length in a_lengths] for _ in range(a_copies)]
        if tiling.b_transposed:
            self.b_regions = [[spad.region(tn, length, dim, "B tile") for length in b_lengths] for _ in range(b_copies)]
        else:
            self.b_regions = [[spad.region(length, tn, dim, "B tile") for length in b_lengths] for _ in range(b_copies)]
        # Row vectors that are loaded (bias; per-channel multipliers) come first in the
        # accumulator arena: they are loaded at the start of the op, and rows placed after the
        # accumulator tiles can fall, where the arena wraps around the ring, on the previous
        # chain's tile, so the in-order load unit would wait behind that chain's vector work
        # (measured on the pre-processed models' QGemm biases). Unused multiplier rows keep
        # their place after the tiles.
        rows = max(panels, 2)
        self.bias = [acc.row_vector(tn, dim, "bias") for _ in range(rows)] if bias else []
        if multipliers:
            self.mult = [acc.row_vector(tn, dim, "multipliers") for _ in range(rows)]
        self.c = [acc.region(tm, tn, dim, "accumulator tile") for _ in range(2)]
        self.y = [spad.region(tm, tn, dim, "output tile") for _ in range(2)]
        if not multipliers:
            self.mult = [acc.row_vector(tn, dim, "multipliers") for _ in range(rows)]
        self.lengths = lengths
        self.b_transposed = tiling.b_transposed
        self.sized: dict[tuple, Region] = {}
        if tiling.gather:
            run_blocks = longest // tiling.gather * ceil_div(tiling.gather, dim)
            self.staged = [spad.region(tm, run_blocks * dim, dim, "A runs") for _ in range(2)]
            self.transposed = spad.region(longest, tm, dim, "A step transposed")

    def staged_runs(self, number: int, tm: int) -> Region:
        """The runs of a K step as loaded, each in its own column blocks."""
        full = self.staged[number % 2]
        return self._sized(full, tm, full.cols)

    def flipped(self, tm: int, step: int) -> Region:
        """The transpose (step x tm) of an A tile."""
        return self._sized(self.transposed, step, tm)

    def a(self, number: int, step: int, tm: int, resident: bool) -> Region:
        full = self.a_regions[number % len(self.a_regions)][step if resident else 0]
        return self._sized(full, tm, self.lengths[step])

    def b(self, number: int, step: int, tn: int, resident: bool) -> Region:
        full = self.b_regions[number % len(self.b_regions)][step if resident else 0]
        if self.b_transposed:
            return self._sized(full, tn, self.lengths[step])
        return self._sized(full, self.lengths[step], tn)

    def acc_tile(self, number: int, tm: int, tn: int) -> Region:
        return self._sized(self.c[number % 2], tm, tn)

    def out_tile(self, number: int, tm: int, tn: int) -> Region:
        return self._sized(self.y[number % 2], tm, tn)

    def multipliers(self, number: int, tn: int) -> Region:
        return self._sized(self.mult[number % len(self.mult)], 1, tn)

    def bias_row(self, number: int, tn: int) -> Region:
        return self._sized(self.bias[number % len(self.bias)], 1, tn)

    def _sized(self, full: Region, rows: int, cols: int) -> Region:
        """The first `rows` x `cols` of buffer `full` (the same Region each time: tiles repeat
        the few sizes of their layer and are hashed as keys of prepared instructions)."""
        key = (full, rows, cols)
        region = self.sized.get(key)
        if region is None:
            region = self.sized[key] = Region(full.mem, full.addr, rows, cols, full.bs)
        return region
