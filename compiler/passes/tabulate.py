"""Tabulation: every `onnx_chain` (8-bit in, 8-bit out) becomes a 256-entry `table`.

An `onnx_chain` holds an elementwise chain of ONNX nodes on one 8-bit tensor, so its output code
depends only on the input code. The table is the chain evaluated by onnxruntime on all 256 codes
in the chain's own input shape (`compiler.reference.kernels.onnx_chain.tabulate`, the same
evaluation the reference interpreter's `onnx_chain` kernel runs), so looking it up is exact by
construction; a chain that gives one code different results at different positions is an error
naming the op. Invariants: the `table` keeps the chain's result value (name, type) and loc; the
op order is kept; chains with one text are evaluated once.
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler.ir.graph import Graph, Op
from compiler.ir.ops import normalize_attrs
from compiler.ir.passes import Pass
from compiler.reference.kernels.onnx_chain import chain_signature, tabulate
from isa.errors import VitcError


def tabulate_chains(graph: Graph) -> list[Op]:
    """Replace every `onnx_chain` op in place by its `table`; returns the new ops in op order."""
    tables = []
    for index, op in enumerate(graph.ops):
        if op.kind != "onnx_chain":
            continue
        try:
            table = _table(op)
        except VitcError as err:
            raise VitcError(f"{op.describe()}: {err}") from None
        graph.ops[index] = Op("table", op.operands, normalize_attrs("table", {"table": table}), op.result, op.loc)
        tables.append(graph.ops[index])
    return tables


def _table(op: Op):
    """The 256 codes of `op`'s chain, once its declared types are the op's own."""
    text, x, y = op.attrs["model"], op.operands[0].type, op.result.type
    source_dtype, shape, output_dtype = chain_signature(text)
    if (source_dtype, shape, output_dtype) != (x.np_dtype, x.shape, y.np_dtype):
        raise VitcError(f"the chain maps {source_dtype}{list(shape)} to {output_dtype}, the op "
                        f"{x.np_dtype}{list(x.shape)} to {y.np_dtype}")
    return tabulate(text)


@dataclass(frozen=True)
class Tabulate(Pass):
    """Turn every onnx_chain (an elementwise chain on one 8-bit tensor) into a 256-entry table."""

    name = "tabulate"

    def apply(self, graph: Graph) -> None:
        for op in tabulate_chains(graph):
            self.log.debug("tabulated %s", op.describe())
