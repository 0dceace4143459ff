"""`vitc asm` and `vitc disasm`: files in and out, exit codes, one-line errors, atomic output."""

from compiler.cli.main import main
from isa.container import load_vitb
from tests.isa.test_assembler import PROGRAM


def test_asm_then_disasm_then_asm_is_identity(tmp_path, capsys):
    source = tmp_path / "prog.s"
    source.write_text(PROGRAM)
    assert main(["asm", str(source)]) == 0
    first = (tmp_path / "prog.vitb").read_bytes()
    assert main(["disasm", str(tmp_path / "prog.vitb"), "--show-encoding"]) == 0
    listing = capsys.readouterr().out
    assert "# 0x000040: 30" in listing and ".target default" in listing
    (tmp_path / "again.s").write_text(listing)
    assert main(["asm", str(tmp_path / "again.s"), "-o", str(tmp_path / "again.vitb")]) == 0
    assert (tmp_path / "again.vitb").read_bytes() == first
    assert len(load_vitb(tmp_path / "again.vitb").code) == 4 * 64


def test_asm_error_is_one_line_and_writes_nothing(tmp_path, capsys):
    source = tmp_path / "bad.s"
    source.write_text(".target default\n.dram_size 64\nhalt\nmm a=1\n")
    assert main(["asm", str(source), "-o", str(tmp_path / "out.vitb")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"vitc: error: {source}:4:1: mm: missing field") and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.s"]


def test_asm_hw_must_agree(tmp_path, capsys):
    source = tmp_path / "p.s"
    source.write_text(PROGRAM)
    assert main(["asm", str(source), "--hw", "large"]) == 1
    assert "not large" in capsys.readouterr().err
    source.write_text(PROGRAM.replace(".target default\n", ""))
    assert main(["asm", str(source), "--hw", "large"]) == 0
    assert main(["disasm", str(tmp_path / "p.vitb")]) == 0
    assert ".target large" in capsys.readouterr().out


def test_disasm_of_a_corrupt_file_fails_cleanly(tmp_path, capsys):
    path = tmp_path / "x.vitb"
    path.write_bytes(b"VITB" + bytes(20))
    assert main(["disasm", str(path)]) == 1
    assert capsys.readouterr().err.startswith(f"vitc: error: {path}: .vitb: offset 0x")
    assert main(["asm", str(tmp_path / "missing.s")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_disasm_no_data_omits_constants(tmp_path, capsys):
    source = tmp_path / "prog.s"
    source.write_text(PROGRAM)
    assert main(["asm", str(source)]) == 0
    assert main(["disasm", str(tmp_path / "prog.vitb"), "--no-data"]) == 0
    out = capsys.readouterr().out
    assert ".hex" not in out and out.rstrip().endswith("(omitted)") and "mm a=0" in out
