"""tabulate on hand-written IR: an `onnx_chain` (ONNX text of an elementwise chain) becomes a table.

The table is checked against numpy written from the ONNX spec (DequantizeLinear, Div, Abs, Sqrt,
QuantizeLinear with round-half-to-even and saturation), and the interpreter gives bit-identical
values before (onnxruntime running the chain) and after (the look-up). Bad chains are refused
with an error naming the op.
"""

import json

import numpy as np
import pytest

from compiler.cli.main import main as vitc_main
from compiler.ir.parser import parse_graph
from compiler.ir.testing import check_no_line, run_pipeline_on_text
from compiler.reference.interpreter import run_graph
from isa.errors import VitcError

X = "tensor<2x3x50xi8, q<0.05 : -3>>"
Y = "tensor<2x3x50xu8, q<0.02 : 10>>"
SCALE_CHAIN = ('<ir_version: 10, opset_import: ["" : 17]> '
               'chain (int8[2,3,50] x) => (uint8[2,3,50] y) '
               '<float s = {0.05}, int8 z = {-3}, float d = {1.7}, float s2 = {0.02}, uint8 z2 = {10}> '
               '{ t0 = DequantizeLinear (x, s, z) t1 = Div (t0, d) t2 = Abs (t1) t3 = Sqrt (t2) '
               'y = QuantizeLinear (t3, s2, z2) }')


def _graph(chain: str, x_type: str = X, y_type: str = Y) -> str:
    return (f"graph @g(%x: {x_type}) -> (%y) {{\n"
            f"  %y = onnx_chain %x {{model = {json.dumps(chain)}}} : {x_type} -> {y_type} loc(\"dq\", \"div\", \"q\")\n"
            f"}}\n")


def _spec_table() -> np.ndarray:
    """The chain from the ONNX spec on every int8 code, indexed by the code's byte."""
    codes = np.arange(256).astype(np.uint8).view(np.int8)
    dq = ((codes.astype(np.int32) + 3).astype(np.float32) * np.float32(0.05)).astype(np.float32)
    root = np.sqrt(np.abs(dq / np.float32(1.7)))
    q = np.rint(root / np.float32(0.02)) + 10
    return np.clip(q, 0, 255).astype(np.uint8)


def test_the_chain_becomes_its_table_equal_to_the_spec():
    out = run_pipeline_on_text(_graph(SCALE_CHAIN), "tabulate")
    check_no_line(out, "onnx_chain")
    table = parse_graph(out).ops[0].attrs["table"]
    want = _spec_table()
    bad = np.flatnonzero(table != want)
    assert bad.size == 0, f"%y table entry {bad[0]}: {table[bad[0]]} != spec {want[bad[0]]}"
    assert len(set(table.tolist())) > 50, "the chain is not a trivial table"


def test_interpreter_values_are_bit_identical_before_and_after():
    before = parse_graph(_graph(SCALE_CHAIN))
    after = parse_graph(run_pipeline_on_text(_graph(SCALE_CHAIN), "tabulate"))
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = rng.integers(-128, 128, (2, 3, 50)).astype(np.int8)
        want, got = run_graph(before, {"x": x})["y"], run_graph(after, {"x": x})["y"]
        bad = np.argwhere(want != got)
        assert bad.size == 0, f"%y element {bad[0].tolist()}: chain {want[tuple(bad[0])]}, table {got[tuple(bad[0])]}"


def test_the_table_keeps_name_type_and_loc():
    out = run_pipeline_on_text(_graph(SCALE_CHAIN), "tabulate")
    (line,) = [line for line in out.splitlines() if "%y = table %x" in line]
    assert line.endswith(f': {X} -> {Y} loc("dq", "div", "q")')


def test_vitc_opt_tabulates(tmp_path, capsys):
    source = tmp_path / "in.vir"
    source.write_text(_graph(SCALE_CHAIN))
    assert vitc_main(["opt", str(source), "-p", "tabulate", "--verify-each"]) == 0
    out = capsys.readouterr().out
    check_no_line(out, "onnx_chain")
    assert "%y = table %x {table = dense<" in out


def test_a_chain_that_depends_on_position_is_refused():
    running_sum = SCALE_CHAIN.replace("t3 = Sqrt (t2)", "t3 = CumSum (t2, axis)").replace(
        "uint8 z2 = {10}>", "uint8 z2 = {10}, int64 axis = {2}>")
    with pytest.raises(VitcError, match=r"op 'onnx_chain' %y .*not a table"):
        run_pipeline_on_text(_graph(running_sum), "tabulate")


@pytest.mark.parametrize("chain, message", [
    (SCALE_CHAIN.replace("int8[2,3,50] x", "int8[2,3,49] x"), "the chain maps int8[2, 3, 49] to uint8, the op int8[2, 3, 50] to uint8"),
    (SCALE_CHAIN.replace("Div (t0, d)", "Div (t0, d"), "the chain's ONNX text does not parse"),
], ids=["declared-shape-differs", "not-onnx-text"])
def test_a_bad_chain_is_a_clear_error(tmp_path, capsys, chain, message):
    source = tmp_path / "bad.vir"
    source.write_text(_graph(chain))
    assert vitc_main(["opt", str(source), "-p", "tabulate"]) == 1
    err = capsys.readouterr().err
    assert "op 'onnx_chain' %y" in err and "Traceback" not in err
    assert message in err, err


SMALL_X, SMALL_Y = "tensor<1x1x100xi8, q<0.05 : -3>>", "tensor<1x1x100xu8, q<0.02 : 10>>"
SMALL_CHAIN = SCALE_CHAIN.replace("int8[2,3,50]", "int8[1,1,100]")  # 100 codes per run: three runs


def test_a_chain_smaller_than_256_codes_is_tabulated_over_several_runs():
    out = run_pipeline_on_text(_graph(SMALL_CHAIN, SMALL_X, SMALL_Y), "tabulate")
    table = parse_graph(out).ops[0].attrs["table"]
    want = _spec_table()
    bad = np.flatnonzero(table != want)
    assert bad.size == 0, f"%y table entry {bad[0]}: {table[bad[0]]} != spec {want[bad[0]]}"


def test_a_chain_that_depends_on_position_across_runs_is_refused():
    # within one run of 100 codes every code appears once; the third run repeats codes 0..43 at
    # other positions, where the running sum differs
    running_sum = SMALL_CHAIN.replace("t3 = Sqrt (t2)", "t3 = CumSum (t2, axis)").replace(
        "uint8 z2 = {10}>", "uint8 z2 = {10}, int64 axis = {2}>")
    with pytest.raises(VitcError, match=r"op 'onnx_chain' %y .*not a table"):
        run_pipeline_on_text(_graph(running_sum, SMALL_X, SMALL_Y), "tabulate")
