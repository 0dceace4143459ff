"""The instruction-level emulator of the vitc accelerator: decodes a `.vitb` binary and runs it,
functionally (bit-exact) and with a timing model (cycles, utilisation, trace).

Public API: `run_binary(binary_bytes, inputs, config, *, timing=True, check_hazards=False)`
returning a `RunResult` (`.outputs`, `.stats`, `.trace_events()`, `.write_trace(path)`).
"""

from runtime_emulator.runner import RunResult, run_binary

__all__ = ["RunResult", "run_binary"]
