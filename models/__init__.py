"""The model zoo: ViT ONNX graphs in the patterns real exporters emit, quantized with
onnxruntime's own quantizer, built on demand into a cache; plus committed real-export fixtures
and vit-digits, a ViT trained on scikit-learn's digits.

  zoo.py            public API: MODEL_NAMES, VARIANTS, float_model_path, quantized_model_path, sample_input
  vit_config.py     the named sizes (ViTConfig) and graph variations (BuildOptions)
  vit_builder.py    the float ViT graph, in the exporter patterns
  graph_builder.py  writes ONNX nodes and initializers with exporter-style names
  quantization.py   QuantVariant and quantize_static, with what it emits per variant
  cache.py          the on-disk cache, keyed by every build parameter, written atomically
  fixtures/         real PyTorch / transformers exports, quantized (make_fixtures.py)
  digits/           vit-digits models, test split and training script (train_vit_digits.py)
"""
