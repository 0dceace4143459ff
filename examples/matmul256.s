# A 256 x 256 x 256 int8 matrix multiply with requantisation, written by hand for the default
# configuration (dim 16, 16384 SPAD rows, 1024 ACC rows):
#
#     Y = QLinearMatMul(A, B) = sat(RNE(clamp(f32(f32(acc) * M), 0 - zy, 255 - zy)) + zy)
#     acc = (A - za) @ (B - zb),  M = f32(f32(sa * sb) / sy)
#
# A (uint8 activations, zero point 128) is processed in 8 tiles of 32 rows; B (int8 weights,
# zero point 0) stays in the scratchpad; Y is uint8 (onnxruntime's u8 x s8 QLinearMatMul gives
# A's type). Everything is double-buffered, so the matrix engine never waits after the first tile:
#
#   SPAD rows     0..511   A tile buffer 0  (32 x 256, block stride 32: 16 blocks of 32 rows)
#   SPAD rows   512..1023  A tile buffer 1
#   SPAD rows  1024..5119  B (256 x 256, block stride 256)
#   SPAD rows  5120..5631  Y tile buffer 0  (32 x 256, block stride 32)
#   SPAD rows  5632..6143  Y tile buffer 1
#   ACC  rows     0..511   C tile buffer 0  (32 x 256 int32, block stride 32)
#   ACC  rows   512..1023  C tile buffer 1
#
# Tokens (each a counting queue per ordered pair of units):
#   load -> matrix    tile i of A is in its buffer (B was loaded before tile 0, in order)
#   matrix -> load    mm i has read A buffer i % 2, so tile i + 2 may overwrite it
#   matrix -> vector  C tile i is complete
#   vector -> matrix  requant i has read C buffer i % 2, so mm i + 2 may overwrite it
#   vector -> store   Y tile i is in its buffer
#   store -> vector   Y tile i is in DRAM, so requant i + 2 may overwrite its buffer
# A token is pushed only when an instruction will pop it, so every queue is empty at halt.
#
# The multiplier is M = f32(f32(sa * sb) / sy) for the scales in the I/O table below
# (sa = f32(0.02), sb = f32(0.005), sy = f32(0.4)), written with enough digits to be exact.

.target default
.dram_size 0x30000
.layer "matmul256"
.input "a", dtype=uint8, shape=[256, 256], addr=0x0, scale=0.02, zero_point=128
.input "b", dtype=int8, shape=[256, 256], addr=0x10000, scale=0.005, zero_point=0
.output "y", dtype=uint8, shape=[256, 256], addr=0x20000, scale=0.4, zero_point=125

# B once, then tile 0 of A; B's load is ordered before tile 0's token by the in-order load queue.
dma.load mem=spad, addr=1024, rows=256, cols=256, bs=256, dram=0x10000, dram_stride=256

# tile 0: A rows 0..31 -> A buffer 0 -> C buffer 0 -> Y buffer 0 -> Y rows 0..31
dma.load mem=spad, addr=0, rows=32, cols=256, bs=32, dram=0x0, dram_stride=256, signal=matrix
mm a=0, b=1024, c=0, m=32, k=256, n=256, a_bs=32, b_bs=256, c_bs=32, au=u8, bu=i8, za=128, zb=0, wait=load, signal=load|vector
requant src=0, dst=5120, rows=32, cols=256, src_bs=32, dst_bs=32, u=u8, zy=125, lo=0, hi=255, mult=0.00024999998277053237, wait=matrix, signal=store|matrix
dma.store mem=spad, addr=5120, rows=32, cols=256, bs=32, dram=0x20000, dram_stride=256, wait=vector, signal=vector

# tile 1: A rows 32..63 -> A buffer 1 -> C buffer 1 -> Y buffer 1 -> Y rows 32..63
dma.load mem=spad, addr=512, rows=32, cols=256, bs=32, dram=0x2000, dram_stride=256, signal=matrix
mm a=512, b=1024, c=512, m=32, k=256, n=256, a_bs=32, b_bs=256, c_bs=32, au=u8, bu=i8, za=128, zb=0, wait=load, signal=load|vector
requant src=512, dst=5632, rows=32, cols=256, src_bs=32, dst_bs=32, u=u8, zy=125, lo=0, hi=255, mult=0.00024999998277053237, wait=matrix, signal=store|matrix
dma.store mem=spad, addr=5632, rows=32, cols=256, bs=32, dram=0x22000, dram_stride=256, wait=vector, signal=vector

# tile 2: A rows 64..95 -> A buffer 0 -> C buffer 0 -> Y buffer 0 -> Y rows 64..95
dma.load mem=spad, addr=0, rows=32, cols=256, bs=32, dram=0x4000, dram_stride=256, wait=matrix, signal=matrix
mm a=0, b=1024, c=0, m=32, k=256, n=256, a_bs=32, b_bs=256, c_bs=32, au=u8, bu=i8, za=128, zb=0, wait=load|vector, signal=load|vector
requant src=0, dst=5120, rows=32, cols=256, src_bs=32, dst_bs=32, u=u8, zy=125, lo=0, hi=255, mult=0.00024999998277053237, wait=matrix|store, signal=store|matrix
dma.store mem=spad, addr=5120, rows=32, cols=256, bs=32, dram=0x24000, dram_stride=256, wait=vector, signal=vector

# tile 3: A rows 96..127 -> A buffer 1 -> C buffer 1 -> Y buffer 1 -> Y rows 96..127
dma.load mem=spad, addr=512, rows=32, cols=256, bs=32, dram=0x6000, dram_stride=256, wait=matrix, signal=matrix
mm a=512, b=1024, c=512, m=32, k=256, n=256, a_bs=32, b_bs=256, c_bs=32, au=u8, bu=i8, za=128, zb=0, wait=load|vector, signal=load|vector
requant src=512, dst=5632, rows=32, cols=256, src_bs=32, dst_bs=32, u=u8, zy=125, lo=0, hi=255, mult=0.00024999998277053237, wait=matrix|store, signal=store|matrix
dma.store mem=spad, addr=5632, rows=32, cols=256, bs=32, dram=0x26000, dram_stride=256, wait=vector, signal=vector

# tile 4: A rows 128..159 -> A buffer 0 -> C buffer 0 -> Y buffer 0 -> Y rows 128..159
dma.load mem=spad, addr=0, rows=32, cols=256, bs=32, dram=0x8000, dram_stride=256, wait=matrix, signal=matrix
mm a=0, b=1024, c=0, m=32, k=256, n=256, a_bs=32, b_bs=256, c_bs=32, au=u8, bu=i8, za=128, zb=0, wait=load|vector, signal=load|vector
requant src=0, dst=5120, rows=32, cols=256, src_bs=32, dst_bs=32, u=u8, zy=125, lo=0, hi=255, mult=0.00024999998277053237, wait=matrix|store, signal=store|matrix
dma.store mem=spad, addr=5120, rows=32, cols=256, bs=32, dram=0x28000, dram_stride=256, wait=vector, signal=vector

# tile 5: A rows 160..191 -> A buffer 1 -> C buffer 1 -> Y buffer 1 -> Y rows 160..191
dma.load mem=spad, addr=512, rows=32, cols=256, bs=32, dram=0xa000, dram_stride=256, wait=matrix, signal=matrix
mm a=512, b=1024, c=512, m=32, k=256, n=256, a_bs=32, b_bs=256, c_bs=32, au=u8, bu=i8, za=128, zb=0, wait=load|vector, signal=load|vector
requant src=512, dst=5632, rows=32, cols=256, src_bs=32, dst_bs=32, u=u8, zy=125, lo=0, hi=255, mult=0.00024999998277053237, wait=matrix|store, signal=store|matrix
dma.store mem=spad, addr=5632, rows=32, cols=256, bs=32, dram=0x2a000, dram_stride=256, wait=vector, signal=vector

# tile 6: A rows 192..223 -> A buffer 0 -> C buffer 0 -> Y buffer 0 -> Y rows 192..223
dma.load mem=spad, addr=0, rows=32, cols=256, bs=32, dram=0xc000, dram_stride=256, wait=matrix, signal=matrix
mm a=0, b=1024, c=0, m=32, k=256, n=256, a_bs=32, b_bs=256, c_bs=32, au=u8, bu=i8, za=128, zb=0, wait=load|vector, signal=vector
requant src=0, dst=5120, rows=32, cols=256, src_bs=32, dst_bs=32, u=u8, zy=125, lo=0, hi=255, mult=0.00024999998277053237, wait=matrix|store, signal=store
dma.store mem=spad, addr=5120, rows=32, cols=256, bs=32, dram=0x2c000, dram_stride=256, wait=vector

# tile 7: A rows 224..255 -> A buffer 1 -> C buffer 1 -> Y buffer 1 -> Y rows 224..255
dma.load mem=spad, addr=512, rows=32, cols=256, bs=32, dram=0xe000, dram_stride=256, wait=matrix, signal=matrix
mm a=512, b=1024, c=512, m=32, k=256, n=256, a_bs=32, b_bs=256, c_bs=32, au=u8, bu=i8, za=128, zb=0, wait=load|vector, signal=vector
requant src=512, dst=5632, rows=32, cols=256, src_bs=32, dst_bs=32, u=u8, zy=125, lo=0, hi=255, mult=0.00024999998277053237, wait=matrix|store, signal=store
dma.store mem=spad, addr=5632, rows=32, cols=256, bs=32, dram=0x2e000, dram_stride=256, wait=vector

halt
