"""The Graph API passes use: producers, users, rewiring uses, inserting ops, equality."""

import numpy as np

from compiler.ir.equality import graphs_equal
from compiler.ir.graph import Graph
from compiler.ir.parser import parse_graph
from compiler.ir.printer import print_graph
from compiler.ir.types import TensorType
from compiler.ir.verifier import verify

F = TensorType("f32", (2, 2))


def small_graph():
    g = Graph("g")
    x = g.add_input("x", F)
    a = g.add_op("sqrt", [x], name="a")
    b = g.add_op("mul", [a, a], name="b")
    g.set_outputs([b, a])
    return g, x, a, b


def test_producers_and_users():
    g, x, a, b = small_graph()
    producers = g.producers()
    assert producers[a].kind == "sqrt" and producers[b].kind == "mul" and x not in producers
    users = g.users()
    assert [op.result.name for op in users[a]] == ["b", "b"]  # used twice by one op
    assert [op.result.name for op in users[x]] == ["a"]
    assert users[b] == []


def test_replace_all_uses_rewires_operands_and_outputs():
    g, x, a, b = small_graph()
    g.replace_all_uses(a, x)
    assert g.ops[1].operands == [x, x]
    assert g.outputs == [b, x]


def test_make_op_inserts_anywhere_with_a_fresh_name():
    g, x, a, b = small_graph()
    op = g.make_op("exp", [x], name="a")
    g.ops.insert(1, op)
    g.replace_all_uses(a, op.result)
    assert op.result.name == "a_1"
    verify(g)
    assert print_graph(g).splitlines()[2] == "  %a_1 = exp %x : tensor<2x2xf32> -> tensor<2x2xf32>"


def test_add_const_copies_and_freezes_the_array():
    g = Graph("g")
    data = np.arange(4, dtype=np.int8)
    c = g.add_const(data)
    data[0] = 9
    stored = g.ops[0].attrs["value"]
    assert stored[0] == 0 and not stored.flags.writeable
    assert c.type == TensorType("i8", (4,))


def test_graphs_equal():
    g, *_ = small_graph()
    h = parse_graph(print_graph(g))
    assert graphs_equal(g, h)
    h.ops[1].loc = ("somewhere",)
    assert not graphs_equal(g, h)
