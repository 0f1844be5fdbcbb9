"""ONNX files: export from PyTorch with a dynamic batch axis (`export`), FP16 copies through ModelOpt AutoCast
(`precision`), INT8 Q/DQ copies through ModelOpt post-training quantization (`quantize`), and running ModelOpt
quietly (`quiet`)."""
