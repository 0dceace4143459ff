"""Let onnxruntime decide which kernels run: its optimised graph is what the frontend lowers.

vitc must reproduce what onnxruntime (CPU provider, default session options = ORT_ENABLE_ALL)
computes, and which DQ -> op -> Q groups onnxruntime fuses depends on rules that change between
versions and CPUs. Rather than re-implementing those rules, the frontend asks onnxruntime for
its optimised graph (`SessionOptions.optimized_model_filepath`) and lowers the kernels it
contains one by one.

The level used is ORT_ENABLE_EXTENDED. What onnxruntime 1.32 does on x86-64 (AVX512-VNNI),
read from the optimised graphs of every vit-micro variant (tests/compiler/frontend pin it):
- EXTENDED and ALL select the same kernels. ALL only adds layout work for QLinearConv (it becomes
  com.microsoft QLinearConv in NHWC between two Transposes), which does not change any value;
  the saved ALL graph is also marked hardware specific. Running the EXTENDED graph with all
  optimisations disabled gives outputs bit-identical to the original model at default options
  (tested for every variant), so lowering the EXTENDED graph mirrors what runs.
- Constant folding is done: the Shape -> Gather -> Unsqueeze -> Concat subgraphs that feed
  Reshape arrive as int64 initializers.
- QDQ, uint8 activations: every MatMul -> QLinearMatMul, Gemm -> QGemm, Conv -> QLinearConv,
  Add -> QLinearAdd, Mul -> QLinearMul, Softmax -> QLinearSoftmax, Concat -> QLinearConcat; Q/DQ
  pairs with equal parameters around Reshape / Transpose / Gather / Squeeze / Unsqueeze, and
  also Slice and Flatten (NUMERICS.md says Slice is never fused: not so in 1.32), are dropped. LayerNormalization,
  Div, Erf, Tanh, Pow, Sqrt, Sub, ReduceMean stay float between DQ and Q.
- QDQ, int8 activations: the S8->U8 rewrite turns a Q -> DQ pair with int8 zero point into uint8
  (zp + 128) only where the Q output feeds one DQ; its tensors get new names
  (`qdq_s8_to_u8_quant_token_N`, restored by `compiler.frontend.names`). Int8 activations that
  were not rewritten block fusion: a MatMul whose input is such a tensor (a LayerNorm output that
  feeds Q, K and V) stays a float MatMul; an Add or Mul with an int8 input (the residual stream,
  a bias or position-embedding constant) stays a float Add/Mul between DQ and Q; Concat stays
  float. Softmax, Gemm, Conv and the attention MatMuls (uint8 after the rewrite) are fused.
- QOperator: the quantiser already wrote QLinearMatMul / QGemm / QLinearConv / QLinearAdd /
  QLinearMul / QLinearSoftmax / QLinearConcat; onnxruntime keeps them (int8 kernels run as int8)
  and only folds constants. Float ops (LayerNormalization, Erf, ...) sit between DQ and Q nodes.
- QOperator int8 after quant_pre_process: onnxruntime's QDQ propagation inserts QuantizeLinear
  nodes the model does not have (`..._q`, "Inserted by QDQPropagationTransformer") and the S8->U8
  rewrite then applies to them.
- No Gelu / LayerNorm / Attention fusion happens in any variant: the Q/DQ nodes between the
  float ops prevent it. (At opset >= 20, quant_pre_process itself writes an ONNX `Gelu` op into
  the model; it sits between DQ and Q and becomes a table like any elementwise chain.)
- Models from the PyTorch dynamo exporter guard Softmax with IsNaN/Where; onnxruntime then keeps
  a float Softmax (QDQ int8: lowered to the float `softmax` op) or an IsNaN node (QOperator).
"""

from __future__ import annotations

import pathlib
import tempfile

import onnx
import onnxruntime as ort

from compiler.frontend.errors import FrontendError
from compiler.reference.kernels.onnx_chain import unoptimized_session

OPTIMIZATION_LEVEL = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED


def optimized_by_onnxruntime(model: onnx.ModelProto, serialized: bytes | None = None) -> onnx.ModelProto:
    """onnxruntime's optimised graph of `model` (CPU provider, ORT_ENABLE_EXTENDED);
    `serialized`: the model's bytes when the caller has them (saves serialising it again)."""
    with tempfile.TemporaryDirectory(prefix="vitc-ort-") as tmp:
        out = pathlib.Path(tmp) / "optimized.onnx"
        options = ort.SessionOptions()
        options.graph_optimization_level = OPTIMIZATION_LEVEL
        options.optimized_model_filepath = str(out)
        options.log_severity_level = 3
        # the session is only made for the graph it saves, which is the same without prepacking
        # the kernels' weights (checked on every zoo model and fixture): ~0.1 s less on vit-base
        options.add_session_config_entry("session.disable_prepacking", "1")
        # nor without a thread pool, which the session would start and never use (the same
        # graph with one thread, checked on every vit-micro and deit-tiny variant): ~40 ms of
        # CPU less on deit-tiny
        options.intra_op_num_threads = 1
        try:
            ort.InferenceSession(serialized or model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own exception types for a bad model
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise FrontendError(f"model '{model.graph.name}': onnxruntime cannot load it: {first}") from None
        return onnx.load(str(out))


def run_without_optimization(model: onnx.ModelProto, inputs: dict) -> list:
    """Run `model` exactly as written (ORT_DISABLE_ALL): the kernels of an optimised graph."""
    return unoptimized_session(model).run(None, inputs)


def all_tensors(optimized: onnx.ModelProto, inputs: dict) -> dict:
    """Every tensor onnxruntime computes in its optimised graph, by name.

    Exposing a tensor of the user's model as an extra output can stop onnxruntime fusing the
    group around it; exposing tensors of the already optimised graph, run without
    optimisation, cannot. With `import_model_with_tensors(...).onnx_tensor` this gives the
    onnxruntime tensor behind each IR value.
    """
    model = onnx.ModelProto()
    model.CopyFrom(optimized)
    exposed = {o.name for o in model.graph.output}
    for node in model.graph.node:
        for name in node.output:
            if name and name not in exposed:
                model.graph.output.append(onnx.ValueInfoProto(name=name))
                exposed.add(name)
    session = unoptimized_session(model)
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, inputs)))

