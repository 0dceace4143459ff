"""Token scheduling from declared accesses: a cross-unit conflict gets exactly one signal/wait
pair, same-unit order needs none, and a long run of loads before their users never overflows a
token queue."""

from compiler.codegen.program import ProgramBuilder
from compiler.codegen.region import Region
from compiler.codegen.tokens import schedule_tokens

LOAD, STORE, MATRIX, VECTOR = 1, 2, 4, 8
SIZES = {"spad": 1024, "acc": 256, "dram": 4096}


def _load(builder, addr, dram=0):
    builder.emit("dma.load", {"mem": "spad", "addr": addr, "rows": 4, "cols": 16, "bs": 4, "dram": dram, "dram_stride": 16},
                 reads=[("dram", dram, dram + 64)], writes=[Region("spad", addr, 4, 16, 4)])


def _mm(builder, a, c):
    builder.emit("mm", {"a": a, "b": a, "c": c, "m": 4, "k": 16, "n": 16, "a_bs": 4, "b_bs": 16, "c_bs": 4},
                 reads=[Region("spad", a, 4, 16, 4)], writes=[Region("acc", c, 4, 16, 4)])


def test_read_after_write_gets_one_token_pair():
    b = ProgramBuilder(16)
    _load(b, 0)
    _load(b, 100)
    _mm(b, 0, 0)
    _mm(b, 0, 8)
    out = schedule_tokens(b.items, SIZES, 16)
    assert [i.fields["signal"] for i in out] == [MATRIX, 0, 0, 0]
    assert [i.fields["wait"] for i in out] == [0, 0, LOAD, 0]


def test_write_after_read_orders_the_reload():
    b = ProgramBuilder(16)
    _load(b, 0)
    _mm(b, 0, 0)
    _load(b, 0, dram=64)  # overwrites what mm reads
    out = schedule_tokens(b.items, SIZES, 16)
    assert out[1].fields["signal"] == LOAD and out[2].fields["wait"] == MATRIX


def test_many_loads_before_their_users_stay_within_the_queue_depth():
    b = ProgramBuilder(16)
    for i in range(40):
        _load(b, 4 * i)
    for i in range(40):
        _mm(b, 4 * i, 0)
    out = schedule_tokens(b.items, SIZES, 4)  # the checker inside raises if a queue overflows
    assert sum(bool(i.fields["signal"]) for i in out) <= 40


def test_a_signal_that_would_overfill_the_queue_moves_to_the_earliest_load_that_fits():
    # depth 2: when M2 needs L2, M1's token (from L1) may still wait in the queue after L2, so
    # L2 cannot signal; L3 comes after M1's wait and can: the signal moves there, not to L4 (the
    # last load before M2), which would hold M2 back until L4 is done as well
    b = ProgramBuilder(16)
    _load(b, 0)       # 0: L1
    _load(b, 100)     # 1: L2
    _mm(b, 0, 0)      # 2: M1 reads L1
    _load(b, 200)     # 3: L3
    _load(b, 300)     # 4: L4
    _mm(b, 100, 8)    # 5: M2 reads L2
    out = schedule_tokens(b.items, SIZES, 2)
    assert [i.fields["signal"] for i in out] == [MATRIX, 0, 0, MATRIX, 0, 0]
    assert [i.fields["wait"] for i in out] == [0, 0, LOAD, 0, 0, LOAD]


def test_repeated_accesses_on_one_unit_wait_once():
    # the second and third mm read and write exactly what the first does, right after it: the
    # first waited for the load; nothing else ran since, so they need no token
    b = ProgramBuilder(16)
    _load(b, 0)
    _mm(b, 0, 0)
    _mm(b, 0, 0)
    _mm(b, 0, 0)
    out = schedule_tokens(b.items, SIZES, 16)
    assert [i.fields["wait"] for i in out] == [0, LOAD, 0, 0]
    assert [i.fields["signal"] for i in out] == [MATRIX, 0, 0, 0]


def test_repeated_accesses_after_another_units_write_wait_again():
    # the same mm twice with a reload of its input in between: the reload waits for the first
    # mm (write after read), the second mm for the reload (read after write)
    b = ProgramBuilder(16)
    _load(b, 0)
    _mm(b, 0, 0)
    _load(b, 0, dram=64)
    _mm(b, 0, 0)
    out = schedule_tokens(b.items, SIZES, 16)
    assert [i.fields["wait"] for i in out] == [0, LOAD, MATRIX, LOAD]
    assert [i.fields["signal"] for i in out] == [MATRIX, LOAD, MATRIX, 0]


# ---- random programs against the rule of tokens.py's docstring, written out naively ----------

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from compiler.codegen.tokens import DRAM_GRANULE, token_masks  # noqa: E402

UNIT_MNEMONICS = ("dma.load", "dma.store", "mm", "valu")  # units 0..3
ARENA = SIZES["dram"]


def _random_access(rng):
    space = rng.choice(["spad", "acc", "dram", "dram"])
    if space == "dram":  # some in the constant section above the arena, some across its end
        lo = int(rng.integers(0, ARENA + 256))
        return "dram", lo, lo + int(rng.integers(1, 200))
    size = SIZES[space]
    lo = int(rng.integers(0, size - 1))
    return space, lo, lo + int(rng.integers(1, min(64, size - lo) + 1))


def _random_program(seed: int, n: int = 300):
    """Instructions with random accesses; a third repeat the accesses of the one before (the
    scheduler's shortcut), on the same unit or another."""
    rng = np.random.default_rng(seed)
    b = ProgramBuilder(16)
    reads, writes = [], []
    for _ in range(n):
        if not reads or rng.random() > 0.33:
            reads = [_random_access(rng) for _ in range(int(rng.integers(0, 4)))]
            writes = [_random_access(rng) for _ in range(int(rng.integers(0, 3)))]
        b.emit(UNIT_MNEMONICS[int(rng.integers(0, 4))], {}, reads=reads, writes=writes)
    return b.items


def _touched(access) -> set:
    """The rows (on chip) or granules (DRAM arena) an access covers, by brute force."""
    space, lo, hi = access
    if space != "dram":
        return {(space, r) for r in range(lo, hi)}
    if lo >= ARENA:
        return set()
    return {("dram", g) for g in range(lo // DRAM_GRANULE, -(-min(hi, ARENA) // DRAM_GRANULE))}


def _conflicts(items):
    """For each instruction i, per other unit s: the numbers of s's instructions before i that
    wrote anything i touches or read anything i writes."""
    unit = [UNIT_MNEMONICS.index(item.mnemonic) for item in items]
    read = [set().union(*map(_touched, item.reads)) for item in items]
    written = [set().union(*map(_touched, item.writes)) for item in items]
    number = [sum(u == unit[i] for u in unit[:i + 1]) for i in range(len(items))]
    for i in range(len(items)):
        yield i, unit[i], {j: (unit[j], number[j]) for j in range(i) if unit[j] != unit[i]
                           and (written[j] & (read[i] | written[i]) or read[j] & written[i])}, number


@pytest.mark.parametrize("seed", range(6))
def test_masks_are_the_docstring_rule_on_random_programs(seed):
    # with a queue deeper than the program, no signal ever moves: every instruction waits for
    # the latest conflicting instruction of each other unit unless it already waited for it
    # or a later one, and that instruction signals it
    items = _random_program(seed)
    waits, signals = [0] * len(items), [0] * len(items)
    satisfied = {}
    for i, d, earlier, number in _conflicts(items):
        for s in range(4):
            need = max((n for (u, n) in earlier.values() if u == s), default=0)
            if need > satisfied.get((d, s), 0):
                j = next(j for j, (u, n) in earlier.items() if (u, n) == (s, need))
                waits[i] |= 1 << s
                signals[j] |= 1 << d
                satisfied[d, s] = need
    got_waits, got_signals = token_masks(items, SIZES, len(items) + 1)
    for i in range(len(items)):
        assert (got_waits[i], got_signals[i]) == (waits[i], signals[i]), \
            f"instruction {i}: wait/signal {got_waits[i]:#x}/{got_signals[i]:#x}, expected {waits[i]:#x}/{signals[i]:#x}"


@pytest.mark.parametrize("seed", range(6))
def test_a_shallow_queue_keeps_every_ordering_on_random_programs(seed):
    # depth 2 moves signals later; each conflicting pair must still be ordered: the last wait
    # of i's unit on the other unit, at or before i, pairs with a signal at or after the conflict
    items = _random_program(seed)
    waits, signals = token_masks(items, SIZES, 2)  # raises itself if a queue overflows
    unit = [UNIT_MNEMONICS.index(item.mnemonic) for item in items]
    pushed = {(s, d): [] for s in range(4) for d in range(4)}  # the pushing instruction of each token
    covered = {}  # (dst, src) -> the source instruction index the latest wait is paired with
    popped = {(s, d): 0 for s in range(4) for d in range(4)}
    for i, d, earlier, _ in _conflicts(items):
        for s in range(4):
            if waits[i] >> s & 1:
                covered[d, s] = pushed[s, d][popped[s, d]]
                popped[s, d] += 1
        for j, (s, _) in earlier.items():
            assert covered.get((d, s), -1) >= j, f"instruction {i} is not ordered after instruction {j} (unit {s})"
        for t in range(4):
            if signals[i] >> t & 1:
                pushed[d, t].append(i)
