"""Per-instruction overhead stays small: a long stream of small tile instructions (double-
buffered loads feeding vector copies, with tokens both ways) runs well within a budget.
The bound is ~10x the measured cost so a loaded CI machine does not make it flaky."""

import time

import numpy as np

from tests.runtime_emulator.harness import ProgramBuilder, mask

PAIRS = 2000
BUFFERS = 8


def test_small_instruction_stream_is_fast():
    b = ProgramBuilder()
    x = b.input("x", np.arange(256, dtype=np.uint8).reshape(16, 16))
    out = b.output("y", "uint8", (16, 16))
    for i in range(PAIRS):
        row = (i % BUFFERS) * 16
        b.emit("dma.load", mem=0, addr=row, rows=16, cols=16, bs=16, dram=x, dram_stride=16,
               signal=mask("vector"), wait=mask("vector") if i >= BUFFERS else 0)
        b.emit("copy", mem=0, src=row, dst=row + 1000, rows=16, cols=16, src_bs=16, dst_bs=16,
               wait=mask("load"), signal=mask("load") if i + BUFFERS < PAIRS else mask("store") if i == PAIRS - 1 else 0)
    b.emit("dma.store", mem=0, addr=(PAIRS - 1) % BUFFERS * 16 + 1000, rows=16, cols=16, bs=16, dram=out,
           dram_stride=16, wait=mask("vector"))
    began = time.process_time()
    result = b.run(check_hazards=True)
    per_instruction = (time.process_time() - began) / (2 * PAIRS + 2)
    assert np.array_equal(result.outputs["y"], b.inputs["x"])
    # Each load (64 + 16 cycles) overlaps the previous copy (8 + 16): the load unit is the bottleneck.
    assert result.stats.cycles == PAIRS * 80 + 24 + 80
    assert per_instruction < 1e-3, f"{per_instruction * 1e6:.0f} us per instruction"
