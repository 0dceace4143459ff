"""THE op table: every IR op, declared once, with its operands, attributes and type rule.

Everything else derives from this table: the verifier (arity, dtypes, attribute kinds, the
type rule), the builder's result-type inference, the text form (attribute printing and parsing
by kind) and the op reference in docs/ir.md (`python -m compiler.ir.docgen`).

Invariants:
- Every op has exactly one result.
- Operands are positional. An `optional` operand may only be followed by other optional
  operands; a `variadic` operand is the only operand of its op.
- An op has an `infer` rule (its result type follows from operands and attributes; the
  verifier then requires the declared type to equal it) or a `check` rule (the result type
  carries information of its own, e.g. quantization parameters), or both.
- Attribute values in an `Op` are normalized Python values (see `ATTR_KINDS`).

To add an op: append one `OpDef` to `OPS` below (and its rule to `compiler.ir.rules`), then run
`python -m compiler.ir.docgen` to regenerate docs/ir.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from compiler.ir import rules
from compiler.ir.errors import IRError
from compiler.ir.types import DTYPES, TensorType, is_float32

Q8 = ("i8", "u8")
INDEX = ("i32", "i64")
ANY = tuple(DTYPES)


@dataclass(frozen=True)
class OperandSpec:
    """One positional operand: `arity` is "one", "optional" or "variadic" (one or more)."""

    name: str
    dtypes: tuple[str, ...]
    quantized: bool | None = None  # True: must carry quant; False: must not; None: either
    arity: str = "one"


@dataclass(frozen=True)
class AttrSpec:
    """One attribute: `kind` is a key of ATTR_KINDS; `choices`, if given, lists the allowed values."""

    name: str
    kind: str
    required: bool = True
    choices: tuple = ()
    doc: str = ""
    minimum: int | None = None  # for "int" attributes: the smallest allowed value


@dataclass(frozen=True)
class ResultSpec:
    """The dtypes the result may have, and whether it must (True) or must not (False) be quantized."""

    dtypes: tuple[str, ...]
    quantized: bool | None = None


TypeList = list[TensorType]
InferRule = Callable[[TypeList, dict[str, Any]], TensorType]
CheckRule = Callable[[TypeList, dict[str, Any], TensorType], None]


@dataclass(frozen=True)
class OpDef:
    """One entry of the op table: its name, one-line meaning, signature and type rules."""

    name: str
    summary: str
    operands: tuple[OperandSpec, ...]
    result: ResultSpec
    attrs: tuple[AttrSpec, ...] = ()
    infer: InferRule | None = None
    check: CheckRule | None = None

    def attr(self, name: str) -> AttrSpec | None:
        return next((a for a in self.attrs if a.name == name), None)

    def arity_range(self) -> tuple[int, int | None]:
        """The smallest and largest number of operands (None: no limit)."""
        if any(o.arity == "variadic" for o in self.operands):
            return 1, None
        return sum(o.arity == "one" for o in self.operands), len(self.operands)

    def operand_spec(self, index: int) -> OperandSpec:
        return self.operands[min(index, len(self.operands) - 1)]


# ---- attribute kinds -----------------------------------------------------------------------------

def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_f32(v: Any) -> bool:
    return isinstance(v, float) and is_float32(v)


# kind -> (predicate on the normalized value, description for messages and docs)
ATTR_KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "int": (_is_int, "integer"),
    "f32": (_is_f32, "float32 number"),
    "str": (lambda v: isinstance(v, str), "string"),
    "ints": (lambda v: isinstance(v, tuple) and all(_is_int(x) for x in v), "list of integers"),
    "f32s": (lambda v: isinstance(v, tuple) and len(v) > 0 and all(_is_f32(x) for x in v),
             "non-empty list of float32 numbers"),
    "tensor": (lambda v: isinstance(v, np.ndarray) and v.dtype in DTYPES.values(), "dense tensor"),
}


def _normalize_attr_value(kind: str, value: Any) -> Any:
    """Python/numpy spellings of a value -> the one normalized form (never changes a number)."""
    if kind == "int" and isinstance(value, np.integer):
        return int(value)
    if kind == "f32" and isinstance(value, (np.floating, int)) and not isinstance(value, bool):
        return float(value)
    if kind in ("ints", "f32s") and isinstance(value, (list, tuple, np.ndarray)):
        return tuple(_normalize_attr_value(kind[:-1], v) for v in value)
    if kind == "tensor" and isinstance(value, np.ndarray) and value.flags.writeable:
        value = np.array(value, copy=True, order="C")
        value.flags.writeable = False
    return value


# ---- the table -----------------------------------------------------------------------------------

def _one(name: str, dtypes: tuple[str, ...], quantized: bool | None = None) -> OperandSpec:
    return OperandSpec(name, dtypes, quantized)


def _float_binary(name: str, summary: str) -> OpDef:
    return OpDef(name, summary, (_one("a", ("f32",)), _one("b", ("f32",))), ResultSpec(("f32",)),
                 infer=rules.infer_float_elementwise)


def _float_unary(name: str, summary: str) -> OpDef:
    return OpDef(name, summary, (_one("x", ("f32",)),), ResultSpec(("f32",)),
                 infer=rules.infer_float_elementwise)


def _layout(name: str, summary: str, attrs: tuple[AttrSpec, ...], infer: InferRule | None = None,
            check: CheckRule | None = None, operands: tuple[OperandSpec, ...] | None = None) -> OpDef:
    return OpDef(name, summary, operands or (_one("x", ANY),), ResultSpec(ANY), attrs, infer, check)


def _check_matmul_int(operands: TypeList) -> None:
    a, b = operands
    if a.quant is not None and not a.quant.per_tensor:
        raise IRError(f"operand a must be quantized per tensor, got per-axis along axis {a.quant.axis}")
    if b.quant is not None and not b.quant.per_tensor and b.quant.axis != b.rank - 1:
        raise IRError(f"operand b may be quantized per axis only along its last axis ({b.rank - 1}), "
                      f"got axis {b.quant.axis}")


def _infer_bias_add(operands: TypeList) -> TensorType:
    acc, bias = operands
    if bias.shape != acc.shape[-1:]:
        raise IRError(f"bias shape {list(bias.shape)} should be [{acc.shape[-1]}] (one per output channel)")
    return acc


def _check_requantize(acc: TensorType, attrs: dict[str, Any], result: TensorType) -> None:
    _check_same_shape(acc, result)
    if not result.quant.per_tensor:
        raise IRError(f"the result must be quantized per tensor, got per-axis along axis {result.quant.axis}")
    channels = acc.shape[-1] if acc.shape else 1
    if len(attrs["multiplier"]) not in (1, channels):
        raise IRError(f"multiplier has {len(attrs['multiplier'])} entries, expected 1 (per tensor) or "
                      f"{channels} (per output channel)")


def _check_same_shape(operand: TensorType, result: TensorType) -> None:
    if result.shape != operand.shape:
        raise IRError(f"result shape {list(result.shape)} differs from operand shape {list(operand.shape)}")


_MODE = AttrSpec("mode", "str", choices=("qlinear", "float"),
                 doc="`qlinear`: onnxruntime's QLinear kernel; `float`: the DQ -> op -> Q path")

OPS: tuple[OpDef, ...] = (
    OpDef("const", "A constant tensor; `value` has exactly the result's dtype and shape.",
          (), ResultSpec(ANY), (AttrSpec("value", "tensor", doc="the data (printed in place of operands)"),),
          check=rules.check_const),
    OpDef("quantize", "QuantizeLinear: `q = sat(RNE(clamp(f32(x / scale), qmin - zp, qmax - zp)) + zp)`.",
          (_one("x", ("f32",)),), ResultSpec(Q8, quantized=True), check=rules.check_quantize),
    OpDef("dequantize", "DequantizeLinear: `f32(float(q - zp) * scale)`, per tensor or per axis.",
          (_one("q", Q8 + ("i32",), quantized=True),), ResultSpec(("f32",)), infer=rules.infer_dequantize),
    OpDef("qmatmul",
          "QLinearMatMul / QGemm / QLinearConv as a matmul: `acc = sum (a - za)(b - zb) (+ bias)` in int32, "
          "`y = sat(RNE(clamp(f32(f32(acc) * multiplier), qmin - zy, qmax - zy)) + zy)`; numpy matmul "
          "broadcasting; b may be quantized per output channel (its last axis).",
          (_one("a", Q8, True), _one("b", Q8, True), OperandSpec("bias", ("i32",), None, "optional")),
          ResultSpec(Q8, quantized=True),
          (AttrSpec("multiplier", "f32s", doc="M as onnxruntime computes it: one, or one per output channel"),),
          check=rules.check_qmatmul),
    OpDef("matmul_int", "MatMulInteger, and the accumulator of QLinearMatMul / QGemm / QLinearConv: exact int32 "
          "`sum (a - za)(b - zb)` (wrapping); zero points from the operand types, b's per output channel "
          "(its last axis) when it is quantized per axis.",
          (_one("a", Q8), _one("b", Q8)), ResultSpec(("i32",), quantized=False),
          infer=rules.infer_matmul_int, check=lambda operands, attrs, result: _check_matmul_int(operands)),
    OpDef("bias_add", "The int32 bias of QGemm / QLinearConv added to the accumulator: `acc + bias` per output "
          "channel (the last axis), wrapping like the kernel's int32 addition.",
          (_one("acc", ("i32",), False), _one("bias", ("i32",), False)), ResultSpec(("i32",), quantized=False),
          infer=lambda operands, attrs: _infer_bias_add(operands)),
    OpDef("requantize", "onnxruntime's requantisation of an int32 accumulator (MlasRequantizeOutput): "
          "`y = sat(RNE(clamp(f32(f32(acc) * multiplier), qmin - zy, qmax - zy)) + zy)`, the multiplier per "
          "tensor or per output channel (the last axis).",
          (_one("acc", ("i32",), False),), ResultSpec(Q8, quantized=True),
          (AttrSpec("multiplier", "f32s", doc="M as onnxruntime computes it: one, or one per output channel"),),
          check=lambda operands, attrs, result: _check_requantize(operands[0], attrs, result)),
    OpDef("matmul", "Float32 MatMul as onnxruntime computes it (MLAS SGEMM), numpy matmul broadcasting.",
          (_one("a", ("f32",)), _one("b", ("f32",))), ResultSpec(("f32",)),
          (AttrSpec("b_prepacked", "int", required=False, choices=(0, 1),
                    doc="1 when onnxruntime's B is an initializer (MLAS prepacks it: a different K "
                        "blocking, hence rounding); absent or 0: B is computed at run time"),),
          infer=rules.infer_matmul),
    OpDef("qadd", "QLinearAdd (numpy broadcasting): the onnxruntime kernel or the float DQ -> Add -> Q path.",
          (_one("a", Q8, True), _one("b", Q8, True)), ResultSpec(Q8, quantized=True),
          (_MODE,
           AttrSpec("ra", "f32", required=False, doc="qlinear: f32(sa / sc)"),
           AttrSpec("rb", "f32", required=False, doc="qlinear: f32(sb / sc)"),
           AttrSpec("fixed", "f32", required=False, doc="qlinear: f32(zc) - (ra * za + rb * zb)")),
          check=rules.check_qadd),
    OpDef("qmul", "QLinearMul (numpy broadcasting): the onnxruntime kernel or the float DQ -> Mul -> Q path.",
          (_one("a", Q8, True), _one("b", Q8, True)), ResultSpec(Q8, quantized=True),
          (_MODE, AttrSpec("multiplier", "f32", required=False, doc="qlinear: f32(f32(sa * sb) / sc)")),
          check=rules.check_qmul),
    OpDef("qsoftmax", "QLinearSoftmax along `axis`: exp table, sequential float32 row sum, floor(1 / ys).",
          (_one("x", Q8, True),), ResultSpec(Q8, quantized=True), (AttrSpec("axis", "int"),),
          check=rules.check_qsoftmax),
    OpDef("table", "A unary function of the code: `y = table[x as byte]` (int8 codes index by their byte, "
          "i.e. `x & 0xFF`).",
          (_one("x", Q8, True),), ResultSpec(Q8, quantized=True),
          (AttrSpec("table", "tensor", doc="256 codes of the result dtype"),), check=rules.check_table),
    OpDef("onnx_chain", "An elementwise chain of ONNX nodes on one 8-bit tensor (DQ -> float ops -> Q, "
          "QLinearAdd with constants, ...), exactly as onnxruntime runs it (no optimisation); `tabulate` "
          "turns it into a `table`.",
          (_one("x", Q8, True),), ResultSpec(Q8, quantized=True),
          (AttrSpec("model", "str", doc="the chain as an ONNX model in onnx's textual syntax (onnx.printer): "
                                        "one input of the operand's type, one output of the result's, "
                                        "constants inline"),),
          check=lambda operands, attrs, result: _check_same_shape(operands[0], result)),
    OpDef("layernorm", "onnxruntime's CPU LayerNormalization over axes `axis..rank-1` (sequential float32 sums).",
          (_one("x", ("f32",)), _one("gamma", ("f32",)), OperandSpec("beta", ("f32",), None, "optional")),
          ResultSpec(("f32",)), (AttrSpec("axis", "int"), AttrSpec("epsilon", "f32")),
          infer=rules.infer_layernorm),
    _float_binary("add", "Float32 addition, numpy broadcasting."),
    _float_binary("sub", "Float32 subtraction, numpy broadcasting."),
    _float_binary("mul", "Float32 multiplication, numpy broadcasting."),
    _float_binary("div", "Float32 division, numpy broadcasting."),
    _float_binary("pow", "Float32 power as onnxruntime computes it, numpy broadcasting."),
    _float_unary("sqrt", "Float32 square root."),
    _float_unary("erf", "Float32 error function as onnxruntime computes it."),
    _float_unary("tanh", "Float32 hyperbolic tangent as onnxruntime computes it."),
    _float_unary("exp", "Float32 exponential as onnxruntime computes it."),
    OpDef("softmax", "Float32 Softmax along `axis` as onnxruntime's MLAS computes it (MlasComputeSoftmax).",
          (_one("x", ("f32",)),), ResultSpec(("f32",)), (AttrSpec("axis", "int"),), infer=rules.infer_softmax),
    OpDef("reduce_mean", "ReduceMean over `axes` as onnxruntime computes it.",
          (_one("x", ("f32",)),), ResultSpec(("f32",)),
          (AttrSpec("axes", "ints"), AttrSpec("keepdims", "int", choices=(0, 1))),
          infer=rules.infer_reduce_mean),
    _layout("reshape", "Row-major reshape to the result type's shape.", (), check=rules.check_reshape),
    _layout("transpose", "Permute axes: result axis i is operand axis `perm[i]`.",
            (AttrSpec("perm", "ints"),), infer=rules.infer_transpose),
    _layout("gather", "Gather along `axis` with an index tensor (ONNX Gather; indices in range, non-negative).",
            (AttrSpec("axis", "int"),), infer=rules.infer_gather,
            operands=(_one("data", ANY), _one("indices", INDEX, quantized=False))),
    _layout("slice", "Take `range(starts[i], ends[i], steps[i])` along every axis i (normalized, in range).",
            (AttrSpec("starts", "ints"), AttrSpec("ends", "ints"), AttrSpec("steps", "ints")),
            infer=rules.infer_slice),
    _layout("concat", "Concatenate along `axis`; every operand has the same dtype and quantization.",
            (AttrSpec("axis", "int"),), infer=rules.infer_concat,
            operands=(OperandSpec("inputs", ANY, None, "variadic"),)),
    _layout("squeeze", "Remove the size-1 axes `axes`.", (AttrSpec("axes", "ints"),), infer=rules.infer_squeeze),
    _layout("unsqueeze", "Insert size-1 axes at positions `axes` of the result.",
            (AttrSpec("axes", "ints"),), infer=rules.infer_unsqueeze),
    _layout("flatten", "ONNX Flatten: a 2-D result `[prod(shape[:axis]), prod(shape[axis:])]`.",
            (AttrSpec("axis", "int"),), infer=rules.infer_flatten),
)

# Backend annotations: optional attributes in which backend passes record their decisions for the
# code generator. They never change what an op computes (the interpreter ignores them).
# Graph inputs accept ANNOTATIONS too (their buffers are planned like any op result's).
ANNOTATIONS: tuple[AttrSpec, ...] = (
    AttrSpec("chain", "int", required=False, minimum=0,
             doc="ops with the same number form one on-chip chain, in graph order; the first is its head"),
    AttrSpec("dram_offset", "int", required=False, minimum=0,
             doc="DRAM byte offset of the result buffer (activations)"),
    AttrSpec("layout", "str", required=False, choices=("own", "view", "copy", "operand-order", "backward"),
             doc="where the result lives in DRAM (fold-layout): its own row-major buffer, a view of the operand "
                 "(a layout op, no instructions), a copy (a layout op materialised by DMA), its own buffer in the "
                 "operand's memory order, or written in the layout the single-use layout chain after it (or its "
                 "concat slot) needs"),
)
MATMUL_ANNOTATIONS: tuple[AttrSpec, ...] = (
    AttrSpec("tile_m", "int", required=False, minimum=1, doc="output tile rows"),
    AttrSpec("tile_n", "int", required=False, minimum=1, doc="output tile columns"),
    AttrSpec("tile_k", "int", required=False, minimum=1, doc="K step of the tile loop"),
    AttrSpec("resident", "str", required=False, choices=("none", "a", "b", "ab", "b-all", "a-rows"),
             doc="which operands stay on chip across tiles (`b-all`: every N panel of B at once, "
                 "output tiles row tile by row tile; `a-rows`: row tile by row tile, each row tile "
                 "of A kept for every N panel, B streamed)"),
)
MATMUL_KINDS = ("qmatmul", "matmul", "matmul_int")


def _annotated(op: OpDef) -> OpDef:
    extra = ANNOTATIONS + (MATMUL_ANNOTATIONS if op.name in MATMUL_KINDS else ())
    return dataclasses.replace(op, attrs=op.attrs + extra)


OPS = tuple(_annotated(op) for op in OPS)
OP_TABLE: dict[str, OpDef] = {op.name: op for op in OPS}


def op_def(kind: str) -> OpDef:
    """The table entry of an op kind; raises `IRError` for an unknown op."""
    if kind not in OP_TABLE:
        raise IRError(f"unknown op '{kind}'")
    return OP_TABLE[kind]


def normalize_attrs(kind: str, attrs: dict[str, Any]) -> dict[str, Any]:
    """Attributes with Python/numpy spellings turned into the normalized form of their kind.

    Unknown attributes are passed through untouched: the verifier reports them.
    """
    definition = op_def(kind)
    normalized = {}
    for name, value in attrs.items():
        spec = definition.attr(name)
        normalized[name] = _normalize_attr_value(spec.kind, value) if spec else value
    return normalized


def _check_dtype(what: str, t: TensorType, dtypes: tuple[str, ...], quantized: bool | None) -> None:
    if t.dtype not in dtypes:
        raise IRError(f"{what} has dtype {t.dtype}, expected {' or '.join(dtypes)}")
    if quantized is True and t.quant is None:
        raise IRError(f"{what} must be quantized (its type has no q<...>)")
    if quantized is False and t.quant is not None:
        raise IRError(f"{what} must not be quantized")


def _describe_arity(low: int, high: int | None) -> str:
    if high is None:
        return f"at least {low}"
    return str(low) if low == high else f"{low} to {high}"


def check_attrs(specs: tuple[AttrSpec, ...], attrs: dict[str, Any]) -> None:
    """Attributes against their specs: none unknown, required ones present, kinds and values."""
    known = {spec.name for spec in specs}
    unknown = sorted(name for name in attrs if name not in known)
    if unknown:
        raise IRError(f"unknown attribute '{unknown[0]}' (it takes: "
                      f"{', '.join(a.name for a in specs) or 'none'})")
    for spec in specs:
        if spec.name not in attrs:
            if spec.required:
                raise IRError(f"missing required attribute '{spec.name}'")
            continue
        value = attrs[spec.name]
        accepts, description = ATTR_KINDS[spec.kind]
        if not accepts(value):
            raise IRError(f"attribute '{spec.name}' must be a {description}, got {value!r}")
        if spec.choices and value not in spec.choices:
            raise IRError(f"attribute '{spec.name}' is {value!r}, expected one of "
                          f"{', '.join(repr(c) for c in spec.choices)}")
        if spec.minimum is not None and value < spec.minimum:
            raise IRError(f"attribute '{spec.name}' is {value}, must be at least {spec.minimum}")


def normalize_input_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """Graph-input annotations (`ANNOTATIONS`) in normalized form; unknown names pass through."""
    specs = {spec.name: spec for spec in ANNOTATIONS}
    return {name: _normalize_attr_value(specs[name].kind, v) if name in specs else v for name, v in attrs.items()}


def check_signature(kind: str, operand_types: list[TensorType], attrs: dict[str, Any]) -> OpDef:
    """Check operand count and dtypes and the attributes against the table; returns the entry."""
    definition = op_def(kind)
    low, high = definition.arity_range()
    if len(operand_types) < low or (high is not None and len(operand_types) > high):
        raise IRError(f"takes {_describe_arity(low, high)} operand(s), got {len(operand_types)}")
    for i, t in enumerate(operand_types):
        spec = definition.operand_spec(i)
        _check_dtype(f"operand {i} ({spec.name})", t, spec.dtypes, spec.quantized)
    check_attrs(definition.attrs, attrs)
    return definition


def check_op(kind: str, operand_types: list[TensorType], attrs: dict[str, Any], result: TensorType) -> None:
    """Every op-local rule of the table: signature, result dtype, inference and check rules."""
    definition = check_signature(kind, operand_types, attrs)
    _check_dtype("the result", result, definition.result.dtypes, definition.result.quantized)
    if definition.infer is not None:
        rules.expect_same(result, definition.infer(operand_types, attrs))
    if definition.check is not None:
        definition.check(operand_types, attrs, result)


def infer_result_type(kind: str, operand_types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    """The result type from the op's inference rule; an op without one needs an explicit type."""
    definition = check_signature(kind, operand_types, attrs)
    if definition.infer is None:
        raise IRError(f"op '{kind}' has no result type inference: give its result type")
    return definition.infer(operand_types, attrs)
