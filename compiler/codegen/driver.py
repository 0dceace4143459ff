"""The compiler driver: IR graph -> `.vitb` binary, as one pass pipeline.

The whole compile is the pipeline `backend_pipeline(config)` (or the caller's pass manager, e.g.
from `vitc compile -p`), run by the pass manager over the graph:
1. IR passes: `fuse-requant` and `tabulate` turn the frontend's unfused steps into `qmatmul`
   and `table`; `dce`, `cse` (ops computing the same value merge: the pre-processed models'
   repeated quantizes of Q, K and V's input) and `canonicalize` simplify (layout chains collapse
   into fewer views, which emit nothing and take no place among the on-chip arenas; in the
   pre-processed models a reshape pair around an elementwise op vanishes, so the op chains with
   its matmul as in the other models); then the passes that
   record their decisions as op attributes (the reference interpreter ignores them, so every
   level still runs): `fold-layout` (`layout`: which values are views, copies, or stored in a
   later layout), `fuse-elementwise` (`chain`), `tile-matmul` (`tile_m/n/k`, `resident`),
   `plan-memory` (`dram_offset`);
2. `select-instructions`: instruction selection and emission per op (`lowering.lower_op`) into
   the machine-level program, `graph.machine` (`machine.MachineProgram`);
3. machine passes: `interleave` (the whole program re-ordered so the units overlap across
   layers, `interleave.py`), `schedule` (dependency tokens, `tokens.py`), `emit` (the `.vitb`
   container).
A pipeline that stops before the end of code generation is completed with the code generation
passes after the last one it has (`select-instructions`, `interleave`, `schedule`, `emit`), so
`-p ...,plan-memory` still compiles and `-p ...,select-instructions,schedule` (no interleaving)
gets only `emit`.
A debug build (`debug_build=True`, its own default pipeline) fuses nothing, gives every buffer
its own DRAM bytes and keeps every IR value, so every IR tensor is in DRAM after a run.

The cyclic garbage collector is paused while the pipeline runs: the compile allocates millions
of small objects and no cycles worth collecting, and each full collection walks all of them
(about a fifth of vit-base's compile time).

Invariant: the result depends only on the graph and the configuration (no dict-order or
address-of-object effects), so compiling twice gives byte-identical binaries.
"""

from __future__ import annotations

import contextlib
import gc
from dataclasses import dataclass
from typing import Iterator

from compiler.codegen.layout_plan import LayoutPlan
from compiler.codegen.machine import MachineProgram
from compiler.codegen.target import target_option
from compiler.frontend import import_model
from compiler.ir.graph import Graph
from compiler.ir.pass_manager import PassManager
from compiler.ir.pipeline import parse_pipeline
from compiler.passes.select_instructions import reporting_progress
from isa.container import Binary
from isa.encoding import Instruction
from isa.errors import VitcError

CODEGEN_PASSES = ("select-instructions", "interleave", "schedule", "emit")


@dataclass
class Compiled:
    """A compilation's binary and the machine program that produced it (for `vitc compile
    --emit asm`, verification and tests)."""

    binary: Binary
    machine: MachineProgram

    @property
    def instructions(self) -> list[Instruction]:
        """The scheduled instructions."""
        return self.machine.instructions()

    @property
    def plan(self) -> LayoutPlan:
        return self.machine.plan

    @property
    def activation_bytes(self) -> int:
        return self.machine.arena


def compile_graph(graph: Graph, config, progress=None) -> Binary:
    """Compile a frontend IR graph for `config` (a HardwareConfig)."""
    return compile_graph_full(graph, config, progress).binary


def backend_pipeline(config, debug_build: bool = False) -> str:
    """The whole compile for `config` as a pipeline; a debug build fuses nothing, gives every
    buffer its own DRAM bytes and keeps every IR value (no cse, no canonicalize), so the values can be
    read back from DRAM one by one.
    Both start with `fuse-requant,tabulate`, which turn the frontend's unfused matmul steps and
    elementwise chains into the `qmatmul` and `table` ops codegen lowers."""
    hw = target_option(config)
    codegen = f"select-instructions{{hw={hw}}},interleave,schedule,emit"
    if debug_build:
        return f"fuse-requant,tabulate,dce,fold-layout,tile-matmul{{hw={hw}}},plan-memory{{reuse=false}},{codegen}"
    return f"fuse-requant,tabulate,dce,cse,canonicalize,fold-layout,fuse-elementwise{{hw={hw}}},tile-matmul{{hw={hw}}},plan-memory,{codegen}"


def compile_graph_full(graph: Graph, config, progress=None, debug_build: bool = False,
                       passes: PassManager | None = None) -> Compiled:
    """`compile_graph` keeping the machine program (for `--emit asm` and tests). `passes`
    (default: `backend_pipeline(config, debug_build)`, completed with the code generation
    passes it lacks) rewrites `graph` in place and attaches `graph.machine`.
    `progress(done, total, what)` is called after each op's instruction selection."""
    manager = _with_codegen(passes or PassManager(parse_pipeline(backend_pipeline(config, debug_build))), config)
    graph.machine = None  # a program selected by an earlier compile of this graph is replaced
    if debug_build:  # fuses nothing, whatever chains an earlier compile of this graph recorded
        for op in graph.ops:
            op.attrs.pop("chain", None)
    with reporting_progress(progress), _gc_paused():
        manager.run(graph)
    machine = graph.machine
    if machine.config.hash != config.hash:
        raise VitcError(f"the pipeline selected instructions for hw '{machine.config.name}', but the compile "
                        f"is for '{config.name}': give select-instructions hw={target_option(config)}")
    return Compiled(machine.binary, machine)


def compile_model(path, config, progress=None) -> Binary:
    """Import an ONNX model with the frontend and compile it."""
    return compile_graph(import_model(path), config, progress)


def _with_codegen(manager: PassManager, config) -> PassManager:
    """`manager` with the code generation passes after the last one it has appended (same
    instrumentation)."""
    present = {p.name for p in manager.passes}
    reached = max((CODEGEN_PASSES.index(name) for name in present if name in CODEGEN_PASSES), default=-1)
    missing = CODEGEN_PASSES[reached + 1:]
    if not missing:
        return manager
    hw = target_option(config)
    tail = parse_pipeline(",".join(f"{name}{{hw={hw}}}" if name == "select-instructions" else name for name in missing))
    return PassManager(manager.passes + tail, manager.instrumentation)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
