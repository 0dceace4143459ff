"""Interleaving a whole program's layers (`interleave.interleave`): on random programs the result
is a permutation that keeps each layer's order and every conflicting pair's order (checked pair
by pair against a brute-force conflict test, also on a program already interleaved, where each
stretch of one layer keeps its order), and nothing crosses a control instruction; window 1 keeps the
program. On hand-made programs: an independent matmul layer moves up between a vector layer's
tiles, a third layer joins only when the window holds three, and the emulated program gets
faster and stays hazard-free. The cost estimate reads enum fields given by name as the emulator
reads their codes (a scratchpad DMA moves 1-byte elements)."""

import numpy as np
import pytest

from compiler.codegen.interleave import costs, interleave
from compiler.codegen.program import Emitted
from compiler.codegen.tokens import schedule_tokens
from isa.config import load_config
from isa.container import Binary, write_vitb
from isa.costs import cycles
from isa.encoding import decode, encode, encode_program
from runtime_emulator import run_binary

CONFIG = load_config("default")
MNEMONICS = {"load": "dma.load", "store": "dma.store", "matrix": "mm", "vector": "copy"}
TRACKED_DRAM = 1 << 20


def _item(unit: str, layer: int, reads, writes) -> Emitted:
    return Emitted(MNEMONICS[unit], {"rows": 4, "cols": 16, "m": 4, "n": 16, "k": 16, "depth": 1, "mem": "spad"},
                   layer, list(reads), list(writes))


def _conflict(x: Emitted, y: Emitted) -> bool:
    def overlap(a, b):
        return a[0] == b[0] and a[1] < b[2] and b[1] < a[2]

    return any(overlap(w, a) for w in x.writes for a in y.reads + y.writes) or \
        any(overlap(r, w) for r in x.reads for w in y.writes)


def _random_layer(rng, layer: int, count: int, span: int) -> list[Emitted]:
    """Accesses of 1 to 7 rows below `span`, and one in ten of up to `span` rows (a wide span
    cuts into many pieces: the conflict tables' whole blocks)."""
    items = []
    for _ in range(count):
        unit = ["load", "store", "matrix", "vector"][rng.integers(4)]
        accesses = []
        for _ in range(2):
            space = ["spad", "acc", "dram"][rng.integers(3)]
            lo = int(rng.integers(0, span))
            length = int(rng.integers(1, span)) if rng.random() < 0.1 else int(rng.integers(1, 8))
            accesses.append((space, lo, lo + length))
        items.append(_item(unit, layer, accesses[:1], accesses[1:]))
    return items


def _random_program(seed: int) -> list[Emitted]:
    rng = np.random.default_rng(seed)
    span = 60 if seed % 2 else 400
    return [item for layer in range(int(rng.integers(2, 7)))
            for item in _random_layer(rng, layer, int(rng.integers(1, 40)), span)]


def _stretches(items: list[Emitted]) -> list[list[Emitted]]:
    """The maximal stretches of consecutive instructions of one layer (the layers the pass keeps
    in order; in a program emitted layer by layer, the layers themselves)."""
    groups = []
    for i, item in enumerate(items):
        if i == 0 or item.layer != items[i - 1].layer:
            groups.append([])
        groups[-1].append(item)
    return groups


def _assert_valid_reordering(before: list[Emitted], after: list[Emitted]) -> None:
    assert sorted(map(id, after)) == sorted(map(id, before))
    position = {id(item): i for i, item in enumerate(after)}
    for group in _stretches(before):
        mine = [position[id(item)] for item in group]
        assert mine == sorted(mine), f"layer {group[0].layer} lost its order"
    for i, x in enumerate(before):
        for j in range(i + 1, len(before)):
            y = before[j]
            if _conflict(x, y):
                assert position[id(x)] < position[id(y)], f"conflicting instructions {i} and {j} swapped"


@pytest.mark.parametrize("window", [2, 3, 5])
@pytest.mark.parametrize("seed", range(12))
def test_every_layer_order_and_every_conflicting_pair_is_kept(seed, window):
    program = _random_program(seed)
    _assert_valid_reordering(program, interleave(program, CONFIG, window, TRACKED_DRAM))


def test_random_programs_really_are_reordered():
    moved = sum(interleave(p, CONFIG, 3, TRACKED_DRAM) != p for p in map(_random_program, range(12)))
    assert moved >= 6


@pytest.mark.parametrize("seed", range(8))
def test_an_already_interleaved_program_is_reordered_correctly_again(seed):
    once = interleave(_random_program(seed), CONFIG, 3, TRACKED_DRAM)
    _assert_valid_reordering(once, interleave(once, CONFIG, 4, TRACKED_DRAM))


@pytest.mark.parametrize("seed", range(6))
def test_nothing_crosses_a_control_instruction(seed):
    first, second = _random_program(seed), _random_program(seed + 100)
    halt = Emitted("halt", {}, 0)
    result = interleave(first + [halt] + second, CONFIG, 3, TRACKED_DRAM)
    cut = result.index(halt)
    assert sorted(map(id, result[:cut])) == sorted(map(id, first))
    _assert_valid_reordering(first, result[:cut])
    _assert_valid_reordering(second, result[cut + 1:])


def test_window_one_keeps_the_program():
    program = _random_program(3)
    assert interleave(program, CONFIG, 1, TRACKED_DRAM) == program


def _reference_interleave(items: list[Emitted], window: int) -> list[Emitted]:
    """The module docstring's list scheduling written out naively for one section without
    control instructions: runs, every earlier conflicting run by brute force, the window of the
    oldest unfinished layers, the earliest estimated start (then program order), then on that
    unit the earliest finish (then program order)."""
    unit = {"dma.load": 0, "dma.store": 1, "mm": 2, "copy": 3}
    runs, run_layer, layer = [], [], -1
    for i, item in enumerate(items):
        new_layer = i == 0 or item.layer != items[i - 1].layer
        layer += new_layer
        if new_layer or unit[item.mnemonic] != unit[items[i - 1].mnemonic]:
            runs.append([])
            run_layer.append(layer)
        runs[-1].append(item)
    cost = [sum(cycles(x.mnemonic, {**x.fields, "mem": 0}, CONFIG) for x in run) for run in runs]
    earlier = [[j for j in range(r) if any(_conflict(x, y) for x in runs[j] for y in runs[r])] for r in range(len(runs))]
    waiting = [[r for r in range(len(runs)) if run_layer[r] == q] for q in range(layer + 1)]
    finish, unit_free, order = {}, [0] * 4, []
    while any(waiting):
        oldest = next(q for q, left in enumerate(waiting) if left)
        candidates = []
        for q in range(oldest, min(oldest + window, len(waiting))):
            if not waiting[q] or any(j not in finish for j in earlier[waiting[q][0]]):
                continue
            run = waiting[q][0]
            ready = max((finish[j] for j in earlier[run]), default=0)
            candidates.append((max(ready, unit_free[unit[runs[run][0].mnemonic]]), run))
        start, best = min(candidates)
        best_unit = unit[runs[best][0].mnemonic]
        end, best = min((start + cost[run], run) for start, run in candidates if unit[runs[run][0].mnemonic] == best_unit)
        finish[best] = unit_free[best_unit] = end
        waiting[run_layer[best]].pop(0)
        order.append(best)
    return [item for run in order for item in runs[run]]


def _sized(program: list[Emitted], seed: int) -> list[Emitted]:
    """The program with random sizes, so the instructions' costs differ."""
    rng = np.random.default_rng(seed)
    return [Emitted(item.mnemonic, {**item.fields, "rows": int(rng.integers(1, 80)), "cols": int(rng.integers(1, 300)),
                                    "m": int(rng.integers(1, 80)), "k": int(rng.integers(1, 100))},
                    item.layer, item.reads, item.writes) for item in program]


@pytest.mark.parametrize("window", [2, 3])
@pytest.mark.parametrize("seed", range(10))
def test_the_order_is_the_naive_list_schedule(seed, window):
    program = _sized(_random_program(seed), seed)
    got, expected = interleave(program, CONFIG, window, TRACKED_DRAM), _reference_interleave(program, window)
    position = {id(item): i for i, item in enumerate(program)}
    for index, (mine, theirs) in enumerate(zip(got, expected)):
        assert mine is theirs, (f"position {index}: instruction {position[id(mine)]} ({mine.mnemonic}, layer {mine.layer}), "
                                f"the naive schedule has {position[id(theirs)]} ({theirs.mnemonic}, layer {theirs.layer})")
    assert len(got) == len(expected)


def _vector_layer(layer: int, copies: int = 8, buffers: int = 4) -> list[Emitted]:
    """Four row tiles loaded, copied `copies` times on the vector unit (a long stage), stored;
    the tiles take turns in `buffers` buffers (with one, each load waits for the copies before)."""
    dim = CONFIG.dim
    items = []
    for t in range(4):
        src, dst = t % buffers * 64, 1000 + t % buffers * 64
        dram_in, dram_out = t * 64 * dim, 65536 + t * 64 * dim
        fields = {"mem": "spad", "rows": 64, "cols": dim, "bs": 64, "depth": 1, "depth_stride": 0,
                  "dram_stride": dim, "dram_depth_stride": 0}
        items.append(Emitted("dma.load", {**fields, "addr": src, "dram": dram_in}, layer,
                             [("dram", dram_in, dram_in + 64 * dim)], [("spad", src, src + 64)]))
        for _ in range(copies):
            items.append(Emitted("copy", {"mem": "spad", "src": src, "dst": dst, "rows": 64, "cols": dim,
                                          "src_bs": 64, "dst_bs": 64}, layer,
                                 [("spad", src, src + 64)], [("spad", dst, dst + 64)]))
        items.append(Emitted("dma.store", {**fields, "addr": dst, "dram": dram_out}, layer,
                             [("spad", dst, dst + 64)], [("dram", dram_out, dram_out + 64 * dim)]))
    return items


def _matmul_layer(layer: int, spad: int, acc: int, dram: int, matmuls: int = 6) -> list[Emitted]:
    """Two operand loads and `matmuls` accumulating 64x64x64 matmuls on rows of its own."""
    a, b, c = spad, spad + 256, acc
    fields = {"mem": "spad", "rows": 64, "cols": 64, "bs": 64, "depth": 1, "depth_stride": 0, "dram_stride": 64,
              "dram_depth_stride": 0}
    items = [Emitted("dma.load", {**fields, "addr": a, "dram": dram}, layer,
                     [("dram", dram, dram + 4096)], [("spad", a, a + 256)]),
             Emitted("dma.load", {**fields, "addr": b, "dram": dram + 4096}, layer,
                     [("dram", dram + 4096, dram + 8192)], [("spad", b, b + 256)])]
    for _ in range(matmuls):
        items.append(Emitted("mm", {"a": a, "b": b, "c": c, "m": 64, "k": 64, "n": 64, "a_bs": 64, "b_bs": 64,
                                    "c_bs": 64, "accum": 1}, layer,
                             [("spad", a, a + 256), ("spad", b, b + 256), ("acc", c, c + 256)], [("acc", c, c + 256)]))
    return items


def _cycles(items) -> int:
    instructions = schedule_tokens(items + [Emitted("halt", {}, 2)], {"spad": CONFIG.spad_rows, "acc": CONFIG.acc_rows,
                                                                      "dram": TRACKED_DRAM}, CONFIG.token_queue_depth)
    binary = Binary(CONFIG.hash, encode_program(instructions), b"", TRACKED_DRAM, TRACKED_DRAM, [],
                    ["vector", "matmul", "matmul 2"])
    return run_binary(write_vitb(binary), {}, CONFIG, check_hazards=True).stats.cycles


def test_an_independent_matmul_moves_between_the_vector_tiles_and_the_program_gets_faster():
    sequential = _vector_layer(0) + _matmul_layer(1, CONFIG.spad_rows // 2, 0, 131072)
    items = interleave(sequential, CONFIG, 2, TRACKED_DRAM)
    first_mm = next(i for i, item in enumerate(items) if item.mnemonic == "mm")
    last_copy = max(i for i, item in enumerate(items) if item.mnemonic == "copy")
    assert first_mm < last_copy
    assert _cycles(items) < _cycles(sequential)


def test_a_third_layer_joins_only_when_the_window_holds_three():
    half = CONFIG.spad_rows // 2
    sequential = (_vector_layer(0, copies=30, buffers=1) + _matmul_layer(1, half, 0, 131072, matmuls=2)
                  + _matmul_layer(2, half + 1024, CONFIG.acc_rows // 2, 262144, matmuls=2))
    last_copy = {}
    first_of_third = {}
    for window in (2, 3):
        items = interleave(sequential, CONFIG, window, TRACKED_DRAM)
        last_copy[window] = max(i for i, item in enumerate(items) if item.mnemonic == "copy")
        first_of_third[window] = next(i for i, item in enumerate(items) if item.layer == 2)
    assert first_of_third[2] > last_copy[2]
    assert first_of_third[3] < last_copy[3]
    assert _cycles(interleave(sequential, CONFIG, 3, TRACKED_DRAM)) < _cycles(interleave(sequential, CONFIG, 2, TRACKED_DRAM))


@pytest.mark.parametrize("mem, esize", [("spad", 1), ("acc", 4)])
def test_costs_read_enum_fields_by_name_as_the_emulator_reads_their_codes(mem, esize):
    fields = {"mem": mem, "addr": 0, "rows": 64, "cols": 64, "bs": 64, "depth": 1, "depth_stride": 0,
              "dram": 0, "dram_stride": 64 * esize, "dram_depth_stride": 0, "zero": 0}
    item = Emitted("dma.load", fields, 0)
    decoded = decode(encode(item.instruction()))
    assert costs([item], CONFIG).tolist() == [cycles("dma.load", decoded.fields, CONFIG)]
    assert costs([item], CONFIG).tolist() == [CONFIG.dma_latency + -(-64 * 64 * esize // CONFIG.dma_bytes_per_cycle)]


def test_costs_of_a_mixed_program_are_each_decoded_instructions_cycles():
    """Per-mnemonic columns, enum names, fields left to their defaults (a DMA's `depth`, a load's
    `zero`) and a store, which has no `zero` field: each instruction costs what the emulator's
    model gives its decoded form."""
    rng = np.random.default_rng(5)
    items = []
    for _ in range(200):
        rows, cols = int(rng.integers(1, 70)), int(rng.integers(1, 300))
        kind = rng.integers(5)
        if kind == 0:
            fields = {"mem": ["spad", "acc"][rng.integers(2)], "addr": 0, "rows": rows, "cols": cols, "bs": rows,
                      "dram": 0, "dram_stride": cols}
            if rng.random() < 0.5:
                fields["zero"] = int(rng.integers(2))
            items.append(Emitted("dma.load", fields, 0))
        elif kind == 1:
            items.append(Emitted("dma.store", {"mem": int(rng.integers(2)), "addr": 0, "rows": rows, "cols": cols,
                                               "bs": rows, "dram": 0, "dram_stride": cols, "depth": int(rng.integers(1, 4)),
                                               "depth_stride": 0, "dram_depth_stride": 0}, 0))
        elif kind == 2:
            items.append(Emitted("mm", {"a": 0, "b": 0, "c": 0, "m": rows, "k": cols, "n": int(rng.integers(1, 70)),
                                        "a_bs": rows, "b_bs": cols, "c_bs": rows}, 0))
        elif kind == 3:
            items.append(Emitted("rowsum", {"src": 0, "dst": 0, "rows": rows, "cols": cols, "src_bs": rows}, 0))
        else:
            items.append(Emitted("copy", {"mem": "acc", "src": 0, "dst": 0, "rows": rows, "cols": cols,
                                          "src_bs": rows, "dst_bs": rows}, 0))
    decoded = [decode(encode(item.instruction())) for item in items]
    expected = [cycles(instr.mnemonic, instr.fields, CONFIG) for instr in decoded]
    got = costs(items, CONFIG).tolist()
    for index, (mine, theirs) in enumerate(zip(got, expected)):
        assert mine == theirs, f"instruction {index} ({items[index].mnemonic}): costs {mine}, cycles {theirs}"
