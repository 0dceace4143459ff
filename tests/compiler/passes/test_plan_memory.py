"""plan-memory: IR text in through `vitc opt`, `dram_offset` attributes out.

Expected offsets follow from the rule the memory plan documents (buffers aligned to 64 bytes,
first fit, bytes shared only between buffers whose live ranges do not overlap, and by default
only between buffers at least two layers apart, the `reuse-distance`), worked out by hand for these graphs.
"""

from compiler.ir.parser import parse_graph
from compiler.ir.testing import check_lines, run_pipeline_on_text
from tests.compiler.passes.backend_graphs import matmul_then_tables
from tests.compiler.passes.test_fuse_elementwise import vitc_opt


def offsets(text: str) -> dict[str, int | None]:
    graph = parse_graph(text)
    found = {v.name: graph.input_attrs.get(v, {}).get("dram_offset") for v in graph.inputs}
    found.update({op.result.name: op.attrs.get("dram_offset") for op in graph.ops if op.kind != "const"})
    return found


def test_an_input_and_the_matmul_reading_it_get_separate_aligned_buffers(tmp_path, capsys):
    out = vitc_opt(tmp_path, capsys, matmul_then_tables(17, 32, 64, tables=0), "plan-memory")
    # %x: 17 * 32 = 544 bytes at 0; %mm is written while %x is read: next multiple of 64
    check_lines(out, ["graph @chain(%x: tensor<1x17x32xu8, q<0.02 : 128>> {dram_offset = 0}) -> (%mm) {"])
    assert offsets(out) == {"x": 0, "mm": 576}


def test_a_dead_buffer_is_reused_and_reuse_false_gives_every_buffer_its_own_bytes():
    text = matmul_then_tables(17, 32, 64, tables=3)  # x -> mm -> t0 -> t1 -> t2, no fusion
    reused = offsets(run_pipeline_on_text(text, "plan-memory{reuse-distance=0}"))
    # Each op reads the previous result while writing its own (1088 bytes each). x [0, 544) is
    # dead after mm; t0 is written while mm [576, 1664) is read: after it; t1 only meets t0, so
    # it fits at 0; t2 only meets t1 [0, 1088): at 1088.
    assert reused == {"x": 0, "mm": 576, "t0": 1664, "t1": 0, "t2": 1088}
    separate = offsets(run_pipeline_on_text(text, "plan-memory{reuse=false}"))
    assert separate == {"x": 0, "mm": 576, "t0": 1664, "t1": 2752, "t2": 3840}


def test_bytes_are_reused_only_reuse_distance_layers_after_the_last_read():
    text = matmul_then_tables(17, 32, 64, tables=4)  # layers: mm 0, t0 1, t1 2, t2 3, t3 4
    # With 3:
    # x [0, 544) is last read in layer 0, mm [576, 1664) in layer 1, t0 in layer 2. t1 (layer 2)
    # and t2 (layer 3) are too close to take any dead bytes: each goes after everything placed.
    # t3 (layer 4) is 4 layers after x's last read and 3 after mm's: it takes [0, 1088).
    assert offsets(run_pipeline_on_text(text, "plan-memory{reuse-distance=3}")) == {
        "x": 0, "mm": 576, "t0": 1664, "t1": 2752, "t2": 3840, "t3": 0}
    # With 4, mm's bytes are still too close for t3: it goes after t2.
    assert offsets(run_pipeline_on_text(text, "plan-memory{reuse-distance=4}"))["t3"] == 4928
    # With the default, 2: t1 (layer 2) could take x's bytes, but [0, 576) is too small: after
    # t0, at 2752; t2 (layer 3) takes [0, 1088) (x and mm dead for 2 layers or more); t3 (layer 4)
    # goes right after t2, over t0's bytes (last read in layer 2).
    assert offsets(run_pipeline_on_text(text, "plan-memory")) == {
        "x": 0, "mm": 576, "t0": 1664, "t1": 2752, "t2": 0, "t3": 1088}


def test_a_chain_keeps_its_stored_buffer_live_from_the_head():
    # mm -> t0 fused: t0 is written at mm's position, so it cannot take x's bytes
    out = run_pipeline_on_text(matmul_then_tables(17, 32, 64, tables=1), "fuse-elementwise,plan-memory")
    assert offsets(out)["t0"] >= 544


def test_rerunning_replaces_the_offsets():
    text = matmul_then_tables(17, 32, 64, tables=3)
    separate = run_pipeline_on_text(text, "plan-memory{reuse=false}")
    assert run_pipeline_on_text(separate, "plan-memory") == run_pipeline_on_text(text, "plan-memory")
