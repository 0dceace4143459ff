"""docs/ir.md is generated from the op table and the grammar: it must be up to date."""

from compiler.ir import docgen


def test_ir_doc_is_fresh():
    assert docgen.DOC_PATH.read_text() == docgen.generate(), "docs/ir.md is stale: run python -m compiler.ir.docgen"


def test_every_op_is_documented():
    text = docgen.generate()
    from compiler.ir.ops import OPS

    for op in OPS:
        assert f"### `{op.name}`" in text
