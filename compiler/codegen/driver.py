"""The compiler driver: IR graph -> `.vitb` binary.

First the backend pipeline (`backend_pipeline(config)`, or the caller's pass manager, e.g.
from `vitc compile -p`) runs over the graph through the pass manager; its passes record their
decisions as op attributes (`fuse-elementwise`: `chain`; `tile-matmul`: `tile_m`, `tile_n`,
`tile_k`, `resident`; `plan-memory`: `dram_offset`), which the stages below read.
Then the stages, each in its own file:
1. layout folding (`layout_plan.py`): every value becomes a DRAM view; layout ops vanish;
2. DRAM memory plan: the `dram_offset` attributes (`memory_plan.recorded_addresses`, decided
   by `memory_plan.plan_activations` in the `plan-memory` pass); the constant section follows;
3. fusion: the chains the `chain` attributes name (`fusion.recorded_chains`, decided by
   `fusion.plan_chains` in the `fuse-elementwise` pass);
4. per op (or chain), in graph order, instruction selection (`lowering.lower_op`) and emission with tiling
   (`matmul.py` for qmatmul, `vector_ops.py` for the vector unit, `copies.py` for copies), on
   alternating halves of the on-chip memories (`onchip.py`); each op or chain is one layer;
5. scheduling (`tokens.py`): dependency tokens from the declared accesses; then `halt`;
6. the container: code, constants, I/O table (dtype, shape, scale, zero point), layer names.

Invariant: the result depends only on the graph and the configuration (no dict-order or
address-of-object effects), so compiling twice gives byte-identical binaries.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from compiler.codegen.fusion import recorded_chains
from compiler.codegen.layout_plan import IO_DTYPES, LayoutPlan, plan_layout
from compiler.codegen.lowering import lower_op
from compiler.codegen.memory_plan import ConstantPool, recorded_addresses
from compiler.codegen.onchip import OnChipPlan
from compiler.codegen.program import ProgramBuilder
from compiler.codegen.target import target_option
from compiler.codegen.tokens import schedule_tokens
from compiler.frontend import import_model
from compiler.ir.graph import Graph
from compiler.ir.pass_manager import PassManager
from compiler.ir.pipeline import parse_pipeline
from isa.container import Binary, IOEntry
from isa.encoding import Instruction, encode_program

log = logging.getLogger("vitc.codegen")


@dataclass
class Compiled:
    """A compilation's binary and what produced it (for `vitc compile --emit asm`, verification
    and tests): the scheduled instructions, the layout plan, the activation arena's size."""

    binary: Binary
    instructions: list[Instruction]
    plan: LayoutPlan
    activation_bytes: int


def compile_graph(graph: Graph, config, progress=None) -> Binary:
    """Compile a frontend IR graph for `config` (a HardwareConfig)."""
    return compile_graph_full(graph, config, progress).binary


def backend_pipeline(config, debug_build: bool = False) -> str:
    """The passes run before code generation for `config`; a debug build fuses nothing and
    gives every buffer its own DRAM bytes. `canonicalize` is left out: the binaries it leads to
    differ from the ones verified against onnxruntime (why was not investigated).
    Both start with `fuse-requant,tabulate`, which turn the frontend's unfused matmul steps and
    elementwise chains into the `qmatmul` and `table` ops codegen lowers."""
    hw = target_option(config)
    if debug_build:
        return f"fuse-requant,tabulate,dce,tile-matmul{{hw={hw}}},plan-memory{{reuse=false}}"
    return f"fuse-requant,tabulate,dce,fuse-elementwise{{hw={hw}}},tile-matmul{{hw={hw}}},plan-memory"


def compile_graph_full(graph: Graph, config, progress=None, debug_build: bool = False,
                       passes: PassManager | None = None) -> Compiled:
    """`compile_graph` keeping the instruction list and plans (for `--emit asm` and tests).
    `passes` (default: `backend_pipeline(config)`) rewrites `graph` in place first.
    `progress(done, total, what)` is called after each op. A `debug_build` (its own default
    pipeline; `chain` attributes ignored) fuses nothing and gives every buffer its own DRAM
    bytes, so every IR tensor is in DRAM after a run."""
    (passes or PassManager(parse_pipeline(backend_pipeline(config, debug_build)))).run(graph)
    plan = plan_layout(graph)
    chains = {} if debug_build else recorded_chains(graph, plan)
    arena = recorded_addresses(graph, plan)
    pool = ConstantPool(arena)
    builder = ProgramBuilder(config.dim)
    onchip = OnChipPlan(config)
    fused = {op for chain in chains.values() for op in chain}
    ops = [op for op in graph.ops if op.kind != "const" and op not in fused]
    producers = graph.producers()
    for number, op in enumerate(ops):
        before = len(builder.items)
        lower_op(op, chains.get(op, []), number, plan, pool, builder, onchip, config, producers)
        log.debug("%s: %d instructions", op.describe(), len(builder.items) - before)
        if progress is not None:
            progress(number + 1, len(ops), op.result.name)
    builder.emit("halt", {})
    dram_size = pool.end
    sizes = {"spad": config.spad_rows, "acc": config.acc_rows, "dram": arena}
    instructions = schedule_tokens(builder.items, sizes, config.token_queue_depth)
    binary = Binary(
        config_hash=config.hash,
        code=encode_program(instructions),
        constants=bytes(pool.data),
        constants_addr=arena,
        dram_size=dram_size,
        io=_io_table(graph, plan),
        layers=builder.layers,
    )
    return Compiled(binary, instructions, plan, arena)


def compile_model(path, config, progress=None) -> Binary:
    """Import an ONNX model with the frontend and compile it."""
    return compile_graph(import_model(path), config, progress)


def _io_table(graph: Graph, plan: LayoutPlan) -> list[IOEntry]:
    entries = []
    for kind, values in (("input", graph.inputs), ("output", graph.outputs)):
        for value in values:
            t = value.type
            scale, zero_point = (t.quant.scale[0], t.quant.zero_point[0]) if t.quant is not None and t.quant.per_tensor else (1.0, 0)
            entries.append(IOEntry(value.name, kind, IO_DTYPES[t.dtype], tuple(t.shape), plan[value].buffer.addr, scale, zero_point))
    return entries
