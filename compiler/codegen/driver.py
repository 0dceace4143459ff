"""The compiler driver: IR graph -> `.vitb` binary.

Stages, each in its own file:
1. layout folding (`layout_plan.py`): every value becomes a DRAM view; layout ops vanish;
2. DRAM memory plan (`memory_plan.py`): activation buffers reuse space by liveness; the
   constant section follows them;
3. per IR op, in graph order, instruction selection and emission with tiling
   (`matmul.py` for qmatmul, `vector_ops.py` for the vector unit, `copies.py` for copies), on
   alternating halves of the on-chip memories (`onchip.py`); each op is one layer;
4. scheduling (`tokens.py`): dependency tokens from the declared accesses; then `halt`;
5. the container: code, constants, I/O table (dtype, shape, scale, zero point), layer names.

Invariant: the result depends only on the graph and the configuration (no dict-order or
address-of-object effects), so compiling twice gives byte-identical binaries.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from compiler.codegen.copies import emit_copy
from compiler.codegen.dram_view import DramView
from compiler.codegen.layout_plan import IO_DTYPES, LAYOUT_OPS, LayoutPlan, Placement, plan_layout
from compiler.codegen.matmul import MatmulOperands, lower_qmatmul, per_channel_multipliers
from compiler.codegen.memory_plan import ConstantPool, plan_activations
from compiler.codegen.onchip import OnChipPlan
from compiler.codegen.program import ProgramBuilder
from compiler.codegen.tokens import schedule_tokens
from compiler.codegen.vector_ops import lower_vector_op
from compiler.ir.graph import Graph, Op
from isa.container import Binary, IOEntry
from isa.encoding import Instruction, encode_program
from isa.errors import VitcError

log = logging.getLogger("vitc.codegen")


@dataclass
class Compiled:
    binary: Binary
    instructions: list[Instruction]
    plan: LayoutPlan
    activation_bytes: int


def compile_graph(graph: Graph, config, progress=None) -> Binary:
    """Compile a frontend IR graph for `config` (a HardwareConfig)."""
    return compile_graph_full(graph, config, progress).binary


def compile_graph_full(graph: Graph, config, progress=None, reuse_dram: bool = True) -> Compiled:
    """`compile_graph` keeping the instruction list and plans (for `--emit asm` and tests).
    `progress(done, total, what)` is called after each op; `reuse_dram=False` gives every
    buffer its own DRAM bytes (to inspect intermediate tensors after a run)."""
    plan = plan_layout(graph)
    arena = plan_activations(plan, reuse_dram)
    pool = ConstantPool(arena)
    builder = ProgramBuilder(config.dim)
    onchip = OnChipPlan(config)
    ops = [op for op in graph.ops if op.kind != "const"]
    producers = graph.producers()
    for number, op in enumerate(ops):
        _lower_op(op, number, plan, pool, builder, onchip, config, producers)
        if progress is not None:
            progress(number + 1, len(ops), op.result.name)
    builder.emit("halt", {})
    dram_size = pool.end
    sizes = {"spad": config.spad_rows, "acc": config.acc_rows, "dram": dram_size}
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
    from compiler.frontend import import_model

    return compile_graph(import_model(path), config, progress)


def _lower_op(op: Op, number: int, plan: LayoutPlan, pool: ConstantPool, builder: ProgramBuilder,
              onchip: OnChipPlan, config, producers: dict) -> None:
    copies = plan.copies.get(op, [])
    if op.kind in LAYOUT_OPS and not copies:
        return
    builder.begin_layer(op.loc[0] if op.loc else op.result.name)
    spad, acc = onchip.for_op(number, op.describe())

    def view(placement: Placement) -> DramView:
        if placement.buffer.kind == "const":
            pool.place(placement.buffer)
        return placement.absolute()

    try:
        for copy in copies:
            emit_copy(builder, view(copy.src), view(copy.dst), spad, acc)
        if op.kind in LAYOUT_OPS:
            return
        operands = [view(plan[v]) for v in op.operands]
        out = view(plan[op.result])
        if op.kind == "qmatmul":
            multipliers = per_channel_multipliers(op)
            mult_view = None
            if multipliers is not None:
                mult_view = DramView.contiguous(pool.add(multipliers.astype("<f4").tobytes()), multipliers.shape, 4)
            bias = operands[2] if len(operands) > 2 else None
            lower_qmatmul(op, MatmulOperands(operands[0], operands[1], bias, out, mult_view), builder, spad, acc, config)
        else:
            constant_operands = {i: producers[v].attrs["value"] for i, v in enumerate(op.operands)
                                 if v in producers and producers[v].kind == "const"}
            lower_vector_op(op, operands, out, builder, spad, acc, pool, config, constant_operands)
    except VitcError as err:
        message = str(err)
        if op.describe() in message:
            raise
        raise VitcError(f"{op.describe()}: {message}") from None


def _io_table(graph: Graph, plan: LayoutPlan) -> list[IOEntry]:
    entries = []
    for kind, values in (("input", graph.inputs), ("output", graph.outputs)):
        for value in values:
            t = value.type
            scale, zero_point = (t.quant.scale[0], t.quant.zero_point[0]) if t.quant is not None and t.quant.per_tensor else (1.0, 0)
            entries.append(IOEntry(value.name, kind, IO_DTYPES[t.dtype], tuple(t.shape), plan[value].buffer.addr, scale, zero_point))
    return entries
