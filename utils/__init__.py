"""The TensorRT workbook's helpers: PyTorch -> ONNX -> TensorRT, and how far TensorRT drifts from ONNX Runtime.

One module per concern; heavy libraries (torch, onnx, TensorRT, pycuda) are imported inside functions, so
`import utils` works on any machine.
"""

from utils.errors import WorkbookError

__version__ = "0.1.0"
__all__ = ["WorkbookError", "__version__"]
