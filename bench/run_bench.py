"""The vitc benchmark: build the zoo models, compile, emulate, run onnxruntime, print one table.

  python bench/run_bench.py [--models vit-micro,deit-tiny,...] [--configs default,large]
                            [--variant qdq-u8-pt] [--build KEY=VALUE ...] [--seed N]
                            [--repeats N] [--cold-repeats N] [--timeout S] [--json]

Per model and configuration (docs/performance.md explains every column):
compile s (ONNX import + backend) and emulate s (emulator with timing), each the median of
--cold-repeats runs in fresh processes (nothing carried over between runs); onnxruntime s (one
thread, default optimisation, median of --repeats runs after a warm-up); their ratio; cycles,
roofline cycles and their ratio; matrix-engine utilisation; each unit's busy time (load / store
/ matrix / vector, as % of the cycles); DRAM MB moved against the compulsory MB; exact (every
output element equal to onnxruntime's); the peak RSS of the compile and of the emulation. Each
measured step runs in its own process (bench/steps.py), so its peak RSS is its own; the models
are built (and cached) by the zoo beforehand, untimed.

A model that fails to build, compile or run is a row saying so, with the reason under the
table, so one failure does not hide the other figures.
`--build KEY=VALUE` passes a zoo build option (e.g. `layernorm=none`) to every model.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

STEPS_SCRIPT = Path(__file__).with_name("steps.py")
MB = 1e6


@dataclass
class Row:
    model: str
    config: str
    status: str = "ok"  # "ok", or what failed: "build", "compile", "emulate", "onnxruntime"
    error: str | None = None
    compile_seconds: float | None = None
    emulate_seconds: float | None = None
    onnxruntime_seconds: float | None = None
    cycles: int | None = None
    roofline_cycles: int | None = None
    roofline_bound: str | None = None
    matrix_utilisation: float | None = None
    dram_bytes: int | None = None
    compulsory_bytes: int | None = None
    exact: bool | None = None
    mismatched_elements: int | None = None
    instructions: int | None = None
    busy_cycles: dict[str, int] | None = None  # per unit: load, store, matrix, vector
    compile_rss_mb: float | None = None
    run_rss_mb: float | None = None

    @property
    def emulate_ratio(self) -> float | None:
        if self.emulate_seconds is None or not self.onnxruntime_seconds:
            return None
        return self.emulate_seconds / self.onnxruntime_seconds

    @property
    def roofline_ratio(self) -> float | None:
        return self.cycles / self.roofline_cycles if self.cycles and self.roofline_cycles else None

    def to_dict(self) -> dict:
        return {**asdict(self), "emulate_ratio": self.emulate_ratio, "roofline_ratio": self.roofline_ratio}


def run_step(args: list[str], timeout: float) -> dict:
    """Run one bench/steps.py step in a fresh interpreter; its figures, or {"error": ...}."""
    command = [sys.executable, str(STEPS_SCRIPT), *map(str, args)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:g} s"}
    lines = done.stdout.strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"step {args[0]} exited with status {done.returncode}: {last}"}


def compare_outputs(emulated_path: Path, reference_path: Path) -> tuple[bool, int]:
    """(every output element equal, how many differ), comparing the two .npz files by name."""
    with np.load(emulated_path) as emulated, np.load(reference_path) as reference:
        if sorted(emulated.files) != sorted(reference.files):
            return False, -1
        differing = 0
        for name in reference.files:
            got, want = emulated[name], reference[name]
            differing += int(got.size) if got.shape != want.shape else int(np.count_nonzero(got != want))
    return differing == 0, differing


def _failed(row: Row, status: str, error: str) -> Row:
    row.status, row.error = status, error
    return row


def bench_model(name: str, model_path: Path, configs: list[str], seed: int, repeats: int, timeout: float, work: Path,
                cold_repeats: int = 1) -> list[Row]:
    reference_npz = work / f"{name}-onnxruntime.npz"
    reference = run_step(["onnxruntime", model_path, name, seed, repeats, reference_npz], timeout)
    rows = []
    for config in configs:
        row = Row(name, config, onnxruntime_seconds=reference.get("seconds"))
        rows.append(row)
        if "error" in reference:
            _failed(row, "onnxruntime", reference["error"])
            continue
        vitb = work / f"{name}-{Path(config).stem}.vitb"
        compiles = [run_step(["compile", model_path, config, vitb], timeout) for _ in range(cold_repeats)]
        failed = [run for run in compiles if "error" in run]
        if failed:
            _failed(row, "compile", failed[0]["error"])
            continue
        row.compile_seconds = statistics.median(run["seconds"] for run in compiles)
        row.compile_rss_mb = max(run["peak_rss_mb"] for run in compiles)
        emulated_npz = work / f"{name}-{Path(config).stem}.npz"
        runs = [run_step(["emulate", vitb, config, name, seed, emulated_npz], timeout) for _ in range(cold_repeats)]
        failed = [run for run in runs if "error" in run]
        if failed:
            _failed(row, "emulate", failed[0]["error"])
            continue
        emulated = runs[0]
        row.emulate_seconds = statistics.median(run["seconds"] for run in runs)
        row.run_rss_mb = max(run["peak_rss_mb"] for run in runs)
        for key in ("cycles", "roofline_cycles", "roofline_bound", "matrix_utilisation", "dram_bytes",
                    "compulsory_bytes", "instructions", "busy_cycles"):
            setattr(row, key, emulated[key])
        row.exact, row.mismatched_elements = compare_outputs(emulated_npz, reference_npz)
    return rows


def run_bench(models: list[str], configs: list[str], variant: str, build: dict, seed: int = 0, repeats: int = 5,
              timeout: float = 3600.0, progress=None, cold_repeats: int = 1) -> list[Row]:
    from isa.errors import VitcError
    from models.zoo import quantized_model_path

    rows = []
    with tempfile.TemporaryDirectory(prefix="vitc-bench-") as tmp:
        for name in models:
            try:
                model_path = quantized_model_path(name, variant, **build)
            except VitcError as err:
                new = [_failed(Row(name, config), "build", str(err)) for config in configs]
            else:
                new = bench_model(name, model_path, configs, seed, repeats, timeout, Path(tmp), cold_repeats)
            rows += new
            if progress:
                for row in new:
                    progress(row)
    return rows


def _cell(value, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


BUSY_UNITS = ("load", "store", "matrix", "vector")


def _busy_cell(row: Row) -> str:
    """Each unit's busy cycles as a percentage of the run's cycles, load/store/matrix/vector."""
    if row.busy_cycles is None or not row.cycles:
        return "-"
    return "/".join(f"{100 * row.busy_cycles[unit] / row.cycles:.0f}" for unit in BUSY_UNITS)


COLUMNS = (  # header, width, how a row fills it
    ("model", 11, lambda r: r.model),
    ("config", 8, lambda r: r.config),
    ("compile s", 9, lambda r: _cell(r.compile_seconds, ".2f")),
    ("emulate s", 9, lambda r: _cell(r.emulate_seconds, ".2f")),
    ("ort s", 8, lambda r: _cell(r.onnxruntime_seconds, ".4f")),
    ("emu/ort", 8, lambda r: _cell(r.emulate_ratio, ".1f")),
    ("cycles", 13, lambda r: _cell(r.cycles, ",")),
    ("roofline", 13, lambda r: _cell(r.roofline_cycles, ",")),
    ("cyc/roof", 8, lambda r: _cell(r.roofline_ratio, ".2f")),
    ("matrix", 7, lambda r: _cell(r.matrix_utilisation, ".1%")),
    ("busy % L/S/M/V", 14, lambda r: _busy_cell(r)),
    ("DRAM MB", 9, lambda r: _cell(None if r.dram_bytes is None else r.dram_bytes / MB, ".2f")),
    ("compul MB", 9, lambda r: _cell(None if r.compulsory_bytes is None else r.compulsory_bytes / MB, ".2f")),
    ("exact", 5, lambda r: "-" if r.exact is None else ("yes" if r.exact else "NO")),
    ("RSS MiB c/r", 11, lambda r: "-" if r.compile_rss_mb is None else f"{r.compile_rss_mb:.0f}/{_cell(r.run_rss_mb, '.0f')}"),
)


def format_header() -> str:
    return " ".join(f"{title:>{width}}" if i > 1 else f"{title:<{width}}" for i, (title, width, _) in enumerate(COLUMNS))


def format_row(row: Row, note: int | None = None) -> str:
    cells = [fill(row) for _, _, fill in COLUMNS]
    text = " ".join(f"{cell:>{width}}" if i > 1 else f"{cell:<{width}}" for i, ((_, width, _), cell) in enumerate(zip(COLUMNS, cells)))
    return text if row.status == "ok" else f"{text}  {row.status} failed [{note}]"


def format_table(rows: list[Row]) -> str:
    header = format_header()
    lines, notes = [header, "-" * len(header)], []
    for row in rows:
        if row.status != "ok":
            notes.append(f"[{len(notes) + 1}] {row.model} on {row.config}: {row.status}: {row.error}")
        lines.append(format_row(row, len(notes)))
    return "\n".join(lines + ([""] + notes if notes else []))


def _build_options(pairs: list[str]) -> dict:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"run_bench: --build {pair!r}: expected KEY=VALUE")
        options[key] = int(value) if value.isdigit() else value
    return options


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="run_bench.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="vit-micro,deit-tiny,deit-small,vit-base", help="comma-separated zoo models")
    parser.add_argument("--configs", default="default,large", help="comma-separated hardware configurations (names or .toml paths)")
    parser.add_argument("--variant", default="qdq-u8-pt", help="quantisation variant tag (default qdq-u8-pt)")
    parser.add_argument("--build", action="append", default=[], metavar="KEY=VALUE", help="zoo build option for every model")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample input (default 0)")
    parser.add_argument("--repeats", type=int, default=5, help="timed onnxruntime runs, median reported (default 5)")
    parser.add_argument("--cold-repeats", type=int, default=3,
                        help="compile and emulator runs, each in a fresh process (nothing carried over), median reported (default 3)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds allowed per step (default 3600)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.cold_repeats < 1:
        parser.error("--repeats and --cold-repeats must be at least 1")
    models, configs = args.models.split(","), args.configs.split(",")
    def progress(row: Row) -> None:  # on stderr, so that --json output stays one object
        print(f"run_bench: {row.model} on {row.config}: {row.status}", file=sys.stderr, flush=True)

    rows = run_bench(models, configs, args.variant, _build_options(args.build), args.seed, args.repeats, args.timeout, progress,
                     args.cold_repeats)
    if args.json:
        print(json.dumps({"variant": args.variant, "build": _build_options(args.build), "seed": args.seed,
                          "rows": [row.to_dict() for row in rows]}, sort_keys=True))
    else:
        print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
