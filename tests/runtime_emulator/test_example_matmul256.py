"""examples/matmul256.s: a hand-written, double-buffered 256x256x256 QLinearMatMul.

Checks that it matches numpy bit for bit (the reference is NUMERICS.md's QLinearMatMul formula,
with scales and zero points read from the binary's I/O table) and onnxruntime's QLinearMatMul,
runs in under a second, and that
its simulated cycles equal the timing rules applied by hand.
"""

import time
from pathlib import Path

import numpy as np

from isa.assembler import assemble_binary
from isa.config import load_config
from isa.container import read_vitb, write_vitb
from isa.encoding import decode_program
from runtime_emulator import run_binary
from tests.runtime_emulator.harness import assert_equal
from tests.runtime_emulator.onnxruntime_ops import run_node

EXAMPLE = Path(__file__).parents[2] / "examples" / "matmul256.s"
F32 = np.float32


def qlinear_matmul(a, za, b, zb, m, zy):
    acc = (a.astype(np.int64) - za) @ (b.astype(np.int64) - zb)
    assert np.abs(acc).max() < 2**31
    scaled = acc.astype(np.int32).astype(F32) * m
    clamped = np.clip(scaled, F32(0 - zy), F32(255 - zy))
    return np.clip(np.rint(clamped).astype(np.int32) + zy, 0, 255).astype(np.uint8)


def test_matmul256_bit_exact_fast_and_cycles_as_predicted():
    config = load_config("default")
    image = write_vitb(assemble_binary(EXAMPLE.read_text(), str(EXAMPLE)))
    io = {entry.name: entry for entry in read_vitb(image).io}
    rng = np.random.default_rng(256)
    a = rng.integers(0, 256, (256, 256)).astype(np.uint8)
    b = rng.integers(-127, 128, (256, 256)).astype(np.int8)

    began = time.perf_counter()
    result = run_binary(image, {"a": a, "b": b}, config, check_hazards=True)
    wall = time.perf_counter() - began
    assert wall < 1.0, f"took {wall:.3f} s"

    sa, sb, sy = (F32(io[name].scale) for name in ("a", "b", "y"))
    multiplier = F32(F32(sa * sb) / sy)
    requants = [i for i in decode_program(read_vitb(image).code) if i.mnemonic == "requant"]
    assert {F32(i.fields["mult"]) for i in requants} == {multiplier}, "the .s multiplier is not f32(f32(sa*sb)/sy)"
    expected = qlinear_matmul(a, io["a"].zero_point, b, io["b"].zero_point, multiplier, io["y"].zero_point)
    assert_equal("y", result.outputs["y"], expected)
    constants = {"sa": sa, "za": np.uint8(io["a"].zero_point), "sb": sb, "zb": np.int8(io["b"].zero_point),
                 "sy": sy, "zy": np.uint8(io["y"].zero_point)}
    from_onnxruntime = run_node("QLinearMatMul", {"a": a, "b": b}, constants, np.uint8, (256, 256),
                                input_order=["a", "sa", "za", "b", "sb", "zb", "sy", "zy"])
    assert_equal("y vs onnxruntime QLinearMatMul", result.outputs["y"], from_onnxruntime)

    # Cycles by hand, from the default configuration (dim 16, 16 DMA bytes/cycle, DMA latency 64,
    # mm_latency 32, vector_latency 8):
    #   load B        64 + 65536/16                      = 4160
    #   load A tile   64 + 32*256/16                     =  576
    #   mm tile       ceil(256/16)*ceil(256/16)*max(32,16) + 32 = 16*16*32 + 32 = 8224
    #   requant tile  8 + ceil(32*256/16)                =  520
    #   store tile    64 + 32*256/16                     =  576
    # The first mm starts when B and A tile 0 are in (4160 + 576); the 8 mms then run back to
    # back (tile i+1's load, 576 cycles, and requant i-1, 520 cycles, both finish during mm i);
    # the last tile's requant and store follow the last mm.
    c = config
    load_b = c.dma_latency + 256 * 256 // c.dma_bytes_per_cycle
    load_tile = c.dma_latency + 32 * 256 // c.dma_bytes_per_cycle
    mm_tile = (256 // c.dim) * (256 // c.dim) * max(32, c.dim) + c.mm_latency
    requant_tile = c.vector_latency + 32 * 256 // c.dim
    store_tile = load_tile
    assert (load_b, load_tile, mm_tile, requant_tile) == (4160, 576, 8224, 520)
    expected_cycles = load_b + load_tile + 8 * mm_tile + requant_tile + store_tile
    assert expected_cycles == 71624
    stats = result.stats
    assert stats.cycles == expected_cycles
    assert stats.busy == {"load": load_b + 8 * load_tile, "store": 8 * store_tile,
                          "matrix": 8 * mm_tile, "vector": 8 * requant_tile}
    assert stats.macs == 256**3
    assert abs(stats.matrix_utilisation - 256**3 / (expected_cycles * 256)) < 1e-12
    assert (stats.dram_bytes_read, stats.dram_bytes_written) == (2 * 65536, 65536)
    # Roofline: the matrix bound 256^3 / 16^2 = 65,536 cycles beats vector (8 * 32*256 / 16 =
    # 4,096) and DRAM (131,072 / 16 = 8,192 read, 65,536 / 16 = 4,096 written).
    assert stats.roofline_cycles == 65536 and stats.vector_elements == 256 * 256
    assert stats.instruction_counts == {"dma.load": 9, "mm": 8, "requant": 8, "dma.store": 8, "halt": 1}
    print(f"matmul256: {wall * 1e3:.1f} ms wall, {stats.cycles} cycles, matrix utilisation {stats.matrix_utilisation:.1%}")
