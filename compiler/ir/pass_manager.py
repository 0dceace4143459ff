"""The pass manager: runs a pipeline of passes over a graph, with LLVM/MLIR-style instrumentation.

Instrumentation (all off by default, see `Instrumentation`):
- print the IR before / after named passes or after every pass (to `stream`, stderr by default),
  each dump headed by a `// ----- IR dump after <pass> ----- //` comment line (valid .vir);
  once `select-instructions` lowered the graph, the machine code instead (`graph.machine`,
  headed `// ----- machine code dump after <pass> ----- //`);
- dump the IR into a directory as numbered files: `00-input.vir`, `01-dce.vir`, ...
  (always with constants, so every file can be fed back to `vitc opt`), machine code as `.s`;
- verify after every pass: the verifier, then the text round trip (`assert_roundtrip`); on
  machine code, its own checks (`MachineProgram.verify`);
- time every pass and print a report after the pipeline.
Whatever the flags, the graph is verified once after the last pass (as `mlir-opt` does), so a
pipeline never hands on IR that breaks the op table. Before any pass runs, the order of the
passes' levels is checked (`passes.check_levels`: IR passes, lowering, machine passes).
A `VitcError` raised inside a pass is re-raised with the pass name and its position in the
pipeline, so the message says which pass failed; any other exception is a bug and propagates.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import TextIO

from compiler.ir.errors import IRError
from compiler.ir.graph import Graph
from compiler.ir.passes import Pass, check_levels
from compiler.ir.pipeline import format_pipeline
from compiler.ir.printer import print_graph
from compiler.ir.roundtrip import assert_roundtrip
from compiler.ir.verifier import verify
from compiler.ir.vir_io import write_text_atomic, write_vir
from isa.errors import VitcError


@dataclasses.dataclass
class Instrumentation:
    print_ir_after_all: bool = False
    print_ir_after: frozenset[str] = frozenset()
    print_ir_before: frozenset[str] = frozenset()
    dump_dir: Path | None = None
    verify_each: bool = False
    time_passes: bool = False
    elide_constants: bool = False  # in printed dumps only; dump_dir files keep constants
    stream: TextIO | None = None  # None: sys.stderr at the time of printing

    @property
    def out(self) -> TextIO:
        return self.stream if self.stream is not None else sys.stderr


class PassManager:
    """Runs `passes` in order over a graph (in place), applying the instrumentation."""

    def __init__(self, passes: list[Pass], instrumentation: Instrumentation | None = None):
        self.passes = list(passes)
        self.instrumentation = instrumentation or Instrumentation()
        self.timings: list[tuple[str, float]] = []

    def _print(self, when: str, pass_name: str, graph: Graph) -> None:
        out = self.instrumentation.out
        if graph.machine is not None:
            out.write(f"// ----- machine code dump {when} {pass_name} ----- //\n")
            out.write(graph.machine.to_text())
        else:
            out.write(f"// ----- IR dump {when} {pass_name} ----- //\n")
            out.write(print_graph(graph, self.instrumentation.elide_constants))
        out.flush()

    def _dump(self, index: int, label: str, graph: Graph) -> None:
        dump_dir = self.instrumentation.dump_dir
        width = max(2, len(str(len(self.passes))))
        try:
            dump_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise IRError(f"cannot create dump directory {dump_dir}: {err.strerror}") from None
        if graph.machine is not None:
            write_text_atomic(dump_dir / f"{index:0{width}d}-{label}.s", graph.machine.to_text())
        else:
            write_vir(graph, dump_dir / f"{index:0{width}d}-{label}.vir")

    def _verify(self, graph: Graph, after: str) -> None:
        try:
            if graph.machine is not None:
                graph.machine.verify()
                return
            verify(graph)
            assert_roundtrip(graph)
        except VitcError as err:
            raise IRError(f"verification after {after} failed: {err}") from None

    def run(self, graph: Graph) -> Graph:
        """Apply every pass to `graph` (in place) and return it."""
        inst = self.instrumentation
        check_levels(self.passes, lowered=graph.machine is not None)
        if inst.verify_each:
            self._verify(graph, "the input (before any pass)")
        if inst.dump_dir is not None:
            self._dump(0, "input", graph)
        for index, p in enumerate(self.passes, start=1):
            if p.name in inst.print_ir_before:
                self._print("before", p.name, graph)
            start = time.perf_counter()
            try:
                p.apply(graph)
            except VitcError as err:
                raise VitcError(f"pass '{p.name}' (#{index} of the pipeline): {err}") from None
            self.timings.append((p.name, time.perf_counter() - start))
            graph.refresh_names()
            if inst.verify_each:
                self._verify(graph, f"pass '{p.name}' (#{index})")
            if inst.print_ir_after_all or p.name in inst.print_ir_after:
                self._print("after", p.name, graph)
            if inst.dump_dir is not None:
                self._dump(index, p.name, graph)
        if self.passes and not inst.verify_each:
            self._verify_only(graph)
        if inst.time_passes:
            self._report_times()
        return graph

    def _verify_only(self, graph: Graph) -> None:
        try:
            verify(graph)
        except VitcError as err:
            raise IRError(f"verification after the pipeline {format_pipeline(self.passes)!r} failed: {err}") from None

    def _report_times(self) -> None:
        total = sum(seconds for _, seconds in self.timings)
        out = self.instrumentation.out
        out.write("// ----- pass execution timing report ----- //\n")
        out.write(f"// total: {total * 1e3:.3f} ms\n")
        for name, seconds in self.timings:
            share = 100 * seconds / total if total > 0 else 0.0
            out.write(f"//  {seconds * 1e3:10.3f} ms  {share:5.1f}%  {name}\n")
        out.flush()
