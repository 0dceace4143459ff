"""Layout folding and the DRAM plan: layout ops become views (no instructions), results land in
the layout their consumers need, concat operands fill their slots, live buffers never share
bytes; compiled layout programs are checked against numpy."""

import numpy as np
import pytest

from compiler.codegen.driver import compile_graph_full
from compiler.codegen.layout_plan import plan_layout
from compiler.codegen.memory_plan import plan_activations
from compiler.ir.graph import Graph
from isa.config import config_from_dict, load_config
from isa.errors import VitcError
from tests.compiler.codegen.programs import (
    assert_equal_tensors, f32, q, qmatmul_reference, random_codes, run_graph_on_emulator, tensor_type,
)

IDENTITY = np.arange(256, dtype=np.uint8)


def _table(g, x, name):
    """A table op (the vector unit's) that shifts every code by one."""
    return g.add_op("table", [x], tensor_type("u8", x.type.shape, x.type.quant), {"table": (IDENTITY + 1).astype(np.uint8)}, name=name)


def test_concat_gather_slice_and_output_copy_against_numpy():
    rng = np.random.default_rng(0)
    g = Graph("layout")
    x = g.add_input("x", tensor_type("u8", (1, 16, 32), q(0.02, 128)))
    w = random_codes(rng, (32, 32), np.int8)
    mult = (f32(0.02 * 0.003 / 0.02),)
    proj = g.add_op("qmatmul", [x, g.add_const(w, q(0.003, 0), name="w")], tensor_type("u8", (1, 16, 32), q(0.02, 128)),
                    {"multiplier": mult}, name="proj")
    cls = g.add_const(random_codes(rng, (1, 1, 32), np.uint8), q(0.02, 128), name="cls")
    cat = g.add_op("concat", [cls, proj], attrs={"axis": 1}, name="cat")
    shifted = _table(g, cat, "shifted")
    first = g.add_op("gather", [shifted, g.add_const(np.array(0, np.int64), name="zero")], attrs={"axis": 1}, name="first")
    middle = g.add_op("slice", [shifted], attrs={"starts": (0, 2, 0), "ends": (1, 10, 32), "steps": (1, 2, 1)}, name="middle")
    g.set_outputs([first, middle])
    compiled = compile_graph_full(g, load_config("default"))
    plan = compiled.plan
    assert plan[proj].buffer is plan[cat].buffer, "the matmul writes straight into its concat slot"
    # Only compute ops and copies emit code: the concat copies its constant operand, and the
    # graph outputs that are views get copied into their own buffers.
    assert compiled.binary.layers == ["proj", "cat", "shifted", "first", "middle"]
    xin = random_codes(rng, (1, 16, 32), np.uint8)
    outputs, _, _ = run_graph_on_emulator(g, load_config("default"), {"x": xin})
    p = qmatmul_reference(xin, 128, w, 0, None, np.asarray(mult, np.float32), 128, np.uint8)
    s = np.concatenate([g.producers()[cls].attrs["value"], p], axis=1) + np.uint8(1)
    assert_equal_tensors("first", outputs["first"], s[:, 0])
    assert_equal_tensors("middle", outputs["middle"], s[:, 2:10:2])


def test_elementwise_on_a_transposed_view_runs_in_memory_order():
    rng = np.random.default_rng(1)
    g = Graph("kt")
    x = g.add_input("x", tensor_type("u8", (1, 17, 64), q(0.02, 128)))
    r = g.add_op("reshape", [x], tensor_type("u8", (1, 17, 4, 16), x.type.quant), name="r")
    kt = g.add_op("transpose", [r], attrs={"perm": (0, 2, 3, 1)}, name="kt")
    scaled = _table(g, kt, "scaled")
    out = g.add_op("transpose", [scaled], attrs={"perm": (0, 1, 3, 2)}, name="out")
    copy = _table(g, out, "y")
    g.set_outputs([copy])
    xin = random_codes(rng, (1, 17, 64), np.uint8)
    outputs, _, _ = run_graph_on_emulator(g, load_config("default"), {"x": xin})
    expected = xin.reshape(1, 17, 4, 16).transpose(0, 2, 1, 3) + np.uint8(2)
    assert_equal_tensors("y", outputs["y"], expected)


def test_live_buffers_never_overlap_and_dead_ones_are_reused():
    g = Graph("chain")
    x = g.add_input("x", tensor_type("u8", (64, 64), q(0.02, 128)))
    values = [x]
    for i in range(6):
        values.append(_table(g, values[-1], f"t{i}"))
    g.set_outputs([values[-1]])
    plan = plan_layout(g)
    arena = plan_activations(plan)
    buffers = [b for b in plan.buffers if b.kind != "const"]
    for a in buffers:
        for b in buffers:
            if a is b or a.last < b.first or b.last < a.first:
                continue
            assert a.addr + a.nbytes <= b.addr or b.addr + b.nbytes <= a.addr, f"{a.name} and {b.name} overlap while live"
    assert arena < sum(b.nbytes for b in buffers), "dead buffers should be reused"


def test_a_machine_too_small_for_a_tile_is_an_error_naming_the_op():
    params = {**load_config("default").parameters(), "name": "tiny", "spad_kib": 1, "acc_kib": 1}
    tiny = config_from_dict(params)
    g = Graph("big")
    x = g.add_input("x", tensor_type("u8", (8, 4096), q(0.02, 128)))
    y = g.add_op("qmatmul", [x, g.add_const(np.ones((4096, 16), np.int8), q(0.003, 0), name="w")],
                 tensor_type("u8", (8, 16), q(0.02, 0)), {"multiplier": (f32(0.003),)}, name="y")
    g.set_outputs([y])
    with pytest.raises(VitcError, match="qmatmul.*%y.*no tiling fits"):
        compile_graph_full(g, tiny)
