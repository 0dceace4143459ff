"""One measured step of the benchmark, run in its own process so that its peak RSS is its own.

  python bench/steps.py compile MODEL.onnx CONFIG OUT.vitb
  python bench/steps.py emulate OUT.vitb CONFIG MODEL_NAME SEED OUTPUTS.npz
  python bench/steps.py onnxruntime MODEL.onnx MODEL_NAME SEED REPEATS OUTPUTS.npz

Each prints exactly one JSON object on its last stdout line: the step's figures plus
`peak_rss_mb` (this process's peak RSS: the interpreter, its imports and the work),
or `{"error": "..."}` when the step failed (exit status 1). Timings are wall-clock
(`time.perf_counter`) around the work only, not the imports.

- compile: ONNX import (frontend) plus the backend, as `vitc compile` does; writes the .vitb.
- emulate: `run_binary` with timing on the zoo's seeded sample input; writes the outputs and
  reports the run statistics and the binary's roofline (compiler/perf/).
- onnxruntime: the same model and input on the CPU provider, one intra-op thread, default
  optimisation level; one warm-up run, then the median of REPEATS timed runs.
"""

import json
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from isa.errors import VitcError


def _peak_rss_mb() -> float:
    """This process's peak resident set size in MB (2^20 bytes).

    Linux's getrusage(RUSAGE_SELF).ru_maxrss keeps the parent's peak across fork and exec (the
    kernel carries the old address space's high-water mark into the new one), so a child of a
    big parent would report the parent's size; /proc/self/status's VmHWM is the high-water mark
    of this process's own address space. getrusage is the fallback where /proc is missing."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def step_compile(model_path: str, config_name: str, out_path: str) -> dict:
    from compiler.codegen.driver import compile_graph
    from compiler.frontend import import_model
    from isa.config import load_config
    from isa.container import save_vitb

    config = load_config(config_name)
    start = time.perf_counter()
    binary = compile_graph(import_model(model_path), config)
    seconds = time.perf_counter() - start
    save_vitb(out_path, binary)
    return {"seconds": seconds, "code_bytes": len(binary.code), "constant_bytes": len(binary.constants)}


def step_emulate(vitb_path: str, config_name: str, model_name: str, seed: str, outputs_path: str) -> dict:
    from compiler.perf.roofline import roofline
    from isa.config import load_config
    from isa.container import read_vitb
    from models.zoo import sample_input
    from runtime_emulator import run_binary

    config = load_config(config_name)
    try:
        image = Path(vitb_path).read_bytes()
    except OSError as err:
        raise VitcError(f"{vitb_path}: cannot read: {err.strerror}") from None
    inputs = sample_input(model_name, int(seed))
    start = time.perf_counter()
    result = run_binary(image, inputs, config, timing=True)
    seconds = time.perf_counter() - start
    np.savez(outputs_path, **result.outputs)
    stats, roof = result.stats, roofline(read_vitb(image), config)
    return {"seconds": seconds, "cycles": stats.cycles, "roofline_cycles": roof.cycles, "roofline_bound": roof.bound,
            "matrix_utilisation": stats.matrix_utilisation, "busy_cycles": stats.busy,
            "dram_bytes": stats.dram_bytes_read + stats.dram_bytes_written,
            "compulsory_bytes": roof.compulsory_read + roof.compulsory_written,
            "instructions": sum(stats.instruction_counts.values()), "clock_ghz": config.clock_ghz}


def step_onnxruntime(model_path: str, model_name: str, seed: str, repeats: str, outputs_path: str) -> dict:
    import onnxruntime as ort

    from models.zoo import sample_input

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
    inputs = sample_input(model_name, int(seed))
    names = [o.name for o in session.get_outputs()]
    outputs = session.run(names, inputs)  # warm-up, and the outputs compared
    times = []
    for _ in range(int(repeats)):
        start = time.perf_counter()
        session.run(names, inputs)
        times.append(time.perf_counter() - start)
    np.savez(outputs_path, **dict(zip(names, outputs)))
    return {"seconds": statistics.median(times), "runs": len(times)}


STEPS = {"compile": step_compile, "emulate": step_emulate, "onnxruntime": step_onnxruntime}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in STEPS:
        print(json.dumps({"error": f"usage: steps.py {'|'.join(STEPS)} ARGS..."}))
        return 1
    try:
        figures = STEPS[argv[0]](*argv[1:])
    except VitcError as err:
        print(json.dumps({"error": str(err)}))
        return 1
    except Exception as err:  # the backend is in progress: report its failures as results, not tracebacks
        print(json.dumps({"error": f"internal error {type(err).__name__}: {err}"}))
        return 1
    print(json.dumps({**figures, "peak_rss_mb": _peak_rss_mb()}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
