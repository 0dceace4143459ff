"""The x86 features of this CPU that decide which onnxruntime (MLAS) kernels run.

The reference kernels reproduce what onnxruntime 1.32 computes on a CPU with AVX2, FMA and
AVX512-VNNI (where they were established). Elsewhere some kernels differ:
- without VNNI (AVX2 or AVX-512 core only), MLAS's u8 x s8 GEMM multiplies pairs with
  `vpmaddubsw`, whose int16 pair sums saturate: onnxruntime is then not the exact integer
  product. vitc does not imitate that; `int16_pair_saturation_possible` tells.
- without AVX2/FMA, QLinearAdd and LayerNormalization take other code paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
REPORTED = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni")


@dataclass(frozen=True)
class CpuFeatures:
    flags: frozenset[str]

    def has(self, flag: str) -> bool:
        return flag in self.flags

    @property
    def vnni(self) -> bool:
        return self.has("avx512_vnni") or self.has("avx_vnni")

    @property
    def int16_pair_saturation_possible(self) -> bool:
        """MLAS's u8s8 GEMM uses vpmaddubsw (saturating int16 pair sums) without VNNI."""
        return self.has("avx2") and not self.vnni

    @property
    def matches_reference_platform(self) -> bool:
        """AVX2 + FMA + VNNI: the features under which the kernels' behaviour was established."""
        return self.has("avx2") and self.has("fma") and self.vnni

    def describe(self) -> str:
        present = [f for f in REPORTED if self.has(f)]
        absent = [f for f in REPORTED if not self.has(f)]
        note = ("u8s8 GEMM exact (VNNI)" if not self.int16_pair_saturation_possible
                else "WARNING: u8s8 GEMM may saturate int16 pair sums (no VNNI)")
        return f"cpu: {' '.join(present) or 'none of ' + ' '.join(REPORTED)}" + \
               (f" (missing: {' '.join(absent)})" if absent else "") + f"; {note}"


def detect(cpuinfo: Path = CPUINFO) -> CpuFeatures:
    """Flags of the first processor in /proc/cpuinfo (empty when it cannot be read)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return CpuFeatures(frozenset())
    for line in text.splitlines():
        if line.startswith("flags"):
            return CpuFeatures(frozenset(line.split(":", 1)[1].split()))
    return CpuFeatures(frozenset())
