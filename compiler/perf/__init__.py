"""Performance tools: what bounds a compiled model's cycles, and views that show why.

Modules, one concept each:
- `work`: the work a binary's instructions do (MACs, vector elements, DRAM bytes), per layer,
  decoded from the binary's own code section;
- `roofline`: the lower bound on cycles of a binary (TARGET.md) and which resource sets it;
- `profile`: the per-layer table of a timed emulator run (cycles, share, utilisation, bound);
- `svg`: a small hand-written SVG chart (log or linear axes, lines, points, labels);
- `roofline_chart`: the roofline chart of a profile; `sweep_chart`: cycles and utilisation
  against on-chip memory for a sweep;
- `hw_variants`: hardware configurations derived from a base one by overriding fields;
- `sweep`: the design-space sweep driver (compile and emulate one model per configuration).

`vitc profile`, `vitc sweep` (compiler/cli/commands/) and `bench/run_bench.py` use them.
"""
