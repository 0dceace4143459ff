"""The model zoo: ViT ONNX graphs in the patterns real exporters emit, quantized with
onnxruntime's own quantizer, built on demand into a cache; plus committed real-export fixtures."""
