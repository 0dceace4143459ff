"""The ONNX frontend: `import_model(path_or_model) -> compiler.ir.graph.Graph`.

It lowers the kernels that onnxruntime (CPU, default options) runs for a quantized ViT into IR
ops carrying their quantization parameters and kernel constants, unfused where the backend fuses
(a quantized matmul as matmul_int -> bias_add -> requantize, an elementwise chain as onnx_chain;
the passes fuse-requant and tabulate fuse them). Module map:
  loading         load, onnx.checker, shape inference, static shapes
  ort_optimizer   onnxruntime's optimised graph (what the frontend lowers) and what it contains
  names           the user's tensor names for tensors onnxruntime renamed
  patterns        node groups that become one op (elementwise chains, float-path qadd/qmul)
  tables          elementwise chains found and written as ONNX text (`onnx_chain`)
  lowering        the lowering state (values, lazy DequantizeLinear, constants)
  quantized_ops / float_ops / layout_ops   one handler per ONNX op type
  kernel_constants  the float32 constants onnxruntime's kernels derive
  importer        import_model and the handler table
"""

from compiler.frontend.importer import ImportedModel, import_model, import_model_with_tensors

__all__ = ["import_model", "import_model_with_tensors", "ImportedModel"]
