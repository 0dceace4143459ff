"""CPU feature detection: parsing, and what it says about onnxruntime's u8s8 GEMM."""

from compiler.reference.cpu_features import detect


def _cpuinfo(tmp_path, flags):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: test\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: sse2\n")
    return path


def test_vnni_cpu(tmp_path):
    cpu = detect(_cpuinfo(tmp_path, "fpu sse2 avx2 fma avx512f avx512bw avx512vl avx512_vnni"))
    assert cpu.vnni and not cpu.int16_pair_saturation_possible and cpu.matches_reference_platform
    assert "exact (VNNI)" in cpu.describe()


def test_avx2_without_vnni_warns(tmp_path):
    cpu = detect(_cpuinfo(tmp_path, "sse2 avx2 fma"))
    assert cpu.int16_pair_saturation_possible and not cpu.matches_reference_platform
    assert "WARNING" in cpu.describe() and "avx512_vnni" in cpu.describe()


def test_unreadable_cpuinfo(tmp_path):
    assert detect(tmp_path / "missing").flags == frozenset()
