"""The vitc IR: typed values, the op table, the verifier, the `.vir` text form, the pass manager.

The names most callers need are re-exported here; each lives in the module named after it.
"""

from compiler.ir.errors import IRError, IRParseError, PipelineError
from compiler.ir.graph import Graph, Op, Value
from compiler.ir.types import DTYPES, Quant, TensorType

__all__ = ["DTYPES", "Graph", "IRError", "IRParseError", "Op", "PipelineError", "Quant", "TensorType", "Value"]
