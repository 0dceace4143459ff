"""A seeded generator of random valid graphs, for round-trip and pass tests.

Every graph is built through the public builder, so it exercises the op table's inference; it
covers every dtype, per-tensor and per-axis quantization, small (literal) and large (base64)
constants including NaN payloads and -0.0, awkward float32 values, and names and locs that
need quoting.
"""

import numpy as np

from compiler.ir.graph import Graph
from compiler.ir.types import DTYPES, Quant, TensorType

AWKWARD_FLOATS = np.array([1e-45, 1.1754942e-38, 3.4028235e38, 0.1, 1 / 3, 2 ** -20, 16777217.0, 123456.789],
                          dtype=np.float32)
NAMES = ["x", "a.b", "/blocks.0/attn/MatMul_output_0", "with space", "colon:0", "quote\"d", "ünï", "//c", "1"]


def _f32(rng) -> float:
    if rng.random() < 0.5:
        return float(rng.choice(AWKWARD_FLOATS))
    return float(np.float32(rng.random() * 10.0 ** rng.integers(-8, 8)) + np.float32(1e-30))


def _quant(rng, dtype, shape) -> Quant | None:
    lo, hi = np.iinfo(DTYPES[dtype]).min, np.iinfo(DTYPES[dtype]).max
    if shape and rng.random() < 0.3:
        axis = int(rng.integers(len(shape)))
        n = shape[axis]
        return Quant(tuple(_f32(rng) for _ in range(n)), tuple(int(z) for z in rng.integers(lo, hi, n)), axis)
    return Quant((_f32(rng),), (int(rng.integers(lo, hi)),))


def _array(rng, dtype, shape) -> np.ndarray:
    np_dtype = DTYPES[dtype]
    if np_dtype.kind == "f":
        values = rng.standard_normal(shape).astype(np.float32)
        if values.size and rng.random() < 0.3:
            flat = values.reshape(-1)
            flat[0] = -0.0
            flat[-1] = np.frombuffer(np.uint32(0x7FC01234).tobytes(), np.float32)[0]  # NaN with a payload
        return values
    info = np.iinfo(np_dtype)
    return rng.integers(max(info.min, -(2 ** 40)), min(info.max, 2 ** 40), size=shape, dtype=np_dtype, endpoint=True)


def _name(rng) -> str:
    return str(rng.choice(NAMES))


def random_graph(seed: int) -> Graph:
    rng = np.random.default_rng(seed)
    g = Graph(_name(rng))
    pool = []
    for _ in range(int(rng.integers(1, 3))):
        shape = tuple(int(d) for d in rng.integers(1, 4, size=int(rng.integers(0, 4))))
        pool.append(g.add_input(g.fresh_name(_name(rng)), TensorType("f32", shape)))
    for _ in range(int(rng.integers(1, 12))):
        _add_random_op(rng, g, pool)
    g.set_outputs(list(rng.choice(pool, size=min(len(pool), int(rng.integers(1, 3))), replace=False)))
    return g


def _add_random_op(rng, g: Graph, pool: list) -> None:
    locs = [str(l) for l in rng.choice(NAMES, size=int(rng.integers(0, 3)))]
    name = _name(rng)
    x = pool[int(rng.integers(len(pool)))]
    choice = int(rng.integers(8))
    if choice == 0:  # a constant of any dtype, small or large
        dtype = str(rng.choice(list(DTYPES)))
        shape = tuple(int(d) for d in rng.integers(1, 12, size=int(rng.integers(0, 3))))
        quant = _quant(rng, dtype, shape) if dtype in ("i8", "u8", "i32") and rng.random() < 0.7 else None
        pool.append(g.add_const(_array(rng, dtype, shape), quant, loc=locs, name=name))
    elif x.type.dtype == "f32" and choice == 1:
        dtype = str(rng.choice(["i8", "u8"]))
        q = g.add_op("quantize", [x], TensorType(dtype, x.type.shape, _quant(rng, dtype, x.type.shape)), loc=locs, name=name)
        pool.append(q)
    elif x.type.quant is not None and choice == 2:
        pool.append(g.add_op("dequantize", [x], loc=locs, name=name))
    elif x.type.dtype == "f32" and choice == 3:
        kind = str(rng.choice(["add", "sub", "mul", "div", "pow", "sqrt", "erf", "tanh", "exp"]))
        operands = [x] if kind in ("sqrt", "erf", "tanh", "exp") else [x, x]
        pool.append(g.add_op(kind, operands, loc=locs, name=name))
    elif x.type.rank >= 1 and choice == 4:
        perm = tuple(int(p) for p in rng.permutation(x.type.rank))
        pool.append(g.add_op("transpose", [x], attrs={"perm": perm}, loc=locs, name=name))
    elif x.type.rank >= 1 and choice == 5 and (x.type.quant is None or x.type.quant.per_tensor):
        pool.append(g.add_op("reshape", [x], x.type.with_shape((x.type.num_elements,)), loc=locs, name=name))
    elif x.type.dtype in ("i8", "u8") and x.type.quant is not None and x.type.quant.per_tensor and choice == 6:
        out = TensorType(x.type.dtype, x.type.shape, _quant(rng, x.type.dtype, ()))
        if rng.random() < 0.5:
            attrs = {"mode": "qlinear", "ra": _f32(rng), "rb": _f32(rng), "fixed": -_f32(rng)}
            pool.append(g.add_op("qadd", [x, x], out, attrs, loc=locs, name=name))
        else:
            table = _array(rng, x.type.dtype, (256,))
            pool.append(g.add_op("table", [x], out, {"table": table}, loc=locs, name=name))
    elif x.type.rank >= 1 and choice == 7 and (x.type.quant is None or x.type.quant.axis != 0):
        pool.append(g.add_op("concat", [x, x], attrs={"axis": 0}, loc=locs, name=name))
