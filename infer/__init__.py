"""Torch-free counting over GeoTIFF scenes with an ONNX model."""
