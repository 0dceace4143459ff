"""The reference interpreter: numpy kernels that reproduce onnxruntime 1.32's CPU kernels bit for
bit, an interpreter that runs an IR graph with them, and the tensor-by-tensor comparison of an
imported model against onnxruntime.

- `kernels/`: one module per kernel family (pure functions on numpy arrays).
- `interpreter.run_graph(graph, inputs, keep_all=False)`: executes every IR op.
- `compare`: runs onnxruntime with intermediate tensors exposed and compares them with the
  interpreter's values, per tensor and per element.
"""
