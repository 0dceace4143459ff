"""`vitc import`: translate a quantized ONNX model into the IR and print or write it as `.vir`.

Calls `compiler.frontend.import_model(path) -> Graph`, then optionally runs a pass pipeline
(`-p`, with the pass manager's instrumentation flags, see `compiler.ir.pass_cli`) and writes the
IR to `-o` (atomically) or to stdout.
"""

from pathlib import Path

from compiler.ir.errors import IRError
from compiler.ir.pass_cli import add_pass_arguments, pass_manager_from_args
from compiler.ir.verifier import verify
from compiler.ir.vir_io import emit_graph

NAME = "import"
HELP = "import a quantized ONNX model into the vitc IR (.vir)"


def add_arguments(parser) -> None:
    parser.add_argument("model", metavar="MODEL.onnx", help="the quantized ONNX model")
    parser.add_argument("-o", "--output", metavar="OUT.vir", help="write the IR here (default: stdout)")
    add_pass_arguments(parser)


def run(args) -> int:
    manager = pass_manager_from_args(args)  # bad flags fail before the (slower) import
    if not Path(args.model).is_file():
        raise IRError(f"{args.model}: no such model file")
    # Imported here, not at the top: the frontend loads onnx and onnxruntime, which would slow
    # down every other vitc subcommand (all command modules are imported to build the parser).
    from compiler.frontend import import_model

    graph = import_model(args.model)
    verify(graph)  # never print IR that breaks the op table, even with no passes to run
    manager.run(graph)
    emit_graph(graph, args.output, args.elide_constants)
    return 0
