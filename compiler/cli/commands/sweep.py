"""`vitc sweep`: design-space exploration, one model over a grid of hardware configurations.

  vitc sweep MODEL.onnx --dim 8,16,32 --spad-kib 128,256,512 [--acc-kib 64,128]
                        [--hw BASE] [--seed N] [--json] [--chart sweep.svg]

Each point derives a configuration from BASE (default: the default configuration's file) with
the array size and on-chip memories overridden (compiler/perf/hw_variants.py), compiles the
model for it and runs it on the emulator with timing. Prints one row per point (dim, spad KiB,
acc KiB, cycles, frames/s at the clock, matrix utilisation, on-chip KiB, cycles / roofline); a
point that cannot be built is shown with its reason. `--chart` plots cycles and utilisation
against on-chip memory (SVG).
"""

import sys
from pathlib import Path

from compiler.cli.commands.compile import load_graph
from compiler.cli.commands.verify import model_inputs
from compiler.perf.sweep import TABLE_HEADER, format_row, run_sweep, to_json
from compiler.perf.sweep_chart import sweep_charts
from compiler.perf.svg import write_svg
from isa.config import load_config
from isa.errors import VitcError

NAME = "sweep"
HELP = "design-space sweep: compile and emulate a model over array sizes and on-chip memory sizes"


def int_list(text: str) -> list[int]:
    """`8,16,32` -> [8, 16, 32]; each a positive integer."""
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise VitcError(f"{text!r}: expected comma-separated positive integers") from None
    if not values or any(v <= 0 for v in values):
        raise VitcError(f"{text!r}: expected comma-separated positive integers")
    return values


def add_arguments(parser) -> None:
    parser.add_argument("model", metavar="MODEL.onnx", help="quantized ONNX model")
    parser.add_argument("--dim", required=True, metavar="D,...", help="matrix-engine sizes, e.g. 8,16,32")
    parser.add_argument("--spad-kib", required=True, metavar="KIB,...", help="scratchpad sizes in KiB, e.g. 128,256,512")
    parser.add_argument("--acc-kib", metavar="KIB,...", help="accumulator sizes in KiB (default: the base configuration's)")
    parser.add_argument("--hw", default="default", metavar="BASE", help="base configuration the points derive from (name or .toml path)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random input image (default 0)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--chart", metavar="sweep.svg", help="plot cycles and utilisation against on-chip memory (SVG)")


def run(args) -> int:
    base = load_config(args.hw)
    dims, spad_kibs = int_list(args.dim), int_list(args.spad_kib)
    acc_kibs = int_list(args.acc_kib) if args.acc_kib else [base.acc_kib]
    if str(args.model).endswith(".vir"):
        raise VitcError(f"{args.model}: sweep needs the ONNX model to make its input; pass MODEL.onnx")
    inputs = model_inputs(args.model, None, args.seed)
    graph = load_graph(args.model)
    if not args.json:
        print(TABLE_HEADER, flush=True)
    progress = None if args.json else (lambda point: print(format_row(point), flush=True))
    points = run_sweep(graph, base, dims, spad_kibs, acc_kibs, inputs, progress=progress)
    if args.chart:
        write_svg(args.chart, sweep_charts(points, Path(args.model).name))
    if args.json:
        print(to_json(points))
    feasible = sum(p.feasible for p in points)
    print(f"{feasible} of {len(points)} points compiled and ran", file=sys.stderr)
    return 0
