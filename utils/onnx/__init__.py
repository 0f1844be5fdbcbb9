"""ONNX files: export from PyTorch with a dynamic batch axis (`export`), and reduced-precision copies (`precision`)."""
