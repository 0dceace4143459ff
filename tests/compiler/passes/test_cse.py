"""cse: hand-written IR through `vitc opt -p cse` (text in, lines out), the exact attribute key,
and the reference interpreter's values before and after the pass on real models."""

import functools

import numpy as np
import pytest

from compiler.cli.main import main as vitc_main
from compiler.frontend import import_model
from compiler.ir.parser import parse_graph
from compiler.ir.pass_manager import Instrumentation, PassManager
from compiler.ir.pipeline import parse_pipeline
from compiler.ir.printer import print_graph
from compiler.ir.testing import check_lines, check_no_line, run_pipeline_on_text
from compiler.passes.cse import exact_key
from compiler.reference.interpreter import run_graph
from models import zoo
from tests.compiler.passes.test_passes_on_models import first_mismatch

F = "tensor<4x6xf32>"
Q = "tensor<4x6xu8, q<0.5 : 114>>"
Q_OTHER_ZP = "tensor<4x6xu8, q<0.5 : 113>>"


def _opt(tmp_path, text: str, capsys) -> str:
    """`vitc opt -p cse --verify-each` on `text`; returns what it printed."""
    source = tmp_path / "in.vir"
    source.write_text(text)
    assert vitc_main(["opt", "-p", "cse", "--verify-each", str(source)]) == 0
    return capsys.readouterr().out


def test_identical_quantizes_merge_into_the_first(tmp_path, capsys):
    # the pre-processed models' Q, K and V inputs: one float tensor quantized three times alike
    text = f"""\
graph @g(%x: {F}, %w: tensor<6x6xu8, q<0.25 : 128>>) -> (%q_out, %k_out, %v_out) {{
  %q_in = quantize %x : {F} -> {Q} loc("q_QuantizeLinear")
  %q_out = qmatmul %q_in, %w {{multiplier = [0.125]}} : {Q}, tensor<6x6xu8, q<0.25 : 128>> -> {Q}
  %k_in = quantize %x : {F} -> {Q} loc("k_QuantizeLinear")
  %k_out = qmatmul %k_in, %w {{multiplier = [0.25]}} : {Q}, tensor<6x6xu8, q<0.25 : 128>> -> {Q}
  %v_in = quantize %x : {F} -> {Q} loc("v_QuantizeLinear")
  %v_out = qmatmul %v_in, %w {{multiplier = [0.5]}} : {Q}, tensor<6x6xu8, q<0.25 : 128>> -> {Q}
}}
"""
    out = _opt(tmp_path, text, capsys)
    check_lines(out, [
        f'%q_in = quantize %x : {F} -> {Q} loc("q_QuantizeLinear")',
        f"%q_out = qmatmul %q_in, %w {{multiplier = [0.125]}} : {Q}, tensor<6x6xu8, q<0.25 : 128>> -> {Q}",
        f"%k_out = qmatmul %q_in, %w {{multiplier = [0.25]}} : {Q}, tensor<6x6xu8, q<0.25 : 128>> -> {Q}",
        f"%v_out = qmatmul %q_in, %w {{multiplier = [0.5]}} : {Q}, tensor<6x6xu8, q<0.25 : 128>> -> {Q}",
    ])
    check_no_line(out, "%k_in")
    check_no_line(out, "%v_in")


def test_ops_that_differ_in_attributes_type_or_operand_order_are_kept():
    text = f"""\
graph @g(%x: {F}, %y: {F}, %gamma: tensor<6xf32>) -> (%a, %b, %c, %d, %e, %f, %g, %h, %i, %j) {{
  %a = quantize %x : {F} -> {Q}
  %b = quantize %x : {F} -> {Q_OTHER_ZP}
  %c = add %x, %y : {F}, {F} -> {F}
  %d = add %y, %x : {F}, {F} -> {F}
  %e = transpose %x {{perm = [1, 0]}} : {F} -> tensor<6x4xf32>
  %f = reshape %x : {F} -> tensor<6x4xf32>
  %g = const dense<[1, 2]> : tensor<2xi8>
  %h = const dense<[1, 2]> : tensor<2xu8>
  %i = layernorm %x, %gamma, %gamma {{axis = 1, epsilon = 1e-06}} : {F}, tensor<6xf32>, tensor<6xf32> -> {F}
  %j = layernorm %x, %gamma, %gamma {{axis = 1, epsilon = 1e-05}} : {F}, tensor<6xf32>, tensor<6xf32> -> {F}
}}
"""
    out = run_pipeline_on_text(text, "cse")
    assert out == print_graph(parse_graph(text))


def test_merged_operands_make_their_users_merge_in_the_same_sweep():
    text = f"""\
graph @g(%x: {F}) -> (%y) {{
  %c1 = const dense<[0.5, 2]> : tensor<2xf32>
  %c2 = const dense<[0.5, 2]> : tensor<2xf32>
  %a1 = quantize %x : {F} -> {Q}
  %a2 = quantize %x : {F} -> {Q}
  %r1 = reshape %a1 : {Q} -> tensor<24xu8, q<0.5 : 114>>
  %r2 = reshape %a2 : {Q} -> tensor<24xu8, q<0.5 : 114>>
  %d1 = dequantize %r1 : tensor<24xu8, q<0.5 : 114>> -> tensor<24xf32>
  %d2 = dequantize %r2 : tensor<24xu8, q<0.5 : 114>> -> tensor<24xf32>
  %s = add %d1, %d2 : tensor<24xf32>, tensor<24xf32> -> tensor<24xf32>
  %t1 = reshape %c1 : tensor<2xf32> -> tensor<1x2xf32>
  %t2 = reshape %c2 : tensor<2xf32> -> tensor<1x2xf32>
  %u = concat %t1, %t2 {{axis = 0}} : tensor<1x2xf32>, tensor<1x2xf32> -> tensor<2x2xf32>
  %y = reshape %s : tensor<24xf32> -> tensor<4x6xf32>
}}
"""
    out = run_pipeline_on_text(text, "cse")
    check_lines(out, [
        "%c1 = const dense<[0.5, 2.0]> : tensor<2xf32>",
        f"%a1 = quantize %x : {F} -> {Q}",
        f"%r1 = reshape %a1 : {Q} -> tensor<24xu8, q<0.5 : 114>>",
        "%d1 = dequantize %r1 : tensor<24xu8, q<0.5 : 114>> -> tensor<24xf32>",
        "%s = add %d1, %d1 : tensor<24xf32>, tensor<24xf32> -> tensor<24xf32>",
        "%t1 = reshape %c1 : tensor<2xf32> -> tensor<1x2xf32>",
        "%u = concat %t1, %t1 {axis = 0} : tensor<1x2xf32>, tensor<1x2xf32> -> tensor<2x2xf32>",
    ])
    for gone in ("%c2", "%a2", "%r2", "%d2", "%t2"):
        check_no_line(out, f"{gone} =")
    assert run_pipeline_on_text(out, "cse") == out


def test_a_graph_output_is_never_forwarded_but_may_be_forwarded_to():
    text = f"""\
graph @g(%x: {F}) -> (%first, %second) {{
  %first = quantize %x : {F} -> {Q}
  %second = quantize %x : {F} -> {Q}
  %third = quantize %x : {F} -> {Q}
  %z = qadd %third, %second {{mode = "float"}} : {Q}, {Q} -> {Q}
}}
"""
    out = run_pipeline_on_text(text, "cse")
    check_lines(out, [
        "graph @g(%x: tensor<4x6xf32>) -> (%first, %second) {",
        f"%first = quantize %x : {F} -> {Q}",
        f"%second = quantize %x : {F} -> {Q}",
        f'%z = qadd %first, %second {{mode = "float"}} : {Q}, {Q} -> {Q}',
    ])
    check_no_line(out, "%third =")


def test_the_attribute_key_compares_bit_for_bit():
    nan = float("nan")
    assert exact_key(nan) == exact_key(nan)
    assert exact_key(0.0) != exact_key(-0.0)
    assert exact_key(1) != exact_key(1.0)
    assert exact_key(True) != exact_key(1)
    assert exact_key((1.0, nan)) == exact_key((1.0, nan))
    assert exact_key((1, 2)) != exact_key((1, 2, 0))
    data = np.array([1, 2], dtype=np.int8)
    assert exact_key(data) == exact_key(data.copy())
    assert exact_key(data) != exact_key(data.view(np.uint8))  # same bytes, other dtype
    assert exact_key(data) != exact_key(data.reshape(1, 2))  # same bytes, other shape
    nans = np.array([np.nan, -0.0], dtype=np.float32)
    assert exact_key(nans) == exact_key(nans.copy())
    assert exact_key(nans) != exact_key(np.array([np.nan, 0.0], dtype=np.float32))


def test_arrays_differing_only_where_the_hash_does_not_look_are_not_equal():
    weights = np.zeros(1000, dtype=np.int8)
    other = weights.copy()
    other[1] = 1  # the hash samples every 15th element of 1000
    assert hash(exact_key(weights)) == hash(exact_key(other))
    assert exact_key(weights) != exact_key(other)
    assert exact_key(weights) == exact_key(weights.copy())


# deit-tiny (about 10 s each): a QOperator variant (repeated quantizes merge) and a QDQ int8 one
# (repeated quantizes, the reshapes after them and the dequantizes before float matmuls merge)
DEIT_TINY_VARIANTS = [v for v in zoo.VARIANTS if v.preprocess and not v.per_channel
                      and (v.fmt, v.activations) in (("qoperator", "uint8"), ("qdq", "int8"))]
MODELS = ([pytest.param("vit-micro", v, id=f"vit-micro-{v.tag}") for v in zoo.VARIANTS]
          + [pytest.param("deit-tiny", v, id=f"deit-tiny-{v.tag}", marks=pytest.mark.slow) for v in DEIT_TINY_VARIANTS])


@functools.cache
def _imported_text(model: str, variant) -> str:
    graph = import_model(zoo.quantized_model_path(model, variant))
    PassManager(parse_pipeline("fuse-requant,tabulate,dce")).run(graph)
    return print_graph(graph)


@pytest.mark.parametrize("model,variant", MODELS)
def test_cse_keeps_every_output_of_real_models(model, variant):
    before = parse_graph(_imported_text(model, variant))
    after = parse_graph(_imported_text(model, variant))
    PassManager(parse_pipeline("cse"), Instrumentation(verify_each=True)).run(after)
    if variant.preprocess:  # the quantizer's repeated quantize (or QDQ's repeated reshape) of Q, K and V's input
        assert len(after.ops) < len(before.ops)
    pixels = np.random.default_rng(0).uniform(-1, 1, size=before.inputs[0].type.shape).astype(np.float32)
    inputs = {before.inputs[0].name: pixels}
    want = run_graph(before, inputs, threads=1)
    got = run_graph(after, inputs, threads=1)
    assert [v.name for v in after.outputs] == [v.name for v in before.outputs]
    problems = [p for p in (first_mismatch(n, want[n], got[n]) for n in want) if p]
    assert not problems, f"{model} {variant}: " + "\n".join(problems[:5])
