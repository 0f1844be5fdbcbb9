"""ONNX files: export from PyTorch with a dynamic batch axis (`export`), FP16 copies through ModelOpt AutoCast
(`precision`), INT8 Q/DQ copies through ModelOpt post-training quantization (`quantize`), running ModelOpt
quietly (`quiet`), and the mixed-precision search (`search`, with the CPU's FP16 emulation in `fp16_emulation`):
which few nodes to keep in higher precision to meet a logit SQNR target; `fragile` holds small synthetic networks
with one fragile layer each, to teach and test that search."""
