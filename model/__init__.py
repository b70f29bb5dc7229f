"""Detector construction, ONNX export and parity checks (torch world)."""
