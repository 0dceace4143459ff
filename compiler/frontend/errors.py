"""The error the frontend raises for a model it cannot import.

`FrontendError` is a `VitcError`, so `vitc` prints it as one line. Build messages with
`node_error` so that every one names the ONNX node, its op type and the reason.
"""

import onnx

from isa.errors import VitcError


class FrontendError(VitcError):
    """An ONNX model (or one node of it) that the frontend cannot turn into IR."""


def node_error(node: onnx.NodeProto, reason: str) -> FrontendError:
    """`node 'NAME' (OP_TYPE): reason`, the one shape of every per-node message.

    A node without a name (onnxruntime names none of the nodes it makes when it decomposes an
    op) is named by the tensor it writes, which is the user's tensor."""
    domain = f"{node.domain}." if node.domain not in ("", "ai.onnx") else ""
    name = f"'{node.name}'" if node.name else f"writing '{node.output[0]}'" if node.output else "(unnamed)"
    return FrontendError(f"node {name} ({domain}{node.op_type}): {reason}")
