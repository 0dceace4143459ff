"""Instruction selection for one IR op (or a fused chain): which lowering emits it, on which
on-chip halves, as one layer of the program.

`lower_op` dispatches: layout ops that need a copy -> `copies.emit_copy`; float `matmul` ->
`float_matmul`; `qmatmul` (with or without a fused epilogue chain) -> `matmul.lower_qmatmul`;
everything else -> a `vector_ops.VectorChain`. Errors are re-raised naming the op. The layers
are interleaved afterwards, over the whole program, by the `interleave` pass.
"""

from __future__ import annotations

from compiler.codegen.copies import emit_copy
from compiler.codegen.dram_view import DramView
from compiler.codegen.float_matmul import lower_float_matmul
from compiler.codegen.layout_plan import LAYOUT_OPS, LayoutPlan, Placement
from compiler.codegen.matmul import MatmulOperands, lower_qmatmul, per_channel_multipliers
from compiler.codegen.memory_plan import ConstantPool
from compiler.codegen.onchip import OnChipPlan
from compiler.codegen.program import ProgramBuilder
from compiler.codegen.vector_ops import StageInput, VectorChain, column_tileable
from compiler.ir.graph import Op
from isa.errors import VitcError


def lower_op(op: Op, chain: list[Op], number: int, plan: LayoutPlan, pool: ConstantPool, builder: ProgramBuilder,
             onchip: OnChipPlan, config, producers: dict) -> None:
    """Emit op (with the ops fused after it in `chain`) as one layer."""
    copies = plan.copies.get(op, [])
    if op.kind in LAYOUT_OPS and not copies:
        return
    builder.begin_layer(" + ".join(_layer_name(o) for o in [op, *chain]))
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

        def stage(o: Op, chained: Op | None) -> StageInput:
            constants = {i: producers[v].attrs["value"] for i, v in enumerate(o.operands)
                         if v in producers and producers[v].kind == "const"}
            index = o.operands.index(chained.result) if chained is not None else None
            return StageInput(o, [view(plan[v]) for v in o.operands], index, constants)

        last = chain[-1] if chain else op

        def stored(ops: list[Op]) -> dict:
            """Stage index -> DRAM view of the chain members stored for other readers too."""
            return {i: view(plan[o.result]) for i, o in enumerate(ops) if o in getattr(chain, "stored", ())}
        if op.kind == "matmul":
            a, b = (view(plan[v]) for v in op.operands)
            lower_float_matmul(op, a, b, view(plan[op.result]), builder, acc, config)
            return
        if op.kind != "qmatmul":
            stages = [stage(o, previous) for previous, o in zip([None, op, *chain], [op, *chain])]
            VectorChain(stages, view(plan[last.result]), config, stored=stored([op, *chain])).emit(builder, spad, acc, pool)
            return
        operands = [view(plan[v]) for v in op.operands]
        multipliers = per_channel_multipliers(op)
        mult_view = None
        if multipliers is not None:
            mult_view = DramView.contiguous(pool.add(multipliers.astype("<f4").tobytes()), multipliers.shape, 4)
        bias = operands[2] if len(operands) > 2 else None
        matmul = MatmulOperands(operands[0], operands[1], bias, view(plan[op.result]), mult_view)
        if not chain:
            lower_qmatmul(op, matmul, builder, spad, acc, config, pool)
            return
        stages = [stage(o, previous) for previous, o in zip([op, *chain], chain)]
        cols = op.result.type.shape[-1]
        tile_cols = min(op.attrs.get("tile_n", cols), cols)
        if tile_cols == cols or (column_tileable(chain) and cols % tile_cols == 0):
            epilogue = VectorChain(stages, view(plan[last.result]), config, tile_cols, stored(chain))
            lower_qmatmul(op, matmul, builder, spad, acc, config, pool, epilogue)
            return
        # The recorded tiles do not suit the chain (tile-matmul ran before fuse-elementwise): store
        # the matmul's result and run the chain on its own (its first op then reads that result
        # from DRAM).
        lower_qmatmul(op, matmul, builder, spad, acc, config, pool)
        stages = [stage(o, previous) for previous, o in zip([None, *chain], chain)]
        VectorChain(stages, view(plan[last.result]), config, stored=stored(chain)).emit(
            builder, *onchip.for_op(number + 1, op.describe()), pool)
    except VitcError as err:
        message = str(err)
        if op.describe() in message:
            raise
        raise VitcError(f"{op.describe()}: {message}") from None


def _layer_name(op: Op) -> str:
    return op.loc[0] if op.loc else op.result.name
