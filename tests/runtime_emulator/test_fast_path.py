"""The emulator's fast paths give exactly what its general paths give, on real compiled programs
and on programs built to defeat them.

- A timed run without hazard checks (what `vitc run` and the benchmark do) against the same run
  with hazard checks, and against a functional-only run: every output byte, every statistic,
  every instruction's start and end cycle, the trace.
- Each op's instruction, built from its class's decoded operands, against decoding its word.
- The one-pass program-order schedule (`scheduler._in_program_order`) against the event-driven
  simulation (`scheduler._event_driven`) for the same program and token-queue depth, including
  shallow queues where the pass must give up; and programs where it must give up.
- `mm` summing in float32 BLAS when every partial sum is below 2^24, in float64 otherwise,
  against Python integers; qadd's double-rounding fallback at a float32 halfway point, against
  the fma computed with fractions, and its skipping the search for such points only where
  every float64 sum is exact.
"""

from pathlib import Path

import numpy as np
import pytest

from compiler.cli.main import main as vitc_main
from isa.config import load_config
from isa.container import read_vitb
from isa.encoding import decode
from models import zoo
from runtime_emulator import run_binary
from runtime_emulator import program, scheduler
from runtime_emulator.machine import Machine
from runtime_emulator.semantics import qlinear
from tests.runtime_emulator.harness import ProgramBuilder, assert_equal, load, mask, store
from tests.runtime_emulator.test_matrix import reference_mm
from tests.runtime_emulator.test_qlinear import fma, run_q, saturate
from tests.runtime_emulator.test_timing import config_with_token_depth

F32 = np.float32


@pytest.fixture(scope="module", params=["default", "large"])
def compiled(request, tmp_path_factory):
    """vit-micro compiled by `vitc compile` for a configuration: (binary bytes, config, inputs)."""
    out = tmp_path_factory.mktemp("fast_path") / f"vit-micro-{request.param}.vitb"
    model = str(zoo.quantized_model_path("vit-micro", zoo.VARIANTS[0]))
    assert vitc_main(["compile", model, "-o", str(out), "--hw", request.param]) == 0
    return Path(out).read_bytes(), load_config(request.param), zoo.sample_input("vit-micro", 0)


def assert_same_run(fast, reference) -> None:
    assert fast.outputs.keys() == reference.outputs.keys()
    for name in fast.outputs:
        assert_equal(name, fast.outputs[name], reference.outputs[name])
    assert_equal("dram", fast.dram, reference.dram)
    assert_equal("start cycles", fast.timeline.start, reference.timeline.start)
    assert_equal("end cycles", fast.timeline.end, reference.timeline.end)
    assert fast.stats.to_dict() == reference.stats.to_dict()
    assert fast.trace_events() == reference.trace_events()


def test_unchecked_run_equals_checked_run(compiled):
    image, config, inputs = compiled
    fast = run_binary(image, inputs, config, timing=True)
    assert_same_run(fast, run_binary(image, inputs, config, timing=True, check_hazards=True))
    functional = run_binary(image, inputs, config, timing=False)
    for name in fast.outputs:
        assert_equal(name, functional.outputs[name], fast.outputs[name])


def prepared(image: bytes, config):
    binary = read_vitb(image)
    machine = Machine(binary.dram_size, config.spad_rows, config.acc_rows, config.dim)
    return program.prepare(binary.code, config, machine, len(binary.layers))


def test_ops_give_every_instruction_as_decoding_it_alone(compiled):
    """`prepare` decodes one instruction per class of equal operands; each op's instruction
    (that one's operands, its own tokens and layer) is what decoding its own word gives."""
    image, config, _ = compiled
    code = read_vitb(image).code
    ops = prepared(image, config)
    width = len(code) // len(ops)
    for op in ops:
        alone = decode(code[op.pc * width:(op.pc + 1) * width], op.pc)
        assert op.instruction == alone, f"pc {op.pc}: {op.instruction} != {alone}"
        assert list(op.instruction.fields) == list(alone.fields), f"pc {op.pc}: field order"
        assert op.mnemonic == alone.mnemonic


def assert_same_schedule(fast: scheduler.Timeline, reference: scheduler.Timeline) -> None:
    assert_equal("start cycles", fast.start, reference.start)
    assert_equal("end cycles", fast.end, reference.end)
    assert fast.order == reference.order, "issue order differs"
    assert fast.tokens == reference.tokens, "token order differs"
    assert fast.blocked == reference.blocked


@pytest.mark.parametrize("depth", [None, 1, 2, 3, 8])
def test_program_order_schedule_equals_event_driven(compiled, depth):
    image, config, _ = compiled
    ops = prepared(image, config)
    depth = depth or config.token_queue_depth
    event_driven = scheduler._event_driven(ops, depth, timing=True)
    in_order = scheduler._in_program_order(ops, depth)
    if in_order is not None:
        assert_same_schedule(in_order, event_driven)
    assert_same_schedule(scheduler.schedule(ops, depth, timing=True), event_driven)


def test_schedule_gives_up_on_a_token_from_a_later_instruction():
    # The copy (pc 0) waits for the load (pc 1): program order is not an order the units can
    # run in, so the event-driven simulation decides.
    b = ProgramBuilder()
    x = b.input("x", np.arange(256, dtype=np.uint8).reshape(16, 16))
    out = b.output("y", "uint8", (16, 16))
    b.emit("copy", mem=0, src=0, dst=100, rows=16, cols=16, src_bs=16, dst_bs=16, wait=mask("load"), signal=mask("store"))
    b.emit("dma.load", mem=0, addr=0, rows=16, cols=16, bs=16, dram=x, dram_stride=16, signal=mask("vector"))
    b.emit("dma.store", mem=0, addr=100, rows=16, cols=16, bs=16, dram=out, dram_stride=16, wait=mask("vector"))
    ops = prepared(b.binary(), b.config)
    assert scheduler._in_program_order(ops, b.config.token_queue_depth) is None
    result = b.run()
    assert_equal("y", result.outputs["y"], b.inputs["x"])
    assert result.timeline.order == [1, 0, 2, 3]


def test_schedule_gives_up_when_room_in_a_token_queue_sets_a_start(tmp_path):
    # Depth 1: the second load (pc 2) can push only once the first copy (pc 1) popped the first
    # token, at the copy's start, which is also when the load unit is free: the pass leaves
    # such a start to the event-driven simulation.
    b = ProgramBuilder(config_with_token_depth(tmp_path, 1))
    x = b.input("x", np.arange(512, dtype=np.uint8).reshape(32, 16))
    out = b.output("y", "uint8", (32, 16))
    for row in (0, 16):
        b.emit("dma.load", mem=0, addr=row, rows=16, cols=16, bs=16, dram=x + row * 16, dram_stride=16, signal=mask("vector"))
        b.emit("copy", mem=0, src=row, dst=row + 100, rows=16, cols=16, src_bs=16, dst_bs=16, wait=mask("load"),
               signal=mask("store") if row else 0)
    b.emit("dma.store", mem=0, addr=100, rows=32, cols=16, bs=32, dram=out, dram_stride=16, wait=mask("vector"))
    ops = prepared(b.binary(), b.config)
    assert scheduler._in_program_order(ops, 1) is None
    assert scheduler._in_program_order(ops, 2) is not None
    for depth in (1, 2):
        assert_same_schedule(scheduler.schedule(ops, depth, timing=True), scheduler._event_driven(ops, depth, timing=True))
    assert_equal("y", b.run().outputs["y"], b.inputs["x"])


def run_mm(a, bmat, za, zb, au, bu):
    m, k = a.shape
    n = bmat.shape[1]
    b = ProgramBuilder()
    a_dram, b_dram = b.input("a", a), b.input("b", bmat)
    out = b.output("c", "int32", (m, n))
    b.sequence(
        [load(a_dram, m, k, 0, bs=m), load(b_dram, k, n, 4096, bs=k)],
        [("mm", dict(a=0, b=4096, c=0, m=m, k=k, n=n, a_bs=m, b_bs=k, c_bs=m, au=au, bu=bu, za=za, zb=zb))],
        [store(out, m, n, 0, mem=1, bs=m)],
    )
    return b.run().outputs["c"]


@pytest.mark.parametrize("k, a_codes, za, zb", [
    (64, (0, 256), 128, 0),      # one float32 product: 64 * 128 * 128 < 2^24
    (640, (120, 137), 128, 0),   # one float32 product too: 640 * 128 * 128 < 2^24
    (2048, (0, 256), 0, -128),   # sums of 2048 products of 0..255 by 0..255 pass 2^24: eight chunks of 258
])
def test_mm_sums_exactly_in_float32_chunks(k, a_codes, za, zb):
    rng = np.random.default_rng(k)
    a = rng.integers(*a_codes, (5, k)).astype(np.uint8)
    bmat = rng.integers(-128, 128, (k, 20)).astype(np.int8)
    assert_equal("c", run_mm(a, bmat, za, zb, 1, 0), reference_mm(a, bmat, za, zb))


def test_qadd_where_float64_rounds_onto_a_float32_halfway_point():
    # 130 * ra = -(2^-23 + 2^-53) exactly (130 * 16519105 = 2^31 + 2), and 3.5 + that rounds in
    # float64 to 3.5 - 2^-23, halfway between the float32 values 3.5 - 2^-22 and 3.5: rounding
    # again would give 3.5 (code 4), the fma gives 3.5 - 2^-22 (code 3).
    ra = F32(-16519105 * 2.0 ** -54)
    a = np.arange(256, dtype=np.uint8).reshape(8, 32)
    b = np.zeros((8, 32), np.int8)
    got = run_q("qadd", a, b, 0, mode="kernel", au=1, bu=0, cu=1, ra=float(ra), rb=0.0, fixed=3.5)
    expected = np.array([[saturate(np.rint(fma(x, ra, F32(3.5))), 1) for x in row] for row in a.astype(np.int64)], np.uint8)
    assert expected[130 // 32, 130 % 32] == 3
    assert_equal("qadd", got, expected)


def float64_sum_is_exact(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Whether the float64 sum of every pair (p[i], q[j]) is exact: TwoSum's error term is 0."""
    p, q = np.broadcast_arrays(p[:, None], q[None, :])
    s = p + q
    q_part = s - p
    return ((p - (s - q_part)) + (q - q_part)) == 0


@pytest.mark.parametrize("ra, rb, fixed", [
    (0.13399076, 0.9637720, -13.208908),  # a residual add of deit-tiny
    (3.0e-8, 1.7e-3, 1.0e4),              # products far below the inner values
    (2.0 ** 20, 0.0, 2.0 ** -17),         # 28-bit products, inner values with bits down to 2^-40
    (-16519105 * 2.0 ** -54, 0.0, 3.5),   # the halfway case above
    (0.0, 0.0, 0.0),
])
def test_qadd_skips_the_halfway_search_only_where_every_float64_sum_is_exact(ra, rb, fixed):
    """qadd looks for double-rounding ties only when its tables say some float64 sum of a
    product and an inner value may be inexact; where they say none is, every sum is exact
    (TwoSum's error is 0 for all 65536 pairs of bytes)."""
    bits = [int(np.array(v, F32).view(np.uint32)) for v in (ra, rb, fixed)]
    for au, bu in ((1, 1), (0, 1), (1, 0)):
        _, inners_wide, exact = qlinear._qadd_tables(au, bits[0], bu, bits[1], bits[2])
        products = np.arange(256, dtype=np.uint8).view(np.uint8 if au else np.int8).astype(np.float64) * np.float64(F32(ra))
        all_exact = bool(float64_sum_is_exact(products, inners_wide).all())
        assert not exact or all_exact, f"ra={ra} rb={rb} fixed={fixed} au={au} bu={bu}: tables say exact, a sum is not"
        if ra == 2.0 ** 20 or ra < 0:
            assert not exact, f"ra={ra} fixed={fixed}: 28 + 40 bits, or the halfway case, cannot be exact"
        if ra == 0.13399076:
            assert exact, "deit-tiny's residual add: sums of at most ~45 bits are exact"


SPECIAL_F32 = [0.0, -0.0, 1.0, -2.5, 2.0 ** -149, -(2.0 ** -126), 2.0 ** 20, 3.4e38, np.inf, -np.inf, np.nan]


def qadd_keys(count: int, seed: int) -> list[tuple]:
    """(au, ra bits, bu, rb bits, fixed bits) keys: random float32 constants and special ones."""
    rng = np.random.default_rng(seed)
    floats = np.concatenate([np.array(SPECIAL_F32, F32), (rng.standard_normal(count) * 10.0 ** rng.integers(-9, 9, count)).astype(F32)])
    bits = floats.view(np.uint32)
    return [(int(rng.integers(2)), int(rng.choice(bits)), int(rng.integers(2)), int(rng.choice(bits)), int(rng.choice(bits)))
            for _ in range(count)]


def test_qadd_tables_made_together_equal_tables_made_one_by_one():
    """The tables of many keys made in one batch (as `program.prepare` makes a program's) are
    each key's own: the same inner values and the same exactness as made alone, and where they
    say every float64 sum is exact, it is (TwoSum's error is 0 for all 65536 pairs)."""
    keys = qadd_keys(60, seed=5)
    with np.errstate(all="ignore"):  # infinite and NaN constants among the keys
        qlinear._QADD_TABLES.clear()
        qlinear.make_qadd_tables(keys)
        together = {key: qlinear._QADD_TABLES[key] for key in keys}
        for key in keys:
            qlinear._QADD_TABLES.clear()
            alone = qlinear._qadd_tables(*key)
            for name, got, expected in zip(("inner", "inner float64"), together[key][:2], alone[:2]):
                assert_equal(f"{name} table of {key}", got.view(np.uint8), expected.view(np.uint8))
            assert together[key][2] == alone[2], f"{key}: exact {together[key][2]} together, {alone[2]} alone"
            if not together[key][2]:
                continue
            au, ra = key[0], np.float64(np.array(key[1], np.uint32).view(F32))
            products = np.arange(256, dtype=np.uint8).view(np.uint8 if au else np.int8).astype(np.float64) * ra
            assert float64_sum_is_exact(products, together[key][1]).all(), f"{key}: tables say exact, a sum is not"
    assert any(tables[2] for tables in together.values()), "no key with exact sums: the last check never ran"
