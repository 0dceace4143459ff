"""The roofline and the per-layer work, against figures worked out by hand from the programs'
instructions (tests/perf/programs.py and the small programs below) and TARGET.md's definition."""

import numpy as np
import pytest

from compiler.perf.roofline import Roofline, roofline
from compiler.perf.work import Work, layer_work, total_work
from isa.assembler import assemble_binary
from isa.config import load_config
from isa.container import write_vitb
from isa.errors import VitcError
from runtime_emulator import run_binary
from tests.perf.programs import matmul_binary

DEFAULT = load_config("default")
LARGE = load_config("large")


def test_matmul_program_work_per_layer_by_hand():
    assert layer_work(matmul_binary(DEFAULT)) == {
        0: Work(dram_read=32 * 48),  # the uint8 input
        1: Work(dram_read=48 * 64, macs=32 * 48 * 64),  # the weights, then the mm
        2: Work(vector_elements=32 * 64, dram_written=32 * 64),  # requant, store
    }


def test_matmul_program_roofline_by_hand():
    roof = roofline(matmul_binary(DEFAULT), DEFAULT)
    assert (roof.macs, roof.vector_elements) == (98_304, 2_048)
    assert (roof.compulsory_read, roof.compulsory_written) == (3_072 + 1_536, 2_048)
    # compute 98304 / 256 = 384; vector 2048 / 16 = 128; memory max(4608, 2048) / 16 = 288.
    assert (roof.compute_cycles, roof.vector_cycles, roof.memory_cycles) == (384, 128, 288)
    assert (roof.cycles, roof.bound) == (384, "compute")


def test_the_same_program_on_the_large_configuration():
    large = matmul_binary(LARGE)
    roof = roofline(large, LARGE)
    # compute 98304 / 1024 = 96; vector 2048 / 32 = 64; memory 4608 / 32 = 144.
    assert (roof.compute_cycles, roof.vector_cycles, roof.memory_cycles) == (96, 64, 144)
    assert (roof.cycles, roof.bound) == (144, "memory")


COPY_PROGRAM = """
.target default
.dram_size 0x8000
.const_addr 0x7f00
.layer "copy"
.input "x", dtype=int8, shape=[16, 64], addr=0x0
.output "y", dtype=int8, shape=[4, 16, 64], addr=0x1000
dma.load mem=spad, addr=0, rows=16, cols=64, bs=16, dram=0x0, dram_stride=64, signal=store
dma.load mem=acc, addr=0, rows=2, cols=16, bs=2, dram=0x7f00, dram_stride=64
dma.load mem=acc, zero=1, addr=8, rows=4, cols=16, bs=4, dram=0x0, dram_stride=0
dma.store mem=spad, addr=0, rows=16, cols=64, bs=16, depth=4, dram=0x1000, dram_stride=64, dram_depth_stride=1024, wait=load
halt
.i32 {words}
"""


def test_memory_bound_program_reads_and_writes_bound_separately():
    binary = assemble_binary(COPY_PROGRAM.format(words=", ".join(["7"] * 32)), source="copy.s")
    # Loads: 1024 bytes of spad, 2 x 16 accumulator words (128 bytes); the zero fill reads nothing.
    # Store: 4 depth slices of 16 x 64 bytes.
    assert layer_work(binary) == {0: Work(dram_read=1024 + 128, dram_written=4096)}
    roof = roofline(binary, DEFAULT)
    # Compulsory: read the 128 constant bytes and the 1024-byte input, write the 4096-byte output;
    # DMA runs both ways at 16 bytes per cycle: max(1152, 4096) / 16 = 256 (not (1152 + 4096) / 16).
    assert (roof.compulsory_read, roof.compulsory_written) == (1152, 4096)
    assert (roof.memory_cycles, roof.cycles, roof.bound) == (256, 256, "memory")
    assert (roof.compute_cycles, roof.vector_cycles) == (0, 0)


VECTOR_PROGRAM = """
.target {target}
.dram_size 0x100
.layer "scale"
.layer "sums"
.input "x", dtype=int8, shape=[4], addr=0x0
.output "y", dtype=int8, shape=[4], addr=0x10
valu op=mul, ty=f32, bmode=scalar, dst=0, a=0, rows=32, cols=256, a_bs=32, dst_bs=32, imm=0x3f800000
rowsum src=0, dst=600, rows=32, cols=250, src_bs=32, layer=1
halt
"""


@pytest.mark.parametrize("config, expected", [(DEFAULT, (32 * 256 + 32 * 250) // 16), (LARGE, (32 * 256 + 32 * 250) // 32)])
def test_vector_bound_program(config, expected):
    binary = assemble_binary(VECTOR_PROGRAM.format(target=config.name), source="vector.s")
    assert total_work(binary) == Work(vector_elements=32 * 256 + 32 * 250)
    roof = roofline(binary, config)
    assert (roof.vector_cycles, roof.cycles, roof.bound) == (expected, expected, "vector")
    assert roof.memory_cycles == 1  # 4 bytes in, 4 out, rounded up to one cycle


FMM_PROGRAM = """
.target default
.dram_size 0x100
.layer "float matmul"
.input "x", dtype=int8, shape=[4], addr=0x0
.output "y", dtype=int8, shape=[4], addr=0x10
fmm a=0, b=100, c=200, m=16, k=32, n=16, a_bs=16, b_bs=32, c_bs=16
halt
"""


def test_fmm_is_vector_work_one_element_per_fma():
    binary = assemble_binary(FMM_PROGRAM, source="fmm.s")
    assert total_work(binary) == Work(vector_elements=16 * 16 * 32)  # no int8 MACs
    roof = roofline(binary, DEFAULT)
    assert (roof.vector_cycles, roof.compute_cycles, roof.bound) == (16 * 16 * 32 // 16, 0, "vector")


def test_ties_name_the_matrix_engine_first_then_memory():
    assert Roofline(16, 16, macs=2560, vector_elements=160, compulsory_read=160, compulsory_written=0).bound == "compute"
    assert Roofline(16, 16, macs=0, vector_elements=160, compulsory_read=160, compulsory_written=0).bound == "memory"
    assert Roofline(16, 16, macs=1, vector_elements=0, compulsory_read=0, compulsory_written=0).cycles == 1  # rounded up


def test_a_binary_for_another_configuration_is_refused():
    with pytest.raises(VitcError, match="not 'large'"):
        roofline(matmul_binary(DEFAULT), LARGE)


AGREEMENT_CASES = [
    ("matmul-default", lambda: matmul_binary(DEFAULT), DEFAULT, {"x": ((32, 48), np.uint8)}),
    ("matmul-large", lambda: matmul_binary(LARGE), LARGE, {"x": ((32, 48), np.uint8)}),
    ("copy", lambda: assemble_binary(COPY_PROGRAM.format(words=", ".join(["7"] * 32))), DEFAULT, {"x": ((16, 64), np.int8)}),
    ("vector", lambda: assemble_binary(VECTOR_PROGRAM.format(target="large")), LARGE, {"x": ((4,), np.int8)}),
    ("fmm", lambda: assemble_binary(FMM_PROGRAM), DEFAULT, {"x": ((4,), np.int8)}),
]


@pytest.mark.parametrize("build, config, input_specs", [case[1:] for case in AGREEMENT_CASES], ids=[c[0] for c in AGREEMENT_CASES])
def test_agrees_with_the_emulator_statistics(build, config, input_specs):
    binary = build()
    rng = np.random.default_rng(0)
    inputs = {name: rng.integers(np.iinfo(dtype).min, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True)
              for name, (shape, dtype) in input_specs.items()}
    stats = run_binary(write_vitb(binary), inputs, config, check_hazards=True).stats
    work, roof = total_work(binary), roofline(binary, config)
    assert (work.macs, work.vector_elements) == (stats.macs, stats.vector_elements)
    assert (work.dram_read, work.dram_written) == (stats.dram_bytes_read, stats.dram_bytes_written)
    assert roof.cycles == stats.roofline_cycles
