"""docs/isa.md is generated from the table: it must be current and cover every instruction and field."""

from isa.config import builtin_config_names
from isa.docgen import DOC_PATH, main, render
from isa.table import load_table


def test_isa_md_is_current():
    assert DOC_PATH.read_text() == render(), "docs/isa.md is stale: run `python -m isa.docgen`"
    assert main(["--check"]) == 0


def test_isa_md_covers_the_table():
    text = render()
    for spec in load_table().instructions:
        assert f"### `{spec.mnemonic}`" in text and f"0x{spec.opcode:02X}" in text
        for field in spec.fields:
            assert f"| `{field.name}` | {field.bits} |" in text or field.name in ("opcode", "wait", "signal", "layer")
    for name in builtin_config_names():
        assert f"`{name}`" in text
    for topic in ("## Instruction format", "## Units and dependency tokens", "## Hardware configurations",
                  "## Assembly language", "## The .vitb container", "magic", "section"):
        assert topic in text
