"""Float `matmul` lowered to `fmm` K block by K block, against the reference MLAS SGEMM kernel
(established bit-exact against onnxruntime in tests/compiler/reference): a constant
(prepacked) B with several 256-long K blocks, and a computed B split into column slices."""

import numpy as np
import pytest

from compiler.ir.graph import Graph
from compiler.reference.kernels.sgemm import default_threads, sgemm
from isa.config import load_config
from isa.errors import VitcError
from tests.compiler.codegen.programs import assert_equal_tensors, run_graph_on_emulator, tensor_type


def _values(rng, shape):
    """Dequantized-looking float32 values: small integers times a float32 scale."""
    return (rng.integers(-127, 128, shape).astype(np.float32) * np.float32(0.0123)).astype(np.float32)


@pytest.mark.parametrize("config_name", ["default", "large"])
@pytest.mark.parametrize("m,k,n", [(17, 64, 64), (40, 600, 48)])
def test_constant_b_is_exact(config_name, m, k, n):
    rng = np.random.default_rng(k)
    g = Graph("fmm")
    a = g.add_input("a", tensor_type("f32", (1, m, k)))
    b = _values(rng, (k, n))
    y = g.add_op("matmul", [a, g.add_const(b, name="b")], attrs={"b_prepacked": 1}, name="y")
    g.set_outputs([y])
    a_in = _values(rng, (1, m, k))
    outputs, _, _ = run_graph_on_emulator(g, load_config(config_name), {"a": a_in})
    assert_equal_tensors("y", outputs["y"], sgemm(a_in, b, True))


@pytest.mark.parametrize("m,k,n", [(17, 64, 64), (20, 300, 200)])
def test_computed_b_follows_the_thread_split(m, k, n):
    rng = np.random.default_rng(n)
    g = Graph("fmm")
    a = g.add_input("a", tensor_type("f32", (m, k)))
    b = g.add_input("b", tensor_type("f32", (k, n)))
    y = g.add_op("matmul", [a, b], name="y")
    g.set_outputs([y])
    a_in, b_in = _values(rng, (m, k)), _values(rng, (k, n))
    outputs, _, _ = run_graph_on_emulator(g, load_config("default"), {"a": a_in, "b": b_in})
    assert_equal_tensors("y", outputs["y"], sgemm(a_in, b_in, False, default_threads()))


def test_single_row_by_a_computed_matrix_is_refused():
    g = Graph("fmm")
    a = g.add_input("a", tensor_type("f32", (1, 32)))
    b = g.add_input("b", tensor_type("f32", (32, 8)))
    g.set_outputs([g.add_op("matmul", [a, b], name="y")])
    with pytest.raises(VitcError, match="matmul.*single row"):
        run_graph_on_emulator(g, load_config("default"), {"a": np.zeros((1, 32), np.float32), "b": np.zeros((32, 8), np.float32)})
