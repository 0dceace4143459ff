"""The timing model: per-instruction costs from the configuration, in-order units running in
parallel, token waits, the token-queue depth limit, and the statistics / trace reports."""

import json
from pathlib import Path

import numpy as np
import pytest

import isa.config

from tests.runtime_emulator.harness import ProgramBuilder, load, mask, store

def timeline(result):
    """(mnemonic, start, end) of every instruction, from the trace events."""
    events = [e for e in result.trace_events()["traceEvents"] if e["ph"] == "X"]
    return [(e["name"], e["args"]["start_cycle"], e["args"]["start_cycle"] + round(e["dur"] * 1000)) for e in events]


def test_costs_of_each_instruction_class():
    b = ProgramBuilder()
    x = b.input("x", np.zeros((20, 40), np.int8))
    b.sequence(
        [load(x, 20, 40, 0, bs=20)],  # 800 bytes: 64 + 50
        [("mm", dict(a=0, b=100, c=0, m=5, k=40, n=20, a_bs=20, b_bs=40, c_bs=5))],  # 3*2*16 + 32
        [("rowsum", dict(src=0, dst=100, rows=5, cols=20, src_bs=5)),  # 8 + 1*20
         ("dequant", dict(src=0, dst=200, rows=20, cols=40, src_bs=20, dst_bs=20, u=0, zp=0, scale=1.0))],  # 8 + 50
        [("dma.load", dict(mem=1, zero=1, addr=300, rows=3, cols=20, bs=3, dram=0, dram_stride=0))],  # 64 + 240/16
    )
    result = b.run()
    spans = [(name, end - start) for name, start, end in timeline(result)]
    assert spans == [("dma.load", 64 + 50), ("mm", 3 * 2 * 16 + 32), ("rowsum", 8 + 20), ("dequant", 8 + 50),
                     ("dma.load", 64 + 15)]
    # Chained by tokens, each starts when its predecessor ends.
    starts_ends = [(start, end) for _, start, end in timeline(result)]
    assert all(prev_end == start for (_, prev_end), (start, _) in zip(starts_ends, starts_ends[1:]))
    assert result.stats.cycles == sum(span for _, span in spans)


def test_independent_units_overlap_and_tokens_delay():
    b = ProgramBuilder()
    x = b.input("x", np.zeros((16, 16), np.int8))
    out = b.output("y", "int8", (16, 16))
    # load (64 + 16 cycles) and an unrelated vector op run at the same time; the store waits
    # for the load's token.
    b.emit("dma.load", mem=0, addr=0, rows=16, cols=16, bs=16, dram=x, dram_stride=16, signal=mask("store"))
    b.emit("valu", op="add", ty="i32", bmode=3, a=0, dst=0, rows=16, cols=160, a_bs=16, dst_bs=16, imm=1)
    b.emit("dma.store", mem=0, addr=0, rows=16, cols=16, bs=16, dram=out, dram_stride=16, wait=mask("load"))
    result = b.run()
    (_, l0, l1), (_, v0, v1), (_, s0, s1) = timeline(result)
    assert (l0, l1) == (0, 80) and (v0, v1) == (0, 8 + 160) and (s0, s1) == (80, 160)
    assert result.stats.cycles == 168
    assert result.stats.busy == {"load": 80, "store": 80, "matrix": 0, "vector": 168}


def config_with_token_depth(tmp_path, depth: int) -> str:
    text = (Path(isa.config.CONFIG_DIR) / "default.toml").read_text()
    path = tmp_path / f"depth{depth}.toml"
    path.write_text(text.replace("token_queue_depth = 16", f"token_queue_depth = {depth}"))
    return str(path)


@pytest.mark.parametrize("depth,second_load_start", [(1, 8 + 1000), (2, 80)])
def test_token_queue_depth_limit_stalls_the_producer(tmp_path, depth, second_load_start):
    b = ProgramBuilder(config_with_token_depth(tmp_path, depth))
    x = b.input("x", np.zeros((16, 16), np.int8))
    # The vector unit is busy for 8 + 1000 cycles before it pops the first load's token, so with
    # a queue of depth 1 the second load cannot push (and so cannot start) until then.
    b.emit("valu", op="add", ty="i32", bmode=3, a=0, dst=0, rows=16, cols=1000, a_bs=16, dst_bs=16, imm=1)
    for row in (0, 16):
        b.emit("dma.load", mem=0, addr=row, rows=16, cols=16, bs=16, dram=x, dram_stride=16, signal=mask("vector"))
    for row in (0, 16):
        b.emit("copy", mem=0, src=row, dst=row + 100, rows=16, cols=16, src_bs=16, dst_bs=16, wait=mask("load"))
    events = timeline(b.run())
    loads = [(start, end) for name, start, end in events if name == "dma.load"]
    assert loads == [(0, 80), (second_load_start, second_load_start + 80)]


def test_functional_only_gives_same_outputs_and_no_stats():
    rng = np.random.default_rng(5)
    x = rng.integers(-5, 5, (16, 16)).astype(np.int32)
    b = ProgramBuilder()
    src = b.input("x", x)
    out = b.output("y", "int32", (16, 16))
    b.sequence([load(src, 16, 16, 0, mem=1)],
               [("valu", dict(op="mul", ty="i32", bmode=0, a=0, b=0, dst=0, rows=16, cols=16, a_bs=16, b_bs=16, dst_bs=16))],
               [store(out, 16, 16, 0, mem=1)])
    timed, functional = b.run(), b.run(timing=False)
    assert np.array_equal(timed.outputs["y"], functional.outputs["y"])
    assert functional.stats is None


def test_per_layer_attribution_and_trace_json(tmp_path):
    b = ProgramBuilder()
    b.layers = ["embed", "head"]
    x = b.input("x", np.zeros((16, 16), np.int8))
    b.emit("dma.load", mem=0, addr=0, rows=16, cols=16, bs=16, dram=x, dram_stride=16, signal=mask("vector"), layer=0)
    b.emit("transpose", src=0, dst=32, rows=16, cols=16, src_bs=16, dst_bs=16, wait=mask("load"), layer=1)
    b.emit("copy", mem=0, src=32, dst=64, rows=16, cols=16, src_bs=16, dst_bs=16, layer=1)
    result = b.run()
    layers = {layer.name: layer for layer in result.stats.layers}
    assert (layers["embed"].start, layers["embed"].end) == (0, 80)
    assert (layers["head"].start, layers["head"].end, layers["head"].span) == (80, 80 + 2 * 24, 48)
    assert layers["head"].busy == {"load": 0, "store": 0, "matrix": 0, "vector": 48}
    summary = json.loads(result.stats.to_json())
    assert summary["cycles"] == 128 and summary["layers"][1]["name"] == "head"
    assert "head" in result.stats.format_table()

    path = tmp_path / "trace.json"
    result.write_trace(path)
    trace = json.loads(path.read_text())
    threads = {e["tid"]: e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "thread_name"}
    assert threads == {0: "load", 1: "store", 2: "matrix", 3: "vector"}
    events = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert [(e["name"], e["tid"], e["args"]["layer"], e["args"]["pc"]) for e in events] == [
        ("dma.load", 0, "embed", 0), ("transpose", 3, "head", 1), ("copy", 3, "head", 2)]
    assert events[1]["ts"] == pytest.approx(0.080) and events[1]["dur"] == pytest.approx(0.024)
    flows = [(e["ph"], e["tid"], e["ts"]) for e in trace["traceEvents"] if e.get("cat") == "token"]
    assert flows == [("s", 0, 0.0), ("f", 3, pytest.approx(0.080))]  # load -> transpose
