"""qmatmul compiled to DMA/mm/requant and run on the emulator (hazard checking on), against the
numpy meaning of qmatmul: partial edge tiles, per-channel multipliers, bias, int8/uint8,
batched attention matmuls with B as a transposed view (mm bt), split K (patch layout) with its
runs multiplied one by one or gathered on chip, and the tiling choices of the cost model."""

import numpy as np
import pytest

from compiler.codegen.driver import compile_graph_full
from compiler.codegen.matmul import Tiling, _row_candidates, _Slots, choose_tiling, k_chunks
from compiler.codegen.onchip import Arena
from compiler.ir.graph import Graph, Value
from compiler.ir.pass_manager import PassManager
from compiler.ir.pipeline import parse_pipeline
from isa.config import load_config
from isa.container import write_vitb
from isa.errors import VitcError
from runtime_emulator import run_binary
from tests.compiler.codegen.programs import (
    assert_equal_tensors, f32, q, qmatmul_reference, random_codes, run_graph_on_emulator, tensor_type,
)

CONFIGS = ["default", "large"]
NP = {"i8": np.int8, "u8": np.uint8}


def _linear_graph(m, k, n, a_dtype, b_dtype, y_dtype, *, bias, per_channel, rng, zb=0):
    g = Graph("linear")
    za = 3 if a_dtype == "i8" else 128
    x = g.add_input("x", tensor_type(a_dtype, (1, m, k), q(0.02, za)))
    w = random_codes(rng, (k, n), NP[b_dtype])
    if per_channel:
        scales = [0.001 + 0.0001 * i for i in range(n)]
        wq = q(scales, [zb] * n, axis=1)
        multiplier = tuple(f32(0.02 * s / 0.05) for s in scales)
    else:
        wq = q(0.003, zb)
        multiplier = (f32(0.02 * 0.003 / 0.05),)
    wv = g.add_const(w, wq, name="w")
    operands = [x, wv]
    b = None
    if bias:
        b = rng.integers(-20000, 20000, (n,)).astype(np.int32)
        operands.append(g.add_const(b, name="bias"))
    zy = -5 if y_dtype == "i8" else 120
    y = g.add_op("qmatmul", operands, tensor_type(y_dtype, (1, m, n), q(0.05, zy)), {"multiplier": multiplier}, name="y")
    g.set_outputs([y])
    return g, (za, w, zb, b, np.asarray(multiplier, np.float32), zy)


@pytest.mark.parametrize("config_name", CONFIGS)
@pytest.mark.parametrize("m,k,n", [(17, 64, 64), (197, 192, 200), (5, 40, 33), (1, 64, 10)])
@pytest.mark.parametrize("a_dtype,y_dtype", [("u8", "u8"), ("i8", "i8")])
def test_linear_layers_are_exact(config_name, m, k, n, a_dtype, y_dtype):
    rng = np.random.default_rng(m * 1000 + n)
    config = load_config(config_name)
    for bias in (True, False):
        g, (za, w, zb, b, mult, zy) = _linear_graph(m, k, n, a_dtype, "i8", y_dtype, bias=bias, per_channel=False, rng=rng)
        x = random_codes(rng, (1, m, k), NP[a_dtype])
        outputs, result, _ = run_graph_on_emulator(g, config, {"x": x})
        assert_equal_tensors(f"y (bias={bias})", outputs["y"], qmatmul_reference(x, za, w, zb, b, mult, zy, NP[y_dtype]))


@pytest.mark.parametrize("config_name", CONFIGS)
def test_per_channel_multipliers_and_uint8_weights_with_zero_point(config_name):
    rng = np.random.default_rng(7)
    config = load_config(config_name)
    g, (za, w, zb, b, mult, zy) = _linear_graph(50, 96, 80, "u8", "u8", "u8", bias=True, per_channel=True, rng=rng, zb=131)
    x = random_codes(rng, (1, 50, 96), np.uint8)
    outputs, _, _ = run_graph_on_emulator(g, config, {"x": x})
    assert_equal_tensors("y", outputs["y"], qmatmul_reference(x, za, w, zb, b, mult, zy, np.uint8))


def test_per_channel_zero_points_that_differ_are_refused():
    g = Graph("bad")
    x = g.add_input("x", tensor_type("u8", (4, 16), q(0.02, 128)))
    w = g.add_const(np.ones((16, 2), np.uint8), q([0.1, 0.2], [1, 2], axis=1), name="w")
    y = g.add_op("qmatmul", [x, w], tensor_type("u8", (4, 2), q(0.05, 0)), {"multiplier": (f32(0.1), f32(0.2))}, name="y")
    g.set_outputs([y])
    with pytest.raises(VitcError, match="qmatmul.*zero points"):
        run_graph_on_emulator(g, load_config("default"), {"x": np.zeros((4, 16), np.uint8)})


@pytest.mark.parametrize("config_name", CONFIGS)
@pytest.mark.parametrize("tokens", [17, 197])
def test_attention_matmuls_per_head_with_transposed_key_view(config_name, tokens):
    """Q.K^T with K^T a transposed view of K (loaded as stored, mm bt=1), then scores x V,
    with the per-head output written straight into the merged (tokens, heads*dim) layout."""
    heads, dim = 3, 16
    rng = np.random.default_rng(tokens)
    g = Graph("attention")
    qkv_type = tensor_type("u8", (1, tokens, heads * dim), q(0.01, 120))
    qx = g.add_input("q", qkv_type)
    kx = g.add_input("k", tensor_type("u8", (1, tokens, heads * dim), q(0.011, 130)))
    vx = g.add_input("v", tensor_type("u8", (1, tokens, heads * dim), q(0.012, 125)))

    def heads_view(value, perm, name):
        r = g.add_op("reshape", [value], tensor_type("u8", (1, tokens, heads, dim), value.type.quant), name=name + "_r")
        return g.add_op("transpose", [r], attrs={"perm": perm}, name=name + "_t")

    qh = heads_view(qx, (0, 2, 1, 3), "qh")
    kt = heads_view(kx, (0, 2, 3, 1), "kt")
    vh = heads_view(vx, (0, 2, 1, 3), "vh")
    s = g.add_op("qmatmul", [qh, kt], tensor_type("u8", (1, heads, tokens, tokens), q(0.02, 100)),
                 {"multiplier": (f32(0.01 * 0.011 / 0.02),)}, name="scores")
    o = g.add_op("qmatmul", [s, vh], tensor_type("u8", (1, heads, tokens, dim), q(0.03, 110)),
                 {"multiplier": (f32(0.02 * 0.012 / 0.03),)}, name="o")
    ot = g.add_op("transpose", [o], attrs={"perm": (0, 2, 1, 3)}, name="ot")
    merged = g.add_op("reshape", [ot], tensor_type("u8", (1, tokens, heads * dim), o.type.quant), name="merged")
    w = random_codes(rng, (heads * dim, 8), np.int8)
    y = g.add_op("qmatmul", [merged, g.add_const(w, q(0.003, 0), name="w")],
                 tensor_type("u8", (1, tokens, 8), q(0.05, 128)), {"multiplier": (f32(0.03 * 0.003 / 0.05),)}, name="y")
    g.set_outputs([y, s])
    inputs = {n: random_codes(rng, (1, tokens, heads * dim), np.uint8) for n in ("q", "k", "v")}
    outputs, _, _ = run_graph_on_emulator(g, load_config(config_name), inputs)
    qn, kn, vn = (inputs[n].reshape(1, tokens, heads, dim) for n in ("q", "k", "v"))
    scores = qmatmul_reference(qn.transpose(0, 2, 1, 3), 120, kn.transpose(0, 2, 3, 1), 130, None,
                               np.float32(f32(0.01 * 0.011 / 0.02)), 100, np.uint8)
    assert_equal_tensors("scores", outputs["scores"], scores)
    out = qmatmul_reference(scores, 100, vn.transpose(0, 2, 1, 3), 125, None, np.float32(f32(0.02 * 0.012 / 0.03)), 110, np.uint8)
    merged_np = out.transpose(0, 2, 1, 3).reshape(1, tokens, heads * dim)
    assert_equal_tensors("y", outputs["y"], qmatmul_reference(merged_np, 110, w, 0, None, np.float32(f32(0.03 * 0.003 / 0.05)), 128, np.uint8))


@pytest.mark.parametrize("config_name", CONFIGS)
def test_patch_embedding_layout_splits_k_into_runs(config_name):
    """The im2col of a patch convolution is a view whose columns are 8-byte runs: K is
    multiplied run by run (accumulating) when runs are not block-aligned."""
    rng = np.random.default_rng(3)
    g, patches = _patch_graph()
    w = random_codes(rng, (192, 24), np.int8)
    y = g.add_op("qmatmul", [patches, g.add_const(w, q(0.003, 0), name="w")], tensor_type("i8", (16, 24), q(0.05, 0)),
                 {"multiplier": (f32(0.02 * 0.003 / 0.05),)}, name="y")
    g.set_outputs([y])
    xin = random_codes(rng, (1, 3, 32, 32), np.uint8)
    outputs, _, _ = run_graph_on_emulator(g, load_config(config_name), {"x": xin})
    assert_equal_tensors("y", outputs["y"], qmatmul_reference(_patch_rows(xin), 128, w, 0, None, np.float32(f32(0.02 * 0.003 / 0.05)), 0, np.int8))


def _patch_graph() -> tuple[Graph, Value]:
    """A graph with input %x (1x3x32x32 u8) and the im2col of its 8x8 patches (16 x 192, 8-byte
    runs) as layout ops: the graph and that value."""
    g = Graph("patches")
    x = g.add_input("x", tensor_type("u8", (1, 3, 32, 32), q(0.02, 128)))
    r = g.add_op("reshape", [x], tensor_type("u8", (1, 3, 4, 8, 4, 8), x.type.quant), name="r")
    t = g.add_op("transpose", [r], attrs={"perm": (0, 2, 4, 1, 3, 5)}, name="t")
    return g, g.add_op("reshape", [t], tensor_type("u8", (16, 192), x.type.quant), name="rows")


def _patch_rows(xin: np.ndarray) -> np.ndarray:
    return xin.reshape(1, 3, 4, 8, 4, 8).transpose(0, 2, 4, 1, 3, 5).reshape(16, 192)


def test_k_chunks_follow_unaligned_runs_only():
    assert k_chunks(((192, 1),), 192, 16) == ((0, 192),)
    assert k_chunks(((4, 272), (16, 1)), 64, 16) == ((0, 64),)
    assert k_chunks(((4, 272), (16, 1)), 64, 32) == ((0, 16), (16, 16), (32, 16), (48, 16))


def _rows_used(t, dim):
    a = [t.tm * -(-length // dim) for _, length in t.steps]
    b = [length * -(-t.tn // dim) for _, length in t.steps]
    tile = t.tm * -(-t.tn // dim)
    spad = 2 * (sum(a) if t.a_resident else max(a)) + 2 * (sum(b) if t.b_resident else max(b)) + 2 * tile
    return spad, 2 * tile + 2 * -(-t.tn // dim)


@pytest.mark.parametrize("m,k,n", [(197, 768, 3072), (197, 3072, 768), (197, 64, 197)])
def test_tiling_fits_the_memory_it_is_given(m, k, n):
    config = load_config("default")
    tiling = choose_tiling(m, n, ((0, k),), False, 8192, 512, config)
    spad, acc = _rows_used(tiling, config.dim)
    assert spad <= 8192 and acc <= 512
    assert sum(length for _, length in tiling.steps) == k


def test_tiling_refuses_when_nothing_fits():
    with pytest.raises(VitcError, match="no tiling fits"):
        choose_tiling(197, 64, ((0, 4096),), False, 64, 8, load_config("default"))


@pytest.mark.parametrize("config_name", CONFIGS)
def test_long_k_is_streamed_in_steps(config_name):
    """K = 3072 (a ViT-Base MLP down-projection) cannot stay on chip: it is accumulated over K
    steps; the result is still exact."""
    rng = np.random.default_rng(11)
    g, (za, w, zb, b, mult, zy) = _linear_graph(40, 3072, 48, "u8", "i8", "u8", bias=True, per_channel=False, rng=rng)
    x = random_codes(rng, (1, 40, 3072), np.uint8)
    config = load_config(config_name)
    assert len(choose_tiling(40, 48, ((0, 3072),), False, config.spad_rows // 2, config.acc_rows // 2, config).steps) > 1
    outputs, _, _ = run_graph_on_emulator(g, config, {"x": x})
    assert_equal_tensors("y", outputs["y"], qmatmul_reference(x, za, w, zb, b, mult, zy, np.uint8))


def _patch_qmatmul(rng):
    """The patch matrix times random 192 x 40 int8 weights with an int32 bias, as graph `y`:
    (graph, weights, bias)."""
    g, patches = _patch_graph()
    w = random_codes(rng, (192, 40), np.int8)
    bias = rng.integers(-20000, 20000, (40,)).astype(np.int32)
    y = g.add_op("qmatmul", [patches, g.add_const(w, q(0.003, 0), name="w"), g.add_const(bias, name="bias")],
                 tensor_type("u8", (16, 40), q(0.05, 120)), {"multiplier": (f32(0.02 * 0.003 / 0.05),)}, name="y")
    g.set_outputs([y])
    return g, w, bias


@pytest.mark.parametrize("config_name", CONFIGS)
@pytest.mark.parametrize("tile_k", [0, 8, 64])
def test_patch_runs_multiplied_one_by_one_or_gathered_are_exact(config_name, tile_k):
    """The patch matrix's 8-byte runs: K steps of one run each (tile_k 8, half-empty blocks),
    or gathered on chip into steps of whole blocks (tile_k 64: each run loaded into its own
    block, transposed into the step's transpose, transposed back), or as the cost model
    chooses (0)."""
    rng = np.random.default_rng(4)
    g, w, bias = _patch_qmatmul(rng)
    config = load_config(config_name)
    pipeline = f"fuse-requant,tabulate,dce,canonicalize,fold-layout,tile-matmul{{hw={config_name} k={tile_k}}},plan-memory"
    compiled = compile_graph_full(g, config, passes=PassManager(parse_pipeline(pipeline)))
    transposes = sum(i.mnemonic == "transpose" for i in compiled.instructions)
    gathered = next(op for op in g.ops if op.kind == "qmatmul").attrs["tile_k"] > 8
    assert (transposes > 0) == gathered
    if tile_k:
        assert gathered == (tile_k == 64)
    xin = random_codes(rng, (1, 3, 32, 32), np.uint8)
    result = run_binary(write_vitb(compiled.binary), {"x": xin}, config, check_hazards=True)
    assert_equal_tensors("y", result.outputs["y"],
                         qmatmul_reference(_patch_rows(xin), 128, w, 0, bias, np.float32(f32(0.02 * 0.003 / 0.05)), 120, np.uint8))


@pytest.mark.parametrize("config_name", CONFIGS)
def test_gathered_row_tiles_kept_for_every_panel_while_b_streams_are_exact(config_name):
    """`resident = a-rows`: output tiles row tile by row tile, each row tile of the gathered
    patch matrix loaded (and transposed) once for all N panels (the last one partial), B
    streamed, with a bias; the recorded tiling is set by hand after tile-matmul."""
    rng = np.random.default_rng(5)
    g, w, bias = _patch_qmatmul(rng)
    config = load_config(config_name)
    PassManager(parse_pipeline(f"fuse-requant,tabulate,dce,canonicalize,fold-layout,tile-matmul{{hw={config_name}}}")).run(g)
    op = next(op for op in g.ops if op.kind == "qmatmul")
    op.attrs.update(tile_m=8, tile_n=16, tile_k=64, resident="a-rows")  # 2 row tiles, 3 panels, 3 K steps
    compiled = compile_graph_full(g, config, passes=PassManager(parse_pipeline("plan-memory")))
    # Per row tile: each K step's 8 runs transposed one by one, then the step back: 2 x 3 x 9.
    assert sum(i.mnemonic == "transpose" for i in compiled.instructions) == 54
    xin = random_codes(rng, (1, 3, 32, 32), np.uint8)
    result = run_binary(write_vitb(compiled.binary), {"x": xin}, config, check_hazards=True)
    assert_equal_tensors("y", result.outputs["y"],
                         qmatmul_reference(_patch_rows(xin), 128, w, 0, bias, np.float32(f32(0.02 * 0.003 / 0.05)), 120, np.uint8))


def test_row_tiles_kept_while_b_streams_only_when_they_load_less():
    """`a-rows` is taken for a gathered A only when no slower and loading no more than the
    best other tiling: deit-tiny large's patch embedding (196 x 768 x 192, 16-byte runs of
    patch rows 14 x 14), where re-loading each row tile's runs per panel costs more than
    streaming B per row tile; never for an A loaded as stored."""
    config = load_config("large")
    runs = tuple((start, 16) for start in range(0, 768, 16))
    patch_rows = ((14, 3584), (14, 16))
    tiling = choose_tiling(196, 192, runs, False, config.spad_rows // 2, config.acc_rows // 2, config, bias=True,
                           a_rows=patch_rows)
    assert tiling.gather and tiling.rows_outer and not tiling.b_resident and tiling.tm < 196 and tiling.tn < 192
    plain = choose_tiling(197, 384, ((0, 1536),), False, config.spad_rows // 2, config.acc_rows // 2, config, bias=True)
    assert not plain.rows_outer or plain.b_resident


def test_row_tiles_need_not_be_whole_blocks():
    """An mm costs max(m, dim) row-cycles: 197 rows as 4 tiles of <= 50 cost 197, as 32-row
    blocks (6 x 32 + 5) 224. The candidates include such splits, none under dim rows."""
    sizes = _row_candidates(197, 32)
    assert 50 in sizes and 99 in sizes and 197 in sizes
    assert all(size >= 32 for size in sizes)


def test_a_single_resident_operand_has_one_copy():
    """A resident A of one matrix is loaded once: with all rows and all of K in one tile it
    fits in one copy (streamed, it would need two); a batch of two matrices needs two."""
    config = load_config("large")
    m, k, n = 64, 2048, 32
    spad = m * k // config.dim + 2 * k + 2 * m  # one A, two B panels of k x 32, two output tiles
    tiling = choose_tiling(m, n, ((0, k),), False, spad, 512, config, forced=(m, n, k), batch=1)
    assert tiling.a_resident
    with pytest.raises(VitcError, match="no tiling fits"):
        choose_tiling(m, n, ((0, k),), False, spad, 512, config, forced=(m, n, k), batch=2)


@pytest.mark.parametrize("config_name", CONFIGS)
def test_every_panel_of_b_on_chip_with_row_tiles_in_order_is_exact(config_name):
    """`resident = b-all` (every N panel of B loaded once, output tiles row tile by row tile,
    each row tile of A loaded once), with a bias and per-channel multipliers (one multiplier
    row per panel kept on chip)."""
    rng = np.random.default_rng(12)
    config = load_config(config_name)
    g, (za, w, zb, b, mult, zy) = _linear_graph(197, 192, 200, "u8", "i8", "u8", bias=True, per_channel=True, rng=rng)
    x = random_codes(rng, (1, 197, 192), np.uint8)
    outputs, _, _ = run_graph_on_emulator(g, config, {"x": x})
    op = next(op for op in g.ops if op.kind == "qmatmul")
    assert op.attrs["resident"] == "b-all" and op.attrs["tile_n"] < 200 and op.attrs["tile_m"] < 197
    assert_equal_tensors("y", outputs["y"], qmatmul_reference(x, za, w, zb, b, mult, zy, np.uint8))


@pytest.mark.parametrize("per_channel", [False, True])
def test_loaded_row_vectors_come_before_the_accumulator_tiles(per_channel):
    """The bias rows, and the multiplier rows when they are loaded (per channel), are placed
    first in the op's accumulator arena: rows after the tiles may wrap onto the previous chain's
    tile and hold the in-order load unit behind its vector work. Unused multiplier rows stay
    after the tiles."""
    tiling = Tiling(tm=32, tn=48, steps=((0, 64),), a_resident=False, b_resident=False, b_transposed=False)
    acc = Arena("acc", 100, 1000, "test")
    slots = _Slots(tiling, Arena("spad", 0, 4000, "test"), acc, 16, 1, 96, bias=True, multipliers=per_channel)
    tiles_start = min(region.addr for region in slots.c)
    assert max(region.addr for region in slots.bias) < tiles_start
    assert (max(region.addr for region in slots.mult) < tiles_start) == per_channel
