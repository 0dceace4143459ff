"""ProgramBuilder's declared accesses against the memory layouts of docs/architecture.md,
enumerated element by element: a Region's rows (block layout) and a DramView's bytes."""

import itertools

import numpy as np
import pytest

from compiler.codegen.dram_view import DramView
from compiler.codegen.program import ProgramBuilder
from compiler.codegen.region import Region
from isa.encoding import Instruction


def _rows_of_block_layout(region: Region, dim: int) -> tuple[int, int]:
    """First and one past the last row of the elements (r, c): row addr + (c // dim) * bs + r."""
    rows = [region.addr + (c // dim) * region.bs + r for r in range(region.rows) for c in range(region.cols)]
    return min(rows), max(rows) + 1


@pytest.mark.parametrize("dim", [8, 16, 32])
def test_a_regions_access_spans_its_block_layout(dim):
    rng = np.random.default_rng(dim)
    b = ProgramBuilder(dim)
    for _ in range(200):
        rows = int(rng.integers(1, 40))
        region = Region(str(rng.choice(["spad", "acc"])), int(rng.integers(0, 500)), rows, int(rng.integers(1, 5 * dim)),
                        rows + int(rng.integers(0, 4)))
        b.emit("valu", {}, reads=[region])
        assert b.items[-1].reads == ((region.mem, *_rows_of_block_layout(region, dim)),), region


def test_a_views_access_spans_its_bytes():
    base = DramView.contiguous(4096, (3, 5, 8), 4)
    views = [base, base.as_matrix(), DramView(4096, 4, (((3, 40),), ((8, 1),))), DramView(100, 1, (((4, 0),), ((2, 7), (3, 1))))]
    b = ProgramBuilder(16)
    for view in views:
        b.emit("dma.load", {}, reads=[view])
        offsets = [sum(i * s for i, (_, s) in zip(index, subs)) for subs in [view.fine_axes()]
                   for index in itertools.product(*(range(e) for e, _ in view.fine_axes()))]
        first, last = view.addr + min(offsets) * view.esize, view.addr + (max(offsets) + 1) * view.esize
        assert b.items[-1].reads == (("dram", first, last),), view


def test_prepare_all_gives_every_instruction_the_envelope_without_token_fields():
    b = ProgramBuilder(16)
    region = Region("acc", 8, 4, 16, 4)
    prepared = b.prepare_all([Instruction("valu", {"op": 0, "wait": 1, "signal": 2, "layer": 9}), Instruction("valu", {"op": 1})],
                             reads=[region], writes=[("acc", 0, 4)])
    assert prepared == [("valu", {"op": 0}, (("acc", 8, 12),), (("acc", 0, 4),)),
                        ("valu", {"op": 1}, (("acc", 8, 12),), (("acc", 0, 4),))]


def test_replay_appends_prepared_instructions_to_the_current_layer_each_with_its_own_fields():
    b = ProgramBuilder(16)
    prepared = [b.prepare("valu", {"op": 0}, reads=[Region("acc", 8, 4, 16, 4)], writes=[("acc", 0, 4)])]
    b.begin_layer("x")
    b.replay(prepared)
    b.begin_layer("y")
    b.replay(prepared)
    assert [(i.mnemonic, i.fields, i.layer, i.reads, i.writes) for i in b.items] == [
        ("valu", {"op": 0}, 0, (("acc", 8, 12),), (("acc", 0, 4),)), ("valu", {"op": 0}, 1, (("acc", 8, 12),), (("acc", 0, 4),))]
    assert b.items[0].fields is not b.items[1].fields and b.items[0].fields is not prepared[0].fields
