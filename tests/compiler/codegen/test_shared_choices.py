"""What chains of the same stage shapes share in a process (`vector_ops`: a stage's vector
cycles per tile size, memoised by `VectorChain._shape_of_stage`; a chain's row tile on its
own) equals what each chain computes for itself, for every chain two models of different sizes
build in one process, in both configurations (vit-micro and deit-tiny: their LayerNorms,
softmaxes, residual and bias adds differ in shape, and from layer to layer in scales, zero
points, gamma and beta)."""

import collections

from compiler.codegen.driver import compile_graph
from compiler.codegen.vector_ops import VectorChain
from compiler.frontend import import_model
from isa.config import load_config
from models import zoo


def test_every_shared_choice_equals_the_chains_own(monkeypatch):
    checked = collections.Counter()
    shared_cycles, shared_tile = VectorChain._vector_cycles, VectorChain.best_tile

    def vector_cycles(self, rows):
        shared = shared_cycles(self, rows)
        own = sum(self._stage_cycles(index, rows) for index in range(len(self.stages)))
        assert shared == own, f"{[s.op.describe() for s in self.stages]}, {rows} rows: shared {shared}, own {own} cycles"
        checked["cycles"] += 1
        return shared

    def best_tile(self, spad_free, acc_free):
        shared = shared_tile(self, spad_free, acc_free)
        own = self._choose_tile(spad_free, acc_free)
        assert shared == own, f"{[s.op.describe() for s in self.stages]}: shared tile {shared}, own {own}"
        checked["tiles"] += 1
        return shared

    monkeypatch.setattr(VectorChain, "_vector_cycles", vector_cycles)
    monkeypatch.setattr(VectorChain, "best_tile", best_tile)
    for config_name in ("default", "large"):
        for model in ("vit-micro", "deit-tiny"):
            compile_graph(import_model(zoo.quantized_model_path(model, zoo.VARIANTS[4])), load_config(config_name))
    assert checked["cycles"] > 100 and checked["tiles"] > 20, checked
