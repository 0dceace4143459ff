"""IR -> instructions -> `.vitb`: the backend (see docs/architecture.md and driver.py).

    compile_graph(graph, config) -> isa.container.Binary
    compile_model(path, config) -> isa.container.Binary      (imports the ONNX model first)
"""

from compiler.codegen.driver import compile_graph, compile_graph_full, compile_model

__all__ = ["compile_graph", "compile_graph_full", "compile_model"]
