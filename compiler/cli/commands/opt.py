"""`vitc opt`: run a pass pipeline on IR text (`.vir`) and print or write the result.

Like `mlir-opt`: passes are tested on hand-written IR with no ONNX model involved. Reads a
`.vir` file (or `-` for stdin), verifies it, runs `-p PIPELINE` under the pass manager's
instrumentation flags (see `compiler.ir.pass_cli`), then writes the IR to `-o` (atomically) or
to stdout; a pipeline through `select-instructions` writes the machine code instead (like
`llc -stop-after`).
"""

from compiler.ir.pass_cli import add_pass_arguments, pass_manager_from_args
from compiler.ir.vir_io import emit_graph, read_vir

NAME = "opt"
HELP = "run IR passes on a .vir file (-p PIPELINE) and print or write the result"


def add_arguments(parser) -> None:
    parser.add_argument("input", metavar="FILE.vir", help="the IR to transform ('-' reads stdin)")
    parser.add_argument("-o", "--output", metavar="OUT.vir", help="write the result here (default: stdout)")
    add_pass_arguments(parser)


def run(args) -> int:
    manager = pass_manager_from_args(args)  # bad flags fail before any work
    graph = read_vir(args.input)
    manager.run(graph)
    emit_graph(graph, args.output, args.elide_constants)
    return 0
