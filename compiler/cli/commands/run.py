"""`vitc run`: execute a `.vitb` binary on the emulator.

Inputs come from `.npy` files (`--input NAME=x.npy`, one per model input); the outputs are
written to one `.npz` file (atomically). `--stats` prints a table, `--json` one JSON object of
the statistics, `--trace` writes Chrome trace-event JSON; `--check-hazards` reports on-chip
accesses that no token orders; `--functional-only` skips the timing model.
"""

import io
import sys
from pathlib import Path

import numpy as np

from isa.errors import VitcError
from runtime_emulator import run_binary
from isa.files import write_file_atomically

NAME = "run"
HELP = "run a .vitb binary on the instruction-level emulator"


def add_arguments(parser) -> None:
    parser.add_argument("binary", metavar="FILE.vitb", help="the binary to run")
    parser.add_argument("--input", action="append", default=[], metavar="NAME=FILE.npy",
                        help="an input tensor (repeat for each input)")
    parser.add_argument("-o", "--output", metavar="OUT.npz", help="write the outputs to this .npz file")
    parser.add_argument("--hw", default="default", metavar="CONFIG",
                        help="hardware configuration the binary was built for (name or .toml path)")
    parser.add_argument("--stats", action="store_true", help="print cycle and utilisation statistics")
    parser.add_argument("--json", action="store_true", help="print the statistics as one JSON object")
    parser.add_argument("--trace", metavar="TRACE.json", help="write a Chrome trace-event file (Perfetto)")
    parser.add_argument("--check-hazards", action="store_true",
                        help="report on-chip accesses of different units that no token orders")
    parser.add_argument("--functional-only", action="store_true", help="skip the timing model")


def _read_bytes(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as err:
        raise VitcError(f"{what} {path}: cannot read: {err.strerror}") from None


def _load_inputs(specs: list[str]) -> dict[str, np.ndarray]:
    inputs = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise VitcError(f"--input {spec!r}: expected NAME=FILE.npy")
        try:
            inputs[name] = np.load(io.BytesIO(_read_bytes(path, f"input {name!r}")), allow_pickle=False)
        except (ValueError, EOFError, OSError) as err:
            raise VitcError(f"input {name!r}: {path} is not a .npy file: {err}") from None
    return inputs


def run(args) -> int:
    if (args.stats or args.json or args.trace) and args.functional_only:
        raise VitcError("--stats, --json and --trace need timing; drop --functional-only")
    binary = _read_bytes(args.binary, "binary")
    result = run_binary(binary, _load_inputs(args.input), args.hw,
                        timing=not args.functional_only, check_hazards=args.check_hazards)
    if args.output:
        archive = io.BytesIO()
        np.savez(archive, **result.outputs)
        write_file_atomically(args.output, archive.getvalue())
    if args.trace:
        result.write_trace(args.trace)
    if args.stats:
        print(result.stats.format_table())
    if args.json:
        print(result.stats.to_json())
    if not (args.output or args.stats or args.json):
        for name, value in result.outputs.items():
            print(f"{name}: {value.dtype} {list(value.shape)}", file=sys.stdout)
    return 0
