"""fuse-elementwise: IR text in through `vitc opt`, `chain` attributes out."""

from compiler.cli.main import main as vitc_main
from compiler.ir.parser import parse_graph
from compiler.ir.printer import print_graph
from compiler.ir.testing import run_pipeline_on_text
from tests.compiler.passes.backend_graphs import matmul_then_tables, vitc_opt_on_text


def vitc_opt(tmp_path, capsys, text: str, pipeline: str) -> str:
    """The IR `vitc opt -p PIPELINE --verify-each` writes for `text`."""
    source, result = tmp_path / "in.vir", tmp_path / "out.vir"
    source.write_text(text)
    code = vitc_main(["opt", str(source), "-p", pipeline, "--verify-each", "-o", str(result)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    return result.read_text()


def chain_numbers(text: str) -> dict[str, int | None]:
    return {op.result.name: op.attrs.get("chain") for op in parse_graph(text).ops if op.kind != "const"}


def test_a_matmul_and_its_element_wise_consumers_get_one_chain_number(tmp_path, capsys):
    out = vitc_opt(tmp_path, capsys, matmul_then_tables(17, 32, 64), "fuse-elementwise")
    assert chain_numbers(out) == {"mm": 0, "t0": 0, "t1": 0}


def test_a_vector_result_with_a_second_use_is_stored_and_the_chain_goes_on():
    """%t0 is a graph output too: the chain stores it and hands it to %t1 (fusion.Chain.stored)."""
    text = matmul_then_tables(17, 32, 64).replace("-> (%t1)", "-> (%t1, %t0)")
    assert chain_numbers(run_pipeline_on_text(text, "fuse-elementwise")) == {"mm": 0, "t0": 0, "t1": 0}


def test_a_matmul_result_with_a_second_use_ends_the_chain():
    text = matmul_then_tables(17, 32, 64).replace("-> (%t1)", "-> (%t1, %mm)")
    assert chain_numbers(run_pipeline_on_text(text, "fuse-elementwise")) == {"mm": None, "t0": 0, "t1": 0}


def test_stale_chain_attributes_are_replaced_and_the_pass_is_idempotent():
    once = run_pipeline_on_text(matmul_then_tables(17, 32, 64), "fuse-elementwise")
    stale = once.replace("chain = 0}", "chain = 7}", 1)
    assert chain_numbers(stale)["mm"] == 7
    assert run_pipeline_on_text(stale, "fuse-elementwise") == once


def test_an_unknown_hardware_configuration_is_a_clear_error(tmp_path, capsys):
    code, _, err = vitc_opt_on_text(tmp_path, capsys, matmul_then_tables(17, 32, 64), "fuse-elementwise{hw=no-such-machine}")
    assert code == 1
    assert "fuse-elementwise" in err and "no-such-machine" in err and "Traceback" not in err


def test_a_chain_of_ops_that_do_not_feed_each_other_is_refused_by_the_code_generator(tmp_path, capsys):
    graph = parse_graph(run_pipeline_on_text(matmul_then_tables(17, 32, 64), "fuse-elementwise,tile-matmul,plan-memory"))
    (t0,) = [op for op in graph.ops if op.result.name == "t0"]
    del t0.attrs["chain"]  # chain 0 is now %mm, %t1: %t1 does not use %mm
    source, out = tmp_path / "in.vir", tmp_path / "out.vitb"
    source.write_text(print_graph(graph))
    assert vitc_main(["compile", str(source), "-o", str(out), "-p", ""]) == 1
    err = capsys.readouterr().err
    assert "op 'table' %t1" in err and "does not use %mm" in err and "Traceback" not in err
    assert not out.exists()
