"""A hand-written assembly program is a complete binary: assemble it with `vitc asm`, run it on
the emulator, and compare with numpy written from the instruction semantics in docs/isa.md.

The program is a quantized linear layer: y = requant(x @ W) with int8 x and W, the weights
given as `.byte` constant data, ordered by tokens (load -> matrix -> vector -> store).
"""

import numpy as np

from compiler.cli.main import main
from isa.assembler import assemble_binary
from isa.container import write_vitb
from isa.docgen import DOC_PATH
from runtime_emulator import run_binary

MULT = np.float32(0.0123)
ZY, LO, HI = -3, -128, 127


def program_text(weights: np.ndarray) -> str:
    data = "\n".join(".byte " + ", ".join(str(int(v)) for v in row) for row in weights)
    return f"""\
.target default
.dram_size 0x1000
.const_addr 0x100
.layer "fc"
.input "x", dtype=int8, shape=[4, 16], addr=0x0, scale=0.05, zero_point=0
.output "y", dtype=int8, shape=[4, 16], addr=0x400, scale=0.1, zero_point={ZY}

dma.load mem=spad, addr=0, rows=4, cols=16, bs=4, dram=0x0, dram_stride=16
# the load unit runs in order: one token after the weights covers both loads
dma.load mem=spad, addr=16, rows=16, cols=16, bs=16, dram=0x100, dram_stride=16, signal=matrix
mm a=0, b=16, c=0, m=4, k=16, n=16, a_bs=4, b_bs=16, c_bs=4, wait=load, signal=vector
requant src=0, dst=64, rows=4, cols=16, src_bs=4, dst_bs=4, u=i8, zy={ZY}, lo={LO}, hi={HI}, mult=0.0123, wait=matrix, signal=store
dma.store mem=spad, addr=64, rows=4, cols=16, bs=4, dram=0x400, dram_stride=16, wait=vector
halt
{data}
"""


def reference(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """requant semantics: y = sat(RNE(clamp(f32(f32(acc) * M), lo - zy, hi - zy)) + zy)."""
    acc = x.astype(np.int32) @ w.astype(np.int32)
    scaled = acc.astype(np.float32) * MULT
    return (np.rint(np.clip(scaled, LO - ZY, HI - ZY)) + ZY).clip(LO, HI).astype(np.int8)


def test_handwritten_linear_layer_runs_bit_exact(tmp_path):
    rng = np.random.default_rng(7)
    w = rng.integers(-127, 128, size=(16, 16), dtype=np.int8)
    x = rng.integers(-128, 128, size=(4, 16), dtype=np.int8)
    source = tmp_path / "linear.s"
    source.write_text(program_text(w))
    assert main(["asm", str(source), "-o", str(tmp_path / "linear.vitb")]) == 0
    result = run_binary((tmp_path / "linear.vitb").read_bytes(), {"x": x}, "default", check_hazards=True)
    got, want = result.outputs["y"], reference(x, w)
    assert got.dtype == np.int8 and got.shape == (4, 16)
    mismatches = np.argwhere(got != want)
    assert not len(mismatches), "y" + "".join(
        f"\n  element {tuple(i)}: emulator {got[tuple(i)]}, numpy {want[tuple(i)]}" for i in mismatches[:10])
    assert result.stats.cycles > 0 and result.stats.macs == 4 * 16 * 16


def test_docs_example_assembles_and_copies_its_input():
    """The example program in docs/isa.md copies x to y through the scratchpad."""
    block = DOC_PATH.read_text().split("Example:\n\n", 1)[1].split("\n\n", 1)[0]
    binary = assemble_binary("\n".join(line[4:] for line in block.splitlines()), "docs/isa.md")
    x = np.arange(64, dtype=np.uint8).reshape(4, 16)
    y = run_binary(write_vitb(binary), {"x": x}, "default", check_hazards=True).outputs["y"]
    mismatches = np.argwhere(y != x)
    assert not len(mismatches), "y" + "".join(f"\n  element {tuple(i)}: {y[tuple(i)]} != {x[tuple(i)]}" for i in mismatches[:10])
