"""`%%skip_unless CAPABILITY`: a notebook cell that runs only where this machine can run it.

Load it once per notebook with `%load_ext utils.notebook`. A cell that starts with, for example,

    %%skip_unless tensorrt-run

runs exactly as it is written where TensorRT engines can run, and elsewhere prints one line,
`SKIPPED (needs tensorrt-run): <the reason from utils.environment>`, and runs nothing. The lesson code
stays unindented and reads like the real thing; CI executes every cell either way.

`show_figure(figure, "topic/name.png")` shows a matplotlib figure and keeps its PNG under the build folder's figures/.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any


def _pytorch_cuda() -> str | None:
    from utils.environment import pytorch_gpu_unavailable

    return pytorch_gpu_unavailable()


def _tensorrt_build() -> str | None:
    from utils.environment import engine_build_unavailable

    return engine_build_unavailable()


def _tensorrt_run() -> str | None:
    from utils.environment import engine_execution_unavailable

    return engine_execution_unavailable()


def _tensorrt_run_pytorch() -> str | None:
    """Engines run here and PyTorch can use the GPU: for cells that hand TensorRT PyTorch's CUDA tensors and events."""
    return _tensorrt_run() or _pytorch_cuda()


def _polygraphy_tensorrt_run() -> str | None:
    """Engines run here, and Polygraphy's TensorRT runner can load the CUDA runtime (its own wrapper looks for libcudart)."""
    from utils.compare.runs import polygraphy_cuda_unavailable

    return _tensorrt_run() or polygraphy_cuda_unavailable()


def _binding_run(binding: str) -> Callable[[], str | None]:
    """Engines run here and `binding` ("pycuda", "cuda-python") is installed: for cells that call it directly."""

    def reason() -> str | None:
        from utils.errors import WorkbookError
        from utils.tensorrt.cuda_binding import binding_name

        missing_run = _tensorrt_run()
        if missing_run is not None:
            return missing_run
        try:
            binding_name(binding)
        except WorkbookError as exc:  # says what to install
            return str(exc)
        return None

    return reason


# Capability -> function giving the reason it is missing (None where it is there).
CAPABILITIES: dict[str, Callable[[], str | None]] = {
    "pytorch-cuda": _pytorch_cuda,
    "tensorrt-build": _tensorrt_build,
    "tensorrt-run": _tensorrt_run,
    "tensorrt-run-pytorch": _tensorrt_run_pytorch,
    "polygraphy-tensorrt-run": _polygraphy_tensorrt_run,
    "tensorrt-run-pycuda": _binding_run("pycuda"),
    "tensorrt-run-cuda-python": _binding_run("cuda-python"),
}


def missing(capability: str) -> str | None:
    """Why `capability` is missing here, or None."""
    from utils.errors import WorkbookError

    try:
        check = CAPABILITIES[capability]
    except KeyError:
        raise WorkbookError(f"unknown capability {capability!r}; use one of: {', '.join(CAPABILITIES)}") from None
    return check()


def skip_message(capability: str, reason: str) -> str:
    return f"SKIPPED (needs {capability}): {reason}"


def run_cell(shell: Any, cell: str) -> Any:
    """Execute `cell` in the notebook's namespace as IPython would: magics transformed, the value of a final
    expression returned (and so displayed), exceptions raised once, with their own traceback."""
    source = shell.transform_cell(cell)
    tree = ast.parse(source)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    namespace = shell.user_ns
    exec(compile(tree, "<cell>", "exec"), namespace)  # noqa: S102 - it is the learner's own cell
    if last is not None:
        return eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace)  # noqa: S307
    return None


def skip_unless(line: str, cell: str) -> Any:
    """The cell magic: `%%skip_unless CAPABILITY` (one of `CAPABILITIES`: pytorch-cuda, tensorrt-build, tensorrt-run,
    polygraphy-tensorrt-run for Polygraphy's TensorRT runner, tensorrt-run-pycuda / tensorrt-run-cuda-python for
    cells that call that CUDA binding themselves, and tensorrt-run-pytorch for cells that give TensorRT PyTorch's CUDA
    tensors)."""
    from IPython import get_ipython

    capability = line.strip()
    reason = missing(capability)
    if reason is not None:
        print(skip_message(capability, reason))
        return None
    return run_cell(get_ipython(), cell)


def show_figure(figure: Any, name: str) -> None:
    """Show a matplotlib figure in the notebook as the PNG it is saved to, `name` under the build folder's figures/
    ("precision/photos.png"): `make run` keeps every figure there, beside the executed notebooks. Returns None, as
    `display` does, so that a cell ending with it shows the figure alone."""
    from IPython.display import Image, display

    from utils.artifacts import figures_dir
    from utils.files import save_figure

    topic, _, file_name = name.rpartition("/")
    display(Image(filename=str(save_figure(figure, figures_dir(topic) / file_name))))


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magic_function(skip_unless, magic_kind="cell", magic_name="skip_unless")
