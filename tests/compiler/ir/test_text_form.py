"""The `.vir` text form: exact round trips, canonical printing, and parse error messages."""

import random

import numpy as np
import pytest

from compiler.ir.equality import graph_difference
from compiler.ir.errors import IRError, IRParseError
from compiler.ir.graph import Graph
from compiler.ir.parser import parse_graph
from compiler.ir.printer import format_f32, print_graph
from compiler.ir.roundtrip import assert_roundtrip
from compiler.ir.types import Quant, TensorType
from isa.errors import VitcError
from tests.compiler.ir.random_graphs import random_graph

HAND_WRITTEN = """\
graph @vit_block(%input: tensor<1x4x8xf32>, %"weird name": tensor<f32>) -> (%out, %"weird name") {
  %x_q = quantize %input : tensor<1x4x8xf32> -> tensor<1x4x8xu8, q<0.0186 : 114>> loc("input_QuantizeLinear")
  %w = const dense<[1, -2, 3, -4, 5, -6, 7, -8]> : tensor<8x1xi8, q<axis=1, [0.0123] : [0]>> loc("w")
  %y = qmatmul %x_q, %w {multiplier = [0.0045755995]} : tensor<1x4x8xu8, q<0.0186 : 114>>, tensor<8x1xi8, q<axis=1, [0.0123] : [0]>> -> tensor<1x4x1xu8, q<0.05 : 120>> loc("mm", "gemm")
  %z = qadd %y, %y {mode = "qlinear", ra = 0.50000006, rb = 1e-45, fixed = -3.5} : tensor<1x4x1xu8, q<0.05 : 120>>, tensor<1x4x1xu8, q<0.05 : 120>> -> tensor<1x4x1xu8, q<0.1 : 0>>
  %s = qsoftmax %z {axis = 1} : tensor<1x4x1xu8, q<0.1 : 0>> -> tensor<1x4x1xu8, q<0.003921569 : 0>>
  %big = const dense<"AAAAAAAAgD8AAABAAABAQAAAgEAAAKBAAADAQAAA4EAAAABBAAAQQQAAIEEAADBBAABAQQAAUEEAAGBBAABwQQAAgEE="> : tensor<17xf32>
  %out = dequantize %s : tensor<1x4x1xu8, q<0.003921569 : 0>> -> tensor<1x4x1xf32>
}
"""


def test_hand_written_text_prints_back_identically():
    graph = parse_graph(HAND_WRITTEN)
    assert print_graph(graph) == HAND_WRITTEN
    assert graph.ops[3].attrs["ra"] == 0.5000000596046448  # float32 nearest to the decimal
    hex_form = parse_graph(HAND_WRITTEN.replace("ra = 0.50000006", "ra = 0x1.000002p-1"))
    assert hex_form.ops[3].attrs["ra"] == 0.5000000596046448
    np.testing.assert_array_equal(graph.ops[5].attrs["value"], np.arange(17, dtype=np.float32))
    assert_roundtrip(graph)


@pytest.mark.parametrize("seed", range(150))
def test_random_graphs_round_trip(seed):
    graph = random_graph(seed)
    graph.verify()
    text = assert_roundtrip(graph)
    assert print_graph(parse_graph(text)) == text  # printing is canonical


def test_large_constants_are_exact_including_nan_payloads():
    g = Graph("g")
    data = np.arange(1000, dtype=np.float32)
    data[3] = np.frombuffer(np.uint32(0x7FC0BEEF).tobytes(), np.float32)[0]
    data[4] = -0.0
    c = g.add_const(data)
    g.set_outputs([c])
    parsed = parse_graph(print_graph(g))
    assert parsed.ops[0].attrs["value"].tobytes() == data.tobytes()


def test_every_float32_pattern_class_prints_exactly():
    bits = np.array([0x00000001, 0x007FFFFF, 0x00800000, 0x3DCCCCCD, 0x7F7FFFFF, 0x80000000, 0x7F800000, 0xFF800000,
                     0x4B800001, 0x3EAAAAAB], dtype=np.uint32)
    rng = np.random.default_rng(0)
    bits = np.concatenate([bits, rng.integers(0, 0x7F800000, 20000, dtype=np.uint32)])
    for value in bits.view(np.float32):
        text = format_f32(float(value))
        parsed = float.fromhex(text) if "x" in text else float(text)
        assert np.float32(parsed).tobytes() == value.tobytes(), (hex(value.view(np.uint32)), text)


def test_equality_sees_constant_bytes_and_float_bits():
    a, b = parse_graph(HAND_WRITTEN), parse_graph(HAND_WRITTEN)
    assert graph_difference(a, b) is None
    value = b.ops[5].attrs["value"].copy()
    value[16] = np.nextafter(value[16], np.float32(0))
    b.ops[5].attrs["value"] = value
    assert graph_difference(a, b) == "op 5 (op 'const' %big): attribute 'value' differs"
    b = parse_graph(HAND_WRITTEN.replace("fixed = -3.5", "fixed = -3.4999998"))
    assert graph_difference(a, b) == "op 3 (op 'qadd' %z): attribute 'fixed' differs"


def test_elided_constants_print_short_and_refuse_to_parse():
    text = print_graph(parse_graph(HAND_WRITTEN), elide_constants=True)
    assert "%big = const dense<elided 68 bytes> : tensor<17xf32>" in text
    assert "dense<[1, -2, 3, -4, 5, -6, 7, -8]>" in text  # small ones stay readable
    with pytest.raises(IRParseError, match=r"^<vir>:7:22: constant data was elided \(elided 68 bytes\)"):
        parse_graph(text)


def _replace(old, new):
    assert old in HAND_WRITTEN
    return HAND_WRITTEN.replace(old, new)


@pytest.mark.parametrize("text, message", [
    (_replace("%x_q = quantize", "%x_q == quantize"), "f.vir:2:9: unexpected '= quantize %input : ' (expected an op name)"),
    (_replace("= quantize", "= quantise"), "f.vir:2:10: unknown op 'quantise'"),
    (_replace("quantize %input", "quantize %inptu"), "f.vir:2:19: %inptu is used before it is defined (or never defined)"),
    (_replace("%big =", "%w ="), "f.vir:7:3: %w is defined twice"),
    (_replace("q<0.0186 : 114>> loc(\"input", "q<0.0186 : 300>> loc(\"input"), "zero point 300 does not fit u8 [0, 255]"),
    (_replace("{axis = 1}", "{axis = 1.0}"), "f.vir:6:28: expected an integer, got 1.0"),
    (_replace("{axis = 1}", "{axes = 1}"), "f.vir:6:21: op 'qsoftmax' has no attribute 'axes'"),
    (_replace("{axis = 1}", "{axis = [1]}"), "expected a int value, got a list"),
    (_replace("dense<[1, -2, 3, -4, 5, -6, 7, -8]>", "dense<[1, -2, 3]>"), "dense literal has 3 elements, its type [8, 1] needs 8"),
    (_replace("dense<[1, -2, 3, -4, 5, -6, 7, -8]>", "dense<[1, -2, 3, -4, 5, -6, 7, 800]>"), "dense literal has a value outside i8"),
    (_replace("dense<\"AAAA", "dense<\"AAA"), "dense data is not valid base64"),
    (_replace("{multiplier = [0.0045755995]}", "{multiplier = [0.0045755995, x1]}"), "f.vir:4:39: 'x1' in this list is not a number"),
    (_replace("dense<[1, -2, 3,", "dense<[1, -2.5, 3,"), "f.vir:3:20: expected an integer, got -2.5"),
    (_replace("dense<\"AAAAAAAA", "dense<\"AAAA"), "f.vir:7:22: dense data has 65 bytes, its type needs 68"),
    (_replace("%out = dequantize %s : tensor<1x4x1xu8", "%out = dequantize %s : tensor<1x4x2xu8"),
     "operand 0 %s has type tensor<1x4x1xu8, q<0.003921569 : 0>>, the signature says tensor<1x4x2xu8, q<0.003921569 : 0>>"),
    (_replace("%out = dequantize %s :", "%out = dequantize %s, %s :"), "op 'dequantize' has 2 operand(s) but 1 operand type(s)"),
    (_replace("%out = dequantize %s : tensor<1x4x1xu8, q<0.003921569 : 0>> ->", "%out = dequantize %s :"),
     "op 'dequantize' has operands: write ': operand types -> result type'"),
    (_replace("%w = const dense", "%w = transpose dense"), "only const takes a dense value"),
    (_replace("-> tensor<1x4x1xu8, q<0.1 : 0>>\n", "-> tensor<1x4x1xu8, q<0.1 : 0>> loc(3)\n"), "f.vir:5:185: unexpected '3)' (expected a string)"),
])
def test_parse_errors_name_file_line_column(text, message):
    with pytest.raises(IRParseError) as info:
        parse_graph(text, "f.vir")
    assert message in str(info.value)
    assert str(info.value).startswith("f.vir:")


def test_verifier_errors_after_parsing_name_file_and_op():
    text = _replace("{axis = 1}", "{axis = 3}")
    with pytest.raises(IRError, match=r"^f.vir: op 'qsoftmax' %s: axis 3 is out of range for rank 3$"):
        parse_graph(text, "f.vir")


def test_names_and_locs_with_any_characters_round_trip():
    g = Graph('a "graph"')
    x = g.add_input("in put", TensorType("f32", (2,)))
    y = g.add_op("sqrt", [x], loc=['node "1"\n', "ünï/\\"], name="//not a comment")
    g.set_outputs([y])
    text = assert_roundtrip(g)
    assert '%"//not a comment" = sqrt %"in put"' in text


def test_optional_attributes_print_only_when_present():
    text = """\
graph @g(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> (%x, %y) {
  %x = matmul %a, %b {b_prepacked = 1} : tensor<2x3xf32>, tensor<3x4xf32> -> tensor<2x4xf32>
  %y = matmul %a, %b : tensor<2x3xf32>, tensor<3x4xf32> -> tensor<2x4xf32>
}
"""
    graph = parse_graph(text)
    assert graph.ops[0].attrs == {"b_prepacked": 1} and graph.ops[1].attrs == {}
    assert print_graph(graph) == text


def test_backend_annotations_round_trip():
    text = """\
graph @g(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> (%x, %y) {
  %x = matmul %a, %b {b_prepacked = 1, chain = 0, dram_offset = 64, tile_m = 2, tile_n = 4, tile_k = 3, resident = "b"} : tensor<2x3xf32>, tensor<3x4xf32> -> tensor<2x4xf32>
  %c = const dense<[1.5]> {dram_offset = 0} : tensor<1xf32>
  %y = add %x, %c {chain = 0} : tensor<2x4xf32>, tensor<1xf32> -> tensor<2x4xf32>
}
"""
    graph = parse_graph(text)
    assert graph.ops[0].attrs["resident"] == "b" and graph.ops[2].attrs == {"chain": 0}
    assert print_graph(graph) == text


def test_graph_input_annotations_round_trip_and_are_checked():
    text = """\
graph @g(%a: tensor<2x3xf32> {chain = 1, dram_offset = 128}, %b: tensor<2x3xf32>) -> (%y) {
  %y = add %a, %b : tensor<2x3xf32>, tensor<2x3xf32> -> tensor<2x3xf32>
}
"""
    graph = parse_graph(text)
    assert graph.input_attrs == {graph.inputs[0]: {"chain": 1, "dram_offset": 128}}
    assert print_graph(graph) == text
    other = parse_graph(text.replace("dram_offset = 128", "dram_offset = 256"))
    assert graph_difference(graph, other) == ("graph input %a annotations {'chain': 1, 'dram_offset': 128} vs "
                                              "{'chain': 1, 'dram_offset': 256}")
    with pytest.raises(IRParseError, match=r"^f.vir:1:31: graph input %a has no attribute 'tile_m'$"):
        parse_graph(text.replace("chain = 1", "tile_m = 1"), "f.vir")
    with pytest.raises(IRError, match=r"^f.vir: graph input %a: attribute 'dram_offset' is -1, must be at least 0$"):
        parse_graph(text.replace("dram_offset = 128", "dram_offset = -1"), "f.vir")


def test_scalar_and_empty_shapes():
    g = Graph("g")
    x = g.add_input("x", TensorType("f32", ()))
    e = g.add_const(np.zeros((0, 3), np.int8), Quant.tensor(0.5, 0))
    g.set_outputs([x, e])
    text = assert_roundtrip(g)
    assert "graph @g(%x: tensor<f32>) -> (%x, %const) {" in text
    assert "%const = const dense<[]> : tensor<0x3xi8, q<0.5 : 0>>" in text


def test_mutated_text_only_ever_raises_vitc_errors():
    """Random character edits of valid text: the parser accepts or reports, it never crashes."""
    texts = [HAND_WRITTEN] + [print_graph(random_graph(seed)) for seed in range(10)]
    alphabet = list('%@<>{}[]()=:,."\\-0123456789xeEnaip fqtdlsrg\n') + [
        "inf", "nan", "0x1p3", "1e39", "tensor<", "q<", "dense<", "axis=", "loc(", "->", "\\u12"]
    rng = random.Random(0)
    for _ in range(2000):
        chars = list(rng.choice(texts))
        for _ in range(rng.randint(1, 3)):
            position = rng.randrange(len(chars))
            edit = rng.random()
            if edit < 0.33:
                del chars[position]
            elif edit < 0.66:
                chars.insert(position, rng.choice(alphabet))
            else:
                chars[position] = rng.choice(alphabet)
        text = "".join(chars)
        try:
            parse_graph(text)
        except VitcError:
            pass
        except Exception as err:  # noqa: BLE001 - the point is that nothing else escapes
            raise AssertionError(f"{type(err).__name__}: {err}\nwhile parsing:\n{text}") from err
