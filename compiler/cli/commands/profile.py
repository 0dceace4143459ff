"""`vitc profile`: run a `.vitb` binary on the emulator with timing and show where the cycles go.

  vitc profile OUT.vitb [--hw CONFIG] [--input NAME=x.npy ... | --seed N]
                        [--trace t.json] [--chart roofline.svg] [--json]

Prints the per-layer table (cycles, share, matrix utilisation, bound: compute / memory / vector)
and the totals against the roofline (compiler/perf/). `--trace` writes the Chrome trace-event
file for Perfetto, `--chart` the roofline chart as SVG, `--json` one JSON object instead of the
table. Without `--input`, every input of the binary is a seeded random tensor of its dtype and
shape (normalised-image statistics for float inputs). Files are written atomically.
"""

from pathlib import Path

import numpy as np

from compiler.cli.commands.run import _load_inputs as load_npy_inputs  # `vitc run`'s NAME=x.npy parser
from compiler.perf.profile import profile_run
from compiler.perf.roofline_chart import roofline_chart
from compiler.perf.svg import write_svg
from isa.config import load_config
from isa.container import load_vitb, write_vitb
from models.zoo import random_image
from runtime_emulator import run_binary

NAME = "profile"
HELP = "run a .vitb with timing: per-layer cycles, utilisation, bound, roofline chart, trace"


def add_arguments(parser) -> None:
    parser.add_argument("binary", metavar="OUT.vitb", help="the binary to profile")
    parser.add_argument("--hw", default="default", metavar="CONFIG",
                        help="hardware configuration the binary was built for (name or .toml path)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--input", action="append", default=[], metavar="NAME=x.npy",
                        help="an input tensor (repeat for each input)")
    source.add_argument("--seed", type=int, default=0, help="seed of random inputs when no --input is given (default 0)")
    parser.add_argument("--trace", metavar="t.json", help="write a Chrome trace-event file (opens in Perfetto)")
    parser.add_argument("--chart", metavar="roofline.svg", help="write the roofline chart (SVG)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")


def seeded_inputs(binary, seed: int) -> dict[str, np.ndarray]:
    """A random tensor for every input of the binary's I/O table: float inputs as normalised
    image pixels, integer inputs uniform over their dtype's range."""
    rng = np.random.default_rng(seed)
    inputs = {}
    for entry in binary.io:
        if entry.kind != "input":
            continue
        dtype = np.dtype(entry.dtype)
        if dtype.kind == "f":
            inputs[entry.name] = random_image(tuple(entry.shape), seed).astype(dtype)
        else:
            info = np.iinfo(dtype)
            inputs[entry.name] = rng.integers(info.min, info.max, size=entry.shape, dtype=dtype, endpoint=True)
    return inputs


def run(args) -> int:
    config = load_config(args.hw)
    binary = load_vitb(args.binary)
    inputs = load_npy_inputs(args.input) if args.input else seeded_inputs(binary, args.seed)
    result = run_binary(write_vitb(binary), inputs, config, timing=True)
    profile = profile_run(binary, result.stats, config)
    if args.trace:
        result.write_trace(args.trace)
    if args.chart:
        write_svg(args.chart, [roofline_chart(profile, config, title=f"Roofline of {Path(args.binary).name} on {config.name!r}")])
    print(profile.to_json() if args.json else profile.format_table())
    return 0
