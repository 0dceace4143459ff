"""Small graphs for the backend passes' text tests (a qmatmul followed by element-wise tables),
and `vitc opt` run on such a graph's text."""

import numpy as np

from compiler.cli.main import main as vitc_main
from compiler.ir.graph import Graph
from compiler.ir.printer import print_graph
from compiler.ir.types import Quant, TensorType

SHIFT = ((np.arange(256) * 7 + 3) % 256).astype(np.uint8)  # a permutation of the codes


def matmul_then_tables(rows: int, k: int, n: int, tables: int = 2) -> str:
    """IR text: %mm = qmatmul(%x, %w) [rows x k] x [k x n], then `tables` table ops %t0, %t1, ..."""
    rng = np.random.default_rng(rows * k + n)
    g = Graph("chain")
    x = g.add_input("x", TensorType("u8", (1, rows, k), Quant.tensor(0.02, 128)))
    w = g.add_const(rng.integers(-128, 128, (k, n), dtype=np.int8), Quant.tensor(0.003, 0), name="w")
    out_type = TensorType("u8", (1, rows, n), Quant.tensor(0.05, 128))
    value = g.add_op("qmatmul", [x, w], out_type, {"multiplier": (np.float32(0.0012).item(),)}, name="mm")
    for i in range(tables):
        value = g.add_op("table", [value], out_type, {"table": SHIFT}, name=f"t{i}")
    g.set_outputs([value])
    return print_graph(g)


def vitc_opt_on_text(tmp_path, capsys, text: str, pipeline: str, *flags: str) -> tuple[int, str, str]:
    """`vitc opt -p pipeline [flags]` on `text` (written to a file): exit code, stdout, stderr."""
    source = tmp_path / "in.vir"
    source.write_text(text)
    code = vitc_main(["opt", str(source), "-p", pipeline, *flags])
    printed = capsys.readouterr()
    return code, printed.out, printed.err
