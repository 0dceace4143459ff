"""Numpy kernels that reproduce onnxruntime 1.32's CPU kernels bit for bit, one module per family.

Every kernel takes numpy arrays and plain Python/numpy scalars (quantization parameters already
unpacked), computes step by step in float32 (or float64/int64 where onnxruntime does), and
returns a new array. What each kernel's tests established about onnxruntime is written in the
kernel's docstring.
"""
