"""The instruction-level emulator of the vitc accelerator: decodes a `.vitb` binary and runs it,
functionally (bit-exact) and with a timing model (cycles, utilisation, trace).

Public API: `run_binary(binary_bytes, inputs, config, *, timing=True, check_hazards=False)`
returning a `RunResult` (`.outputs`, `.stats`, `.dram`, `.trace_events()`, `.write_trace(path)`).

Modules, in the order a run uses them:
- `runner`: `run_binary`: container, configuration check, inputs and outputs in DRAM;
- `program`: decoded instructions prepared once (`Op`: tokens, layer and a `Body` shared by
  instructions with the same operands: unit, costs, checked accesses, bound semantics);
- `footprint`: what an instruction touches, bounds checks; `timing`: the work it does (its
  cycle cost is the ISA's, `isa.costs`);
- `machine`, `regions`: the memories and the on-chip block layout;
- `semantics/`: what each instruction does, one module per family; `numerics`: float32 rules;
- `scheduler`, `units`: when each instruction runs on the four in-order units, given their
  dependency tokens (pure integer timing), and the issue order;
- `executor`: the semantics run in that issue order (with hazard checks when asked);
- `hazards`: vector-clock race detection on SPAD, ACC and stored-to DRAM;
- `stats`, `trace`: the reports.
"""

from runtime_emulator.runner import RunResult, run_binary

__all__ = ["RunResult", "run_binary"]
