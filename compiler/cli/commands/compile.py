"""`vitc compile`: an ONNX model (or a .vir graph) -> a `.vitb` binary for a hardware configuration.

  vitc compile MODEL.onnx -o OUT.vitb [--hw CONFIG] [--emit ir|asm|bin] [-p PIPELINE] [pass flags]

The compile is one pass pipeline (`-p`, default `compiler.codegen.driver.backend_pipeline(config)`:
IR passes, `select-instructions`, `schedule`, `emit`; a pipeline without the last three gets
them appended) under the pass manager's flags (`--print-ir-after-all`, `--dump-dir`,
`--time-passes`, ... shared with `vitc opt` through `compiler.ir.pass_cli`); after
`select-instructions` they print, dump and verify the machine code. `--emit bin` (default) writes the binary, `asm`
its disassembly (which `vitc asm` assembles back to the same bytes), `ir` the IR text after the
pipeline. The output is written atomically. Progress
goes to stderr on long compiles; a summary (instructions, constant bytes, DRAM footprint) ends
the run.
"""

import sys
import time

from compiler.codegen.driver import backend_pipeline, compile_graph_full
from compiler.ir.pass_cli import add_pass_arguments, pass_manager_from_args
from compiler.ir.printer import print_graph
from compiler.ir.vir_io import read_vir, write_text_atomic
from isa.config import load_config
from isa.container import save_vitb
from isa.disassembler import disassemble_binary

NAME = "compile"
HELP = "compile a quantized ONNX model (or .vir graph) to a .vitb binary"


def add_arguments(parser) -> None:
    parser.add_argument("model", metavar="MODEL.onnx", help="quantized ONNX model, or a .vir IR file")
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="output file (.vitb, or text for --emit ir|asm)")
    parser.add_argument("--hw", default="default", metavar="CONFIG", help="hardware configuration (name or .toml path)")
    parser.add_argument("--emit", default="bin", choices=["ir", "asm", "bin"], help="what to write (default: bin)")
    default = backend_pipeline(load_config("default"))
    add_pass_arguments(parser, None,  # None: the configuration's backend pipeline, filled in by run()
                       f"default: the whole compile for --hw, e.g. for 'default': {default.replace('%', '%%')}")


def load_graph(path: str):
    """The IR of a model file: `.vir` text is parsed, anything else imported as ONNX."""
    if str(path).endswith(".vir"):
        return read_vir(path)
    from compiler.frontend import import_model

    return import_model(path)


def progress_printer(stream=None, every_seconds: float = 1.0):
    """A progress callback that prints at most once per `every_seconds` (and not at all on
    compiles shorter than that) to `stream`, by default the `sys.stderr` of the moment it prints
    (not of the moment this module was imported: a test harness may have replaced it since)."""
    start = time.perf_counter()
    last = [start]

    def report(done: int, total: int, what: str) -> None:
        now = time.perf_counter()
        if now - last[0] < every_seconds and done != total:
            return
        if now - start < every_seconds:
            return
        last[0] = now
        print(f"vitc compile: {done}/{total} ops ({now - start:.1f} s) {what}", file=stream or sys.stderr, flush=True)

    return report


def summary(compiled, config, seconds: float) -> str:
    binary = compiled.binary
    return (f"compiled for {config.name!r}: {len(compiled.machine.items):,} instructions, "
            f"{len(binary.constants):,} constant bytes, DRAM footprint {binary.dram_size:,} bytes "
            f"({compiled.activation_bytes:,} activations + constants), {len(binary.layers)} layers, {seconds:.2f} s")


def run(args) -> int:
    config = load_config(args.hw)
    if args.pipeline is None:
        args.pipeline = backend_pipeline(config)
    passes = pass_manager_from_args(args)  # bad flags fail before any work
    graph = load_graph(args.model)
    if args.emit == "ir":
        passes.run(graph)
        write_text_atomic(args.output, print_graph(graph))
        return 0
    start = time.perf_counter()
    compiled = compile_graph_full(graph, config, progress_printer(), passes=passes)
    if args.emit == "asm":
        write_text_atomic(args.output, disassemble_binary(compiled.binary))
    else:
        save_vitb(args.output, compiled.binary)
    print(summary(compiled, config, time.perf_counter() - start))
    return 0
