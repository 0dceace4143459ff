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
