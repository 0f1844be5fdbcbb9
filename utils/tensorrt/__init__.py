"""TensorRT, from ONNX to a running engine, with every version difference in one module.

`api`: which TensorRT is installed (8.6, 10.x, 11.x or TensorRT-RTX) and what differs between them;
`logger`: the one logger TensorRT is given; `build`: ONNX -> engine (profile, workspace, precision, TF32,
engine cache, lock); `timing_cache`: the timing cache, keyed by TensorRT and GPU; `engine_file`: the sidecar,
the checks before loading, and loading; `runner`: buffers and `execute_async_v3`; `cuda_binding`: pycuda or
cuda-python behind one interface; `cuda_memory`: pinned and device memory on either; `cuda_graph`: CUDA-graph capture;
`inspect`: the inspector's JSON; `engine_report`: per-layer precision and the diff of two engines; `trtexec`: its
command and summary. Nothing imports TensorRT, pycuda or cuda-python until it is used.
"""
