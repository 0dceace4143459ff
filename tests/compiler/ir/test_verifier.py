"""The verifier: every rule it enforces, each with the message naming the op and value."""

import random

import numpy as np
import pytest

from compiler.ir.errors import IRError
from compiler.ir.graph import Graph, Op, Value
from compiler.ir.ops import OP_TABLE
from compiler.ir.types import Quant, TensorType
from compiler.ir.verifier import verify
from tests.compiler.ir.random_graphs import random_graph

F32 = TensorType("f32", (2, 3))
U8 = TensorType("u8", (2, 3), Quant.tensor(0.5, 10))


def graph_with(kind, operand_types, result_type, attrs=None, loc=("node_7",)):
    """A graph whose one op is built by hand (bypassing the builder's checks)."""
    g = Graph("g")
    operands = [g.add_input(f"in{i}", t) for i, t in enumerate(operand_types)]
    op = Op(kind, operands, attrs or {}, Value("r", result_type), loc)
    g.ops.append(op)
    g.set_outputs([op.result])
    return g


def verify_message(graph):
    with pytest.raises(IRError) as info:
        verify(graph)
    return str(info.value)


def test_valid_graph_verifies():
    verify(graph_with("quantize", [F32], U8))


@pytest.mark.parametrize("kind, operands, result, attrs, expected", [
    ("nonsense", [F32], F32, {}, "op 'nonsense' %r (loc 'node_7'): unknown op 'nonsense'"),
    ("sqrt", [F32, F32], F32, {}, "op 'sqrt' %r (loc 'node_7'): takes 1 operand(s), got 2"),
    ("qmatmul", [U8], U8, {"multiplier": (0.5,)}, "takes 2 to 3 operand(s), got 1"),
    ("concat", [], F32, {"axis": 0}, "takes at least 1 operand(s), got 0"),
    ("quantize", [U8], U8, {}, "operand 0 (x) has dtype u8, expected f32"),
    ("dequantize", [TensorType("u8", (2, 3))], F32, {}, "operand 0 (q) must be quantized"),
    ("quantize", [F32], TensorType("u8", (2, 3)), {}, "the result must be quantized"),
    ("transpose", [F32], F32, {}, "missing required attribute 'perm'"),
    ("transpose", [F32], F32, {"perm": (1, 0), "axis": 1}, "unknown attribute 'axis' (it takes: perm, chain, dram_offset, layout)"),
    ("transpose", [F32], F32, {"perm": (1.0, 0.0)}, "attribute 'perm' must be a list of integers"),
    ("qadd", [U8, U8], U8, {"mode": "fast"}, "attribute 'mode' is 'fast', expected one of 'qlinear', 'float'"),
    ("qadd", [U8, U8], U8, {"mode": "qlinear", "ra": 0.5}, "mode 'qlinear' needs attribute(s) rb, fixed"),
    ("qadd", [U8, U8], U8, {"mode": "float", "ra": 0.5}, "mode 'float' takes no kernel constants, got ra"),
    ("softmax", [F32], F32, {"axis": 2}, "axis 2 is out of range for rank 2"),
    ("sqrt", [F32], F32, {"dram_offset": -16}, "attribute 'dram_offset' is -16, must be at least 0"),
    ("sqrt", [F32], F32, {"tile_m": 16}, "unknown attribute 'tile_m' (it takes: chain, dram_offset, layout)"),
    ("matmul", [F32, TensorType("f32", (3, 2))], TensorType("f32", (2, 2)), {"tile_k": 0},
     "attribute 'tile_k' is 0, must be at least 1"),
    ("matmul", [F32, TensorType("f32", (3, 2))], TensorType("f32", (2, 2)), {"resident": "c"},
     "attribute 'resident' is 'c', expected one of 'none', 'a', 'b', 'ab'"),
    ("softmax", [F32], TensorType("f32", (3, 2)), {"axis": 1},
     "result type tensor<3x2xf32> does not match the expected tensor<2x3xf32>"),
    ("reduce_mean", [F32], F32, {"axes": (0,), "keepdims": 2}, "attribute 'keepdims' is 2, expected one of 0, 1"),
    ("matmul", [F32, TensorType("f32", (3, 2))], TensorType("f32", (2, 2)), {"b_prepacked": 3},
     "attribute 'b_prepacked' is 3, expected one of 0, 1"),
    ("layernorm", [F32, F32], F32, {"axis": 1, "epsilon": 0.1},
     "attribute 'epsilon' must be a float32 number, got 0.1"),
    ("transpose", [F32], F32, {"perm": (1, 0)},
     "result type tensor<2x3xf32> does not match the expected tensor<3x2xf32>"),
    ("transpose", [F32], F32, {"perm": (0, 0)}, "perm [0, 0] is not a permutation of 0..1"),
    ("add", [F32, TensorType("f32", (4,))], F32, {}, "shapes [2, 3] and [4] do not broadcast"),
    ("reshape", [F32], TensorType("f32", (5,)), {}, "cannot reshape [2, 3] (6 elements) to [5] (5 elements)"),
    ("reshape", [U8], TensorType("u8", (6,), Quant.tensor(0.5, 11)), {}, "reshape must keep the operand's quantization"),
    ("squeeze", [F32], TensorType("f32", (3,)), {"axes": (0,)}, "cannot squeeze axis 0 of size 2"),
    ("slice", [F32], F32, {"starts": (0, 0), "ends": (2, 4), "steps": (1, 1)}, "slice range(0, 4, 1) leaves [0, 3)"),
    ("concat", [F32, U8], F32, {"axis": 0}, "concat needs one dtype and one quantization"),
    ("qmatmul", [U8, TensorType("i8", (3, 4), Quant.tensor(0.25, 0))], TensorType("u8", (2, 4), Quant.tensor(1.0, 0)),
     {"multiplier": (0.5, 0.5)}, "multiplier has 2 entries, expected 1 (per tensor)"),
    ("qmatmul", [U8, TensorType("i8", (4, 4), Quant.tensor(0.25, 0))], TensorType("u8", (2, 4), Quant.tensor(1.0, 0)),
     {"multiplier": (0.5,)}, "matmul inner dimensions differ: [2, 3] @ [4, 4]"),
    ("qmatmul", [U8, TensorType("i8", (3, 4), Quant.tensor(0.25, 0)), TensorType("i32", (3,))],
     TensorType("u8", (2, 4), Quant.tensor(1.0, 0)), {"multiplier": (0.5,)}, "bias shape [3] should be [4]"),
    ("table", [U8], U8, {"table": np.zeros(255, np.uint8)}, "table must be 256 u8 codes, got uint8 [255]"),
    ("const", [], F32, {"value": np.zeros((3, 2), np.float32)}, "value is float32 [3, 2] but the result type is tensor<2x3xf32>"),
])
def test_op_rule_errors_name_the_op(kind, operands, result, attrs, expected):
    message = verify_message(graph_with(kind, operands, result, attrs))
    assert message.startswith(f"op '{kind}' %r (loc 'node_7'): ")
    assert expected in message


def test_duplicate_names():
    g = Graph("g")
    x = g.add_input("x", F32)
    op = Op("sqrt", [x], {}, Value("x", F32))
    g.ops.append(op)
    g.set_outputs([op.result])
    assert verify_message(g) == "graph @g: value name %x is defined twice"


def test_use_before_definition():
    g = Graph("g")
    x = g.add_input("x", F32)
    a = g.add_op("sqrt", [x], name="a")
    b = g.add_op("sqrt", [a], name="b")
    g.ops.reverse()
    g.set_outputs([b])
    assert verify_message(g) == ("op 'sqrt' %b: operand 0 %a is used before the op that defines it "
                                 "(ops are not in topological order)")


def test_foreign_value_and_outputs():
    g = Graph("g")
    x = g.add_input("x", F32)
    stranger = Value("stranger", F32)
    g.add_op("add", [x, stranger], name="y", loc=["a", "b"])
    g.set_outputs([g.ops[0].result])
    assert verify_message(g) == "op 'add' %y (loc 'a', 'b'): operand 1 %stranger is not a value of this graph"
    g.ops.clear()
    g.set_outputs([])
    assert verify_message(g) == "graph @g has no outputs"
    g.set_outputs([stranger])
    assert verify_message(g) == "graph @g: output %stranger is not a value of this graph"


def test_builder_infers_and_names_uniquely():
    g = Graph("g")
    x = g.add_input("x", F32)
    t = g.add_op("transpose", [x], attrs={"perm": [1, 0]}, name="x")
    assert t.name == "x_1" and t.type == TensorType("f32", (3, 2))
    with pytest.raises(IRError, match="graph input %x: the name is already used"):
        g.add_input("x", F32)
    with pytest.raises(IRError, match=r"op 'quantize' %quantize \(loc 'q0'\): op 'quantize' has no result type inference"):
        g.add_op("quantize", [x], loc="q0")
    with pytest.raises(IRError, match="op 'gather' %gather: takes 2 operand"):
        g.add_op("gather", [x], attrs={"axis": 0})
    g.set_outputs([t])
    verify(g)


def test_corrupted_graphs_only_ever_raise_ir_errors():
    """Random corruptions of valid graphs (kinds, attributes, operands): the verifier reports, never crashes."""
    values = [0, 1, -1, 100, 0.5, 0.1, "x", "qlinear", (), (0,), (1, 0), (0, 1, 2), (5, 5), (-1,), (0.5,),
              np.zeros(3, np.int8), np.zeros(256, np.uint8), None, 2 ** 70, float("nan")]
    rng = random.Random(0)
    for seed in range(1500):
        graph = random_graph(seed % 150)
        if not graph.ops:
            continue
        op = rng.choice(graph.ops)
        edit = rng.random()
        if edit < 0.4:
            op.kind = rng.choice(list(OP_TABLE))
            op.attrs = {a.name: rng.choice(values) for a in OP_TABLE[op.kind].attrs if rng.random() < 0.8}
        elif edit < 0.7:
            names = [a.name for a in OP_TABLE[op.kind].attrs] or ["unknown"]
            op.attrs[rng.choice(names)] = rng.choice(values)
        else:
            op.operands = [rng.choice(graph.values()) for _ in range(rng.randint(0, 3))]
        try:
            verify(graph)
        except IRError:
            pass
