"""Which tensor of the user's ONNX model each tensor of onnxruntime's optimised graph holds.

The IR keeps ONNX tensor names so that the interpreter can be compared with onnxruntime tensor
by tensor. Most tensors of the optimised graph keep their names, but onnxruntime invents some:
- the S8->U8 rewrite gives every rewritten Q output a new name (`qdq_s8_to_u8_quant_token_N`);
- a fused node (QLinearMatMul for DQ -> MatMul -> Q, a Reshape whose Q/DQ were dropped) writes
  the tensor of the Q that followed it in the user's model;
- duplicated DQ nodes (`NAME/duplicated_token_N`) write copies of one DQ output.
onnxruntime keeps node names, so the rule is: a new tensor written by node N (named like node O
of the user's model, ignoring a `/duplicated...` suffix) holds O's output, or, when O is not
itself a QuantizeLinear and its output went into exactly one QuantizeLinear, that Q's output.
A new tensor of a node onnxruntime inserted itself (QDQ propagation adds Q nodes that the
user's model does not have) holds no user tensor; it is named after that node.
Invariant: the map never gives two optimised tensors the same name, and never a name the
optimised graph already uses; a tensor with no rule keeps onnxruntime's name.

Where the S8->U8 rewrite applied, the IR value is uint8 with zero point zp + 128 while the user's
tensor is int8: the codes differ by exactly 128 and dequantize to identical floats.
"""

from __future__ import annotations

import onnx

DUPLICATE_SUFFIX = "/duplicated"


def original_tensor_names(original: onnx.GraphProto, optimized: onnx.GraphProto) -> dict[str, str]:
    """Optimised-graph tensor name -> name of the user's tensor it holds (only renamed ones)."""
    original_nodes = {n.name: n for n in original.node if n.name}
    original_tensors = _tensor_names(original)
    taken = _tensor_names(optimized)
    q_consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in original.node:
        if node.op_type == "QuantizeLinear":
            q_consumers.setdefault(node.input[0], []).append(node)
    consumers_count: dict[str, int] = {}
    for node in original.node:
        for name in node.input:
            consumers_count[name] = consumers_count.get(name, 0) + 1

    renamed: dict[str, str] = {}
    for node in optimized.node:
        source = original_nodes.get(node.name.split(DUPLICATE_SUFFIX)[0])
        for index, tensor in enumerate(node.output):
            if not tensor or tensor in original_tensors:
                continue
            if source is None or index >= len(source.output):
                if node.name and index == 0 and node.name not in taken:
                    renamed[tensor] = node.name
                    taken.add(node.name)
                continue
            name = source.output[index]
            quantizers = q_consumers.get(name, [])
            if source.op_type != "QuantizeLinear" and len(quantizers) == 1 and consumers_count.get(name) == 1:
                name = quantizers[0].output[0]
            if name in taken:
                continue
            renamed[tensor] = name
            taken.add(name)
    return renamed


def _tensor_names(graph: onnx.GraphProto) -> set[str]:
    names = {i.name for i in graph.input} | {o.name for o in graph.output}
    names |= {i.name for i in graph.initializer}
    names |= {o for n in graph.node for o in n.output if o}
    return names
