"""`run_binary`: run a `.vitb` file's bytes on the emulator and collect outputs and statistics.

Steps: parse the container, refuse a binary built for another configuration, decode the code
section, prepare and bounds-check every instruction (`program.py`), load the constants and the
inputs into DRAM per the I/O table, schedule the units (`scheduler.py`), run the semantics in
the issue order (`executor.py`), read the outputs back from DRAM. Nothing from the compiler is
used but the bytes.

Inputs must match their I/O entry exactly (name, dtype, shape); an error names the tensor.
"""

import contextlib
import gc
import json
from dataclasses import dataclass

import numpy as np

from isa.config import HardwareConfig, load_config
from isa.container import Binary, IOEntry, read_vitb
from isa.errors import VitcError
from isa.files import write_file_atomically
from runtime_emulator import footprint, program, stats, trace
from runtime_emulator.executor import execute
from runtime_emulator.hazards import HazardChecker, dram_hull
from runtime_emulator.machine import Machine
from runtime_emulator.scheduler import Timeline, schedule
from runtime_emulator.units import UNITS


@dataclass
class RunResult:
    outputs: dict[str, np.ndarray]
    stats: stats.RunStats | None  # None in functional-only mode
    dram: np.ndarray  # the final DRAM bytes, to inspect intermediate tensors a program stored
    program: program.Program
    timeline: Timeline
    layer_names: list[str]
    clock_ghz: float

    @property
    def ops(self) -> list[program.Op]:
        """The run's instructions, one `program.Op` per pc."""
        return self.program.ops

    def trace_events(self) -> dict:
        """Chrome trace-event JSON object (see `trace.py`)."""
        if self.stats is None:
            raise VitcError("no trace: the run was functional-only (no timing)")
        return trace.trace_events(self.ops, self.timeline, self.layer_names, self.clock_ghz)

    def write_trace(self, path) -> None:
        data = json.dumps(self.trace_events()).encode()
        write_file_atomically(path, data)


def run_binary(binary_bytes: bytes, inputs: dict, config, *, timing: bool = True, check_hazards: bool = False) -> RunResult:
    """Run a `.vitb` image. `config` is a `HardwareConfig` or a name/path for `load_config`."""
    with _collector_paused():
        return _run(binary_bytes, inputs, config, timing, check_hazards)


@contextlib.contextmanager
def _collector_paused():
    """CPython's cycle collector off for the run, as it was before afterwards. A run allocates
    a few objects per instruction that live until it ends (decoded instructions, ops, bound
    semantics), and every full collection walks all of them again: on deit-tiny (26k
    instructions) that was about an eighth of the run. Nothing the run creates needs the cycle
    collector to be freed in time: numpy temporaries go when their last reference does, and
    whatever cycles remain are collected after the run.

    Those objects (~120k on deit-tiny) are all still in the youngest generation when the run
    ends, and the first allocation after re-enabling would make the collector walk every one of
    them at once (~30 ms on deit-tiny), only to promote them. They are long-lived (the result
    holds them), so they are promoted to the oldest generation directly instead, as the
    collector would after two passes: `gc.freeze()` moves every tracked object to the permanent
    generation without looking at it and `gc.unfreeze()` moves them all to the oldest one. Done
    only when nothing else is frozen, so a caller's own frozen objects stay frozen."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def _run(binary_bytes: bytes, inputs: dict, config, timing: bool, check_hazards: bool) -> RunResult:
    if not isinstance(config, HardwareConfig):
        config = load_config(config)
    binary = read_vitb(binary_bytes)
    if binary.config_hash != config.hash:
        raise VitcError(
            f"binary was built for hardware configuration {binary.config_hash[:12]}..., "
            f"not {config.name!r} ({config.hash[:12]}...): pass the matching --hw"
        )
    if binary.dram_size > footprint.DRAM_ADDRESS_LIMIT:
        raise VitcError(f"binary asks for {binary.dram_size:#x} bytes of DRAM; 32-bit addresses reach {footprint.DRAM_ADDRESS_LIMIT:#x}")
    machine = Machine(binary.dram_size, config.spad_rows, config.acc_rows, config.dim)
    prepared = program.prepare(binary.code, config, machine, len(binary.layers))
    machine.dram[binary.constants_addr:binary.constants_addr + len(binary.constants)] = np.frombuffer(binary.constants, np.uint8)
    _write_inputs(machine, binary, inputs)
    hazards = None
    if check_hazards:
        ops = prepared.ops
        unit_ops = [[op for op in ops if op.unit == u] for u in range(len(UNITS))]
        hazards = HazardChecker(footprint.memory_rows(config), lambda unit, seq: _describe_nth(unit_ops, unit, seq), dram_hull(ops))
    timeline = schedule(prepared, config.token_queue_depth, timing=timing)
    execute(prepared, timeline, hazards)
    if timeline.blocked is not None:
        raise VitcError(timeline.blocked)
    outputs = {entry.name: _read_tensor(machine, entry) for entry in binary.io if entry.kind == "output"}
    run_stats = stats.collect(prepared, timeline, binary, config) if timing else None
    return RunResult(outputs, run_stats, machine.dram, prepared, timeline, binary.layers, config.clock_ghz)


def _describe_nth(unit_ops, unit: int, seq: int) -> str:
    op = unit_ops[unit][seq - 1]
    return program.describe(op.pc, op.instruction)


def _write_inputs(machine: Machine, binary: Binary, inputs: dict) -> None:
    expected = {entry.name: entry for entry in binary.io if entry.kind == "input"}
    unknown = sorted(set(inputs) - set(expected))
    if unknown:
        raise VitcError(f"input {unknown[0]!r} is not an input of the binary (inputs: {', '.join(sorted(expected)) or 'none'})")
    for name, entry in expected.items():
        if name not in inputs:
            raise VitcError(f"input {name!r} ({entry.dtype} {list(entry.shape)}) was not given")
        array = np.asarray(inputs[name])
        if array.dtype != np.dtype(entry.dtype) or tuple(array.shape) != tuple(entry.shape):
            raise VitcError(
                f"input {name!r}: got {array.dtype} {list(array.shape)}, the binary expects {entry.dtype} {list(entry.shape)}"
            )
        data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).view(np.uint8).ravel()
        machine.dram[entry.addr:entry.addr + entry.nbytes] = data


def _read_tensor(machine: Machine, entry: IOEntry) -> np.ndarray:
    data = machine.dram[entry.addr:entry.addr + entry.nbytes]
    return data.view(np.dtype(entry.dtype).newbyteorder("<")).astype(entry.dtype).reshape(entry.shape)
