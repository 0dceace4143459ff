"""The vitc compiler: ONNX frontend, IR, passes, codegen, pipeline and command line."""
