"""The interpreter's contract: every op of the table has a kernel, inputs are checked, errors name
the op, `keep_all` returns every value, and a small hand-built graph computes what the kernels
(tested against onnxruntime elsewhere) compute."""

import numpy as np
import pytest

from compiler.ir.graph import Graph, Op, Value
from compiler.ir.ops import OP_TABLE
from compiler.ir.types import Quant, TensorType
from compiler.reference.interpreter import KERNELS, run_graph
from compiler.reference.kernels.qmatmul import qmatmul
from compiler.reference.kernels.quantize import dequantize_linear, quantize_linear
from isa.errors import VitcError

F32 = np.float32


def _small_graph() -> Graph:
    g = Graph("small")
    x = g.add_input("x", TensorType("f32", (4, 16)))
    q = g.add_op("quantize", [x], TensorType("u8", (4, 16), Quant.tensor(0.05, 128)), loc="x_Q", name="x_q")
    w = g.add_const(np.arange(16 * 8, dtype=np.int64).reshape(16, 8).astype(np.int8) % 50 - 25,
                    Quant.tensor(0.01, 0), name="w")
    y = g.add_op("qmatmul", [q, w], TensorType("u8", (4, 8), Quant.tensor(0.2, 100)),
                 attrs={"multiplier": (float(F32(F32(0.05) * F32(0.01)) / F32(0.2)),)}, loc="MatMul_0", name="y_q")
    out = g.add_op("dequantize", [y], None, loc="y_DQ", name="y")
    g.set_outputs([out])
    g.verify()
    return g


def test_every_op_of_the_table_has_a_kernel():
    assert set(OP_TABLE) <= set(KERNELS), f"no kernel for: {sorted(set(OP_TABLE) - set(KERNELS))}"


def test_small_graph_against_the_kernels():
    x = np.linspace(-5, 5, 64, dtype=F32).reshape(4, 16)
    got = run_graph(_small_graph(), {"x": x})
    q = quantize_linear(x, F32(0.05), 128, np.uint8)
    w = np.arange(16 * 8).reshape(16, 8).astype(np.int8) % 50 - 25
    m = np.array([F32(F32(F32(0.05) * F32(0.01)) / F32(0.2))], F32)
    expected = dequantize_linear(qmatmul(q, 128, w.astype(np.int8), 0, None, m, 100, np.uint8), F32(0.2), 100)
    assert list(got) == ["y"]
    np.testing.assert_array_equal(got["y"].view(np.uint32), expected.view(np.uint32))


def test_keep_all_returns_every_value():
    values = run_graph(_small_graph(), {"x": np.zeros((4, 16), F32)}, keep_all=True)
    assert set(values) == {"x", "x_q", "w", "y_q", "y"}


def test_missing_and_mistyped_inputs_are_named():
    g = _small_graph()
    with pytest.raises(VitcError, match="input 'x' not given"):
        run_graph(g, {})
    with pytest.raises(VitcError, match=r"input 'x' is float64\[4, 16\], expected float32\[4, 16\]"):
        run_graph(g, {"x": np.zeros((4, 16))})


def test_unknown_op_is_named():
    g = _small_graph()
    bogus = Op("bogus", [g.outputs[0]], {}, Value("z", TensorType("f32", (4, 8))), ("Bogus_7",))
    g.ops.append(bogus)
    with pytest.raises(VitcError, match=r"op 'bogus' %z \(loc 'Bogus_7'\).*no kernel for op 'bogus'"):
        run_graph(g, {"x": np.zeros((4, 16), F32)})


def test_kernel_errors_name_the_op():
    g = Graph("short_rows")
    x = g.add_input("x", TensorType("f32", (2, 4)))
    gamma = g.add_const(np.ones(4, F32), name="gamma")
    y = g.add_op("layernorm", [x, gamma], None, attrs={"axis": 1, "epsilon": float(F32(1e-5))}, loc="LN_3", name="ln")
    g.set_outputs([y])
    with pytest.raises(VitcError, match=r"op 'layernorm' %ln \(loc 'LN_3'\): layernorm over 4 elements"):
        run_graph(g, {"x": np.zeros((2, 4), F32)})
