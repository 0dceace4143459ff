"""Hand-written assembly programs for the perf tests, with their work worked out by hand.

`matmul_program(dim)`: y[32x64] = requant(x[32x48] @ w[48x64]), x a uint8 input, w int8
constants, y an int8 output; three layers: "load" (both loads), "matmul" (the mm),
"epilogue" (requant and the store). On-chip addresses follow from `dim` (block layout), so
the same program builds for any array size.
"""

from isa.assembler import assemble_binary

M, K, N = 32, 48, 64
INPUT_BYTES = M * K  # uint8
WEIGHT_BYTES = K * N  # int8 constants
OUTPUT_BYTES = M * N  # int8
MACS = M * K * N
REQUANT_ELEMENTS = M * N


def _blocks(cols: int, dim: int) -> int:
    return -(-cols // dim)


def matmul_program(dim: int, target: str = ".target default") -> str:
    x_rows = _blocks(K, dim) * M
    w_addr = x_rows
    y_addr = w_addr + _blocks(N, dim) * K
    weights = ", ".join(str((i * 7) % 255 - 127) for i in range(WEIGHT_BYTES))
    return f"""
{target}
.dram_size 0x4000
.const_addr 0x1000
.layer "input"
.layer "matmul"
.layer "epilogue"
.input "x", dtype=uint8, shape=[{M}, {K}], addr=0x0, scale=0.5, zero_point=3
.output "y", dtype=int8, shape=[{M}, {N}], addr=0x2000, scale=0.25, zero_point=0
dma.load mem=spad, addr=0, rows={M}, cols={K}, bs={M}, dram=0x0, dram_stride={K}, layer=0
dma.load mem=spad, addr={w_addr}, rows={K}, cols={N}, bs={K}, dram=0x1000, dram_stride={N}, signal=matrix, layer=1
mm a=0, b={w_addr}, c=0, m={M}, k={K}, n={N}, a_bs={M}, b_bs={K}, c_bs={M}, za=3, au=u8, wait=load, signal=vector, layer=1
requant src=0, dst={y_addr}, rows={M}, cols={N}, src_bs={M}, dst_bs={M}, u=i8, zy=0, lo=-128, hi=127, mult=0.001, wait=matrix, signal=store, layer=2
dma.store mem=spad, addr={y_addr}, rows={M}, cols={N}, bs={M}, dram=0x2000, dram_stride={N}, wait=vector, layer=2
halt
.byte {weights}
"""


def matmul_binary(config):
    """The program assembled for `config` (its hash recorded)."""
    return assemble_binary(matmul_program(config.dim, target=""), source="matmul.s", config=config)
