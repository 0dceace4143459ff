"""Interleaving two layers' instructions (`interleave.interleave_tail`): the result is a
permutation that keeps each layer's order and every conflicting pair's order (checked pair by
pair against a brute-force conflict test), the tail of the layer before the previous one is left
alone, and a vector-only layer followed by an independent matmul layer really overlaps (the
matmul's work moves up between the vector layer's tiles, and the emulated program is faster and
hazard-free)."""

import numpy as np
import pytest

from compiler.codegen.interleave import interleave_tail
from compiler.codegen.program import Emitted
from isa.config import load_config
from isa.container import Binary, write_vitb
from isa.encoding import encode_program
from compiler.codegen.tokens import schedule_tokens
from runtime_emulator import run_binary

CONFIG = load_config("default")
MNEMONICS = {"load": "dma.load", "store": "dma.store", "matrix": "mm", "vector": "copy"}


def _item(unit: str, layer: int, reads, writes) -> Emitted:
    return Emitted(MNEMONICS[unit], {"rows": 4, "cols": 16, "m": 4, "n": 16, "k": 16, "depth": 1, "mem": "spad"},
                   layer, list(reads), list(writes))


def _conflict(x: Emitted, y: Emitted) -> bool:
    def overlap(a, b):
        return a[0] == b[0] and a[1] < b[2] and b[1] < a[2]

    return any(overlap(w, a) for w in x.writes for a in y.reads + y.writes) or \
        any(overlap(r, w) for r in x.reads for w in y.writes)


def _random_layer(rng, layer: int, count: int) -> list[Emitted]:
    items = []
    for _ in range(count):
        unit = ["load", "store", "matrix", "vector"][rng.integers(4)]
        accesses = []
        for _ in range(2):
            space = ["spad", "acc", "dram"][rng.integers(3)]
            lo = int(rng.integers(0, 60))
            accesses.append((space, lo, lo + int(rng.integers(1, 8))))
        items.append(_item(unit, layer, accesses[:1], accesses[1:]))
    return items


@pytest.mark.parametrize("seed", range(20))
def test_merge_keeps_layer_order_and_every_conflicting_pair(seed):
    rng = np.random.default_rng(seed)
    older, previous, new = (_random_layer(rng, layer, int(rng.integers(1, 30))) for layer in range(3))
    items = older + previous + new
    interleave_tail(items, len(older) + len(previous), CONFIG)
    assert items[:len(older)] == older  # only the last two layers move
    merged = items[len(older):]
    assert sorted(map(id, merged)) == sorted(map(id, previous + new))
    position = {id(item): i for i, item in enumerate(merged)}
    for layer in (previous, new):
        assert [position[id(item)] for item in layer] == sorted(position[id(item)] for item in layer)
    for p in previous:
        for n in new:
            if _conflict(p, n):
                assert position[id(p)] < position[id(n)]


def _vector_then_matmul():
    """Layer 0: four row tiles loaded, copied on the vector unit, stored (on-chip half 0).
    Layer 1: an independent matmul (loads, mm) on half 1, with its result stored."""
    dim = CONFIG.dim
    vector_layer, matmul_layer = [], []
    for t in range(4):
        src, dst = t * 64, 1000 + t * 64
        dram_in, dram_out = t * 64 * dim, 65536 + t * 64 * dim
        fields = {"mem": "spad", "rows": 64, "cols": dim, "bs": 64, "depth": 1, "depth_stride": 0,
                  "dram_stride": dim, "dram_depth_stride": 0}
        vector_layer.append(Emitted("dma.load", {**fields, "addr": src, "dram": dram_in}, 0,
                                    [("dram", dram_in, dram_in + 64 * dim)], [("spad", src, src + 64)]))
        for _ in range(8):  # a long vector stage per tile
            vector_layer.append(Emitted("copy", {"mem": "spad", "src": src, "dst": dst, "rows": 64, "cols": dim,
                                                 "src_bs": 64, "dst_bs": 64}, 0,
                                        [("spad", src, src + 64)], [("spad", dst, dst + 64)]))
        vector_layer.append(Emitted("dma.store", {**fields, "addr": dst, "dram": dram_out}, 0,
                                    [("spad", dst, dst + 64)], [("dram", dram_out, dram_out + 64 * dim)]))
    half = CONFIG.spad_rows // 2
    a, b, c = half, half + 256, 0
    fields = {"mem": "spad", "rows": 64, "cols": 64, "bs": 64, "depth": 1, "depth_stride": 0, "dram_stride": 64,
              "dram_depth_stride": 0}
    matmul_layer.append(Emitted("dma.load", {**fields, "addr": a, "dram": 131072}, 1,
                                [("dram", 131072, 131072 + 4096)], [("spad", a, a + 256)]))
    matmul_layer.append(Emitted("dma.load", {**fields, "addr": b, "dram": 135168}, 1,
                                [("dram", 135168, 135168 + 4096)], [("spad", b, b + 256)]))
    for _ in range(6):
        matmul_layer.append(Emitted("mm", {"a": a, "b": b, "c": c, "m": 64, "k": 64, "n": 64, "a_bs": 64, "b_bs": 64,
                                           "c_bs": 64, "accum": 1}, 1,
                                    [("spad", a, a + 256), ("spad", b, b + 256), ("acc", c, c + 256)],
                                    [("acc", c, c + 256)]))
    return vector_layer, matmul_layer


def _cycles(items) -> int:
    instructions = schedule_tokens(items + [Emitted("halt", {}, 1)], {"spad": CONFIG.spad_rows, "acc": CONFIG.acc_rows,
                                                                      "dram": 1 << 20}, CONFIG.token_queue_depth)
    binary = Binary(CONFIG.hash, encode_program(instructions), b"", 1 << 20, 1 << 20, [], ["vector", "matmul"])
    return run_binary(write_vitb(binary), {}, CONFIG, check_hazards=True).stats.cycles


def test_independent_matmul_moves_between_the_vector_tiles_and_the_program_gets_faster():
    vector_layer, matmul_layer = _vector_then_matmul()
    sequential = vector_layer + matmul_layer
    items = list(sequential)
    interleave_tail(items, len(vector_layer), CONFIG)
    first_mm = next(i for i, item in enumerate(items) if item.mnemonic == "mm")
    last_vector = max(i for i, item in enumerate(items) if item.mnemonic == "copy")
    assert first_mm < last_vector
    assert _cycles(items) < _cycles(sequential)


def test_a_layer_ending_in_halt_is_left_alone():
    vector_layer, matmul_layer = _vector_then_matmul()
    items = vector_layer + [Emitted("halt", {}, 0)]
    interleave_tail(items, len(vector_layer), CONFIG)
    assert items == vector_layer + [items[-1]] and items[-1].mnemonic == "halt"
