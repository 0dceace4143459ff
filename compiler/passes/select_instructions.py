"""`select-instructions`: lowers the annotated graph to the machine-level program (`graph.machine`).

It reads what the passes before it recorded: the layout decisions (`layout`, `fold-layout`;
`compiler.codegen.layout_plan.plan_layout` follows them), the on-chip chains (`chain`,
`fuse-elementwise`), each qmatmul's tiling (`tile_m/n/k`, `resident`, `tile-matmul`) and the
DRAM offsets (`dram_offset`, `plan-memory`), then, op by op in graph order, selects and emits
instructions with `compiler.codegen.lowering.lower_op` (each op or chain one layer, its on-chip
arenas after the previous op's around a ring, `onchip.py`), ends the program with `halt`, and
builds the constant section and the I/O table. The result is a `compiler.codegen.machine.
MachineProgram` in program order, layer after layer (`interleave` re-orders it), without tokens
(`schedule` adds them). Progress (ops done) goes to the callback set with `reporting_progress`.

Invariants: the graph's ops are left as they are (the IR stays readable and executable by the
reference interpreter); the program depends only on the graph and the configuration.
"""

from __future__ import annotations

import contextlib
import logging
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Callable, Iterator

from compiler.codegen.fusion import recorded_chains
from compiler.codegen.layout_plan import IO_DTYPES, LAYOUT_OPS, LayoutPlan, plan_layout
from compiler.codegen.lowering import lower_op
from compiler.codegen.machine import MachineProgram
from compiler.codegen.memory_plan import ConstantPool, recorded_addresses
from compiler.codegen.onchip import OnChipPlan
from compiler.codegen.program import ProgramBuilder
from compiler.codegen.target import resolve_target
from compiler.ir.graph import Graph
from compiler.ir.passes import Pass
from isa.container import IOEntry

Progress = Callable[[int, int, str], None]  # (ops done, ops in all, the op's result name)
_progress: ContextVar[Progress | None] = ContextVar("select_instructions_progress", default=None)


@contextlib.contextmanager
def reporting_progress(progress: Progress | None) -> Iterator[None]:
    """Within the block, `select-instructions` calls `progress` after each op."""
    token = _progress.set(progress)
    try:
        yield
    finally:
        _progress.reset(token)


@dataclass(frozen=True)
class SelectInstructions(Pass):
    """Lower each op (or chain) to instructions, one layer each: the machine program (graph.machine)."""

    name = "select-instructions"
    level = "lowering"
    hw: str = "default"

    def apply(self, graph: Graph) -> None:
        graph.machine = select_instructions(graph, resolve_target(self.hw), _progress.get(), self.log)


def select_instructions(graph: Graph, config, progress: Progress | None = None,
                        log: logging.Logger | None = None) -> MachineProgram:
    """The machine program of `graph` (annotated by the passes before) for `config`."""
    plan = plan_layout(graph)
    chains = recorded_chains(graph, plan)
    arena = recorded_addresses(graph, plan)
    pool = ConstantPool(arena)
    builder = ProgramBuilder(config.dim)
    onchip = OnChipPlan(config)
    # Ops that emit nothing (layout views, concats whose operands were written in place) take
    # no number: each emitting op's on-chip arenas follow the previous emitting op's.
    ops = emitting_ops(graph, plan, chains)
    producers = graph.producers()
    for number, op in enumerate(ops):
        before = len(builder.items)
        lower_op(op, chains.get(op, []), number, plan, pool, builder, onchip, config, producers)
        if log is not None:
            log.debug("%s: %d instructions", op.describe(), len(builder.items) - before)
        if progress is not None:
            progress(number + 1, len(ops), op.result.name)
    builder.emit("halt", {})
    return MachineProgram(config, builder.items, builder.layers, bytes(pool.data), arena, pool.end,
                          _io_table(graph, plan), plan)


def emitting_ops(graph: Graph, plan: LayoutPlan, chains: dict) -> list:
    """The ops that each emit one layer, in program order: not constants, not the ops fused
    after a chain's head (`chains`: `fusion.recorded_chains`), not layout ops that need no copy."""
    fused = {op for chain in chains.values() for op in chain}
    return [op for op in graph.ops if op.kind != "const" and op not in fused
            and not (op.kind in LAYOUT_OPS and not plan.copies.get(op))]


def _io_table(graph: Graph, plan: LayoutPlan) -> list[IOEntry]:
    entries = []
    for kind, values in (("input", graph.inputs), ("output", graph.outputs)):
        for value in values:
            t = value.type
            scale, zero_point = (t.quant.scale[0], t.quant.zero_point[0]) if t.quant is not None and t.quant.per_tensor else (1.0, 0)
            entries.append(IOEntry(value.name, kind, IO_DTYPES[t.dtype], tuple(t.shape), plan[value].buffer.addr, scale, zero_point))
    return entries
