"""`%%skip_unless`: the cell runs unchanged where the capability is present, and prints why not elsewhere."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell

from utils import notebook
from utils.errors import WorkbookError


@pytest.fixture()
def shell(monkeypatch):
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "utils.notebook")
    ip.user_ns.pop("ran", None)
    return ip


def test_a_cell_needing_a_missing_capability_prints_the_reason_and_runs_nothing(shell, monkeypatch, capsys):
    monkeypatch.setitem(notebook.CAPABILITIES, "pytorch-cuda", lambda: "no CUDA GPU visible")
    result = shell.run_cell("%%skip_unless pytorch-cuda\nran = True\n1 / 0\n")
    assert result.success and "ran" not in shell.user_ns
    assert capsys.readouterr().out.strip() == "SKIPPED (needs pytorch-cuda): no CUDA GPU visible"


def test_where_the_capability_is_present_the_cell_runs_as_written(shell, monkeypatch):
    monkeypatch.setitem(notebook.CAPABILITIES, "pytorch-cuda", lambda: None)
    result = shell.run_cell("%%skip_unless pytorch-cuda\nimport math\nran = math.sqrt(16)\n%time ran * 2\n")
    assert result.success and shell.user_ns["ran"] == 4.0
    assert result.result == 8.0  # the last expression is the cell's value, as in an ordinary cell


def test_errors_in_a_running_cell_fail_the_cell(shell, monkeypatch):
    monkeypatch.setitem(notebook.CAPABILITIES, "tensorrt-run", lambda: None)
    result = shell.run_cell("%%skip_unless tensorrt-run\nassert 1 == 2, 'the engine disagrees'\n")
    assert not result.success and isinstance(result.error_in_exec, AssertionError)


def test_the_capabilities_are_the_environment_checks(monkeypatch):
    from utils import environment

    monkeypatch.setattr(environment, "engine_execution_unavailable", lambda: "no GPU here")
    assert notebook.missing("tensorrt-run") == "no GPU here" == notebook.missing("tensorrt-run-pytorch")
    monkeypatch.setattr(environment, "engine_execution_unavailable", lambda: None)
    monkeypatch.setattr(environment, "pytorch_gpu_unavailable", lambda: "a CPU-only PyTorch")
    assert notebook.missing("tensorrt-run") is None and notebook.missing("tensorrt-run-pytorch") == "a CPU-only PyTorch"
    with pytest.raises(WorkbookError, match="unknown capability 'cuda'; use one of: pytorch-cuda, tensorrt-build, tensorrt-run, "
                                            "tensorrt-run-pytorch, polygraphy-tensorrt-run, tensorrt-run-pycuda, "
                                            "tensorrt-run-cuda-python"):
        notebook.missing("cuda")


def test_polygraphys_runner_also_needs_the_cuda_runtime_it_loads(monkeypatch):
    from utils import environment
    from utils.compare import runs

    monkeypatch.setattr(environment, "engine_execution_unavailable", lambda: None)
    monkeypatch.setattr(runs, "polygraphy_cuda_unavailable", lambda: "Polygraphy cannot load libcudart")
    assert notebook.missing("tensorrt-run") is None
    assert notebook.missing("polygraphy-tensorrt-run") == "Polygraphy cannot load libcudart"


def test_cells_that_call_one_cuda_binding_need_that_binding(monkeypatch):
    """03's call-by-call cells use pycuda or cuda-python themselves; engines may run here with the other one only."""
    from utils import environment

    monkeypatch.setattr(environment, "engine_execution_unavailable", lambda: None)
    monkeypatch.delenv("WORKBOOK_CUDA_BINDING", raising=False)
    monkeypatch.setattr("utils.tensorrt.cuda_binding.installed_bindings", lambda: ["cuda-python"])
    assert notebook.missing("tensorrt-run-cuda-python") is None
    assert notebook.missing("tensorrt-run-pycuda").startswith("the CUDA binding pycuda is not installed")
    monkeypatch.setattr(environment, "engine_execution_unavailable", lambda: "no GPU here")
    assert notebook.missing("tensorrt-run-cuda-python") == "no GPU here"


def test_notebook_03_runs_an_engine_by_hand_with_either_binding():
    """Notebook 03's cells that call a CUDA binding each say which (`tensorrt-run-cuda-python`/`-pycuda`) and come in
    twins that define the same names; every other engine cell, exercise 03.4 included, uses only those names and
    TensorRT's, so a learner with cuda-python alone (the default install) or pycuda alone can run all of them."""
    import ast
    import json
    from pathlib import Path

    notebook_path = Path(__file__).resolve().parent.parent / "notebooks" / "03_inference.ipynb"
    cells = ["".join(c["source"]) for c in json.loads(notebook_path.read_text(encoding="utf-8"))["cells"]
             if c["cell_type"] == "code"]
    defined: dict[str, set[str]] = {"cuda-python": set(), "pycuda": set()}
    used_by_engine_cells: set[str] = set()
    for source in cells:
        first, _, body = source.partition("\n")
        capability = first.split()[1] if first.startswith("%%skip_unless") else None
        code = body if capability else source
        tree = ast.parse("\n".join(line for line in code.splitlines() if not line.lstrip().startswith("%")))
        loads = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        stores = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}  # what the cell leaves defined
        stores |= {n.id for node in tree.body if isinstance(node, ast.Assign) for target in node.targets
                   for n in ast.walk(target) if isinstance(n, ast.Name)}
        if capability in ("tensorrt-run-cuda-python", "tensorrt-run-pycuda"):
            defined[capability.removeprefix("tensorrt-run-")] |= stores
        else:
            assert not {"cuda", "cudart"} & loads, f"a cell calls a CUDA binding without saying which:\n{source}"
            if capability == "tensorrt-run":
                used_by_engine_cells |= loads
    shared = used_by_engine_cells & defined["cuda-python"]
    assert {"alloc", "to_device", "from_device", "sync", "free", "stream_handle"} <= shared
    assert shared == used_by_engine_cells & defined["pycuda"]


def _notebook_03_cells():
    """Notebook 03's code cells, each as (capability or None, source without the magic line)."""
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "notebooks" / "03_inference.ipynb"
    cells = []
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            first, _, body = source.partition("\n")
            cells.append((first.split()[1], body) if first.startswith("%%skip_unless") else (None, source))
    return cells


def _run_engine_cells_with(binding: str, namespace: dict) -> dict:
    """Run notebook 03's cells for `binding`, then its engine cells and the solution of exercise 03.4, on the identity
    double standing in for the engine and its context (NOT TensorRT: it copies its input to its output)."""
    from utils.exercises import check

    cells = _notebook_03_cells()
    binding_cells = [body for capability, body in cells if capability == f"tensorrt-run-{binding}"]
    by_hand = next(body for capability, body in cells if capability == "tensorrt-run" and "by_hand = output.copy()" in body)
    exercise = next(body for capability, body in cells if capability == "tensorrt-run" and "engine_run = {" in body)
    for body in [*binding_cells, by_hand, exercise]:
        exec(compile(body, "<notebook 03>", "exec"), namespace)  # noqa: S102 - the notebook's own cells
    np = namespace["np"]
    np.testing.assert_array_equal(namespace["by_hand"], namespace["batch"])  # the identity: the batch came back
    profile = tuple(shape[0] for shape in namespace["engine"].get_tensor_profile_shape("input", 0))
    reference = np.concatenate([namespace["ort_out"]] * 13)[:50]
    assert namespace["engine_run"]["calls"] == 2
    assert check("03.4", namespace["engine_run"], reference=reference, profile=profile) is None
    return namespace


def _identity_namespace(engine):
    import numpy as np

    batch = np.random.default_rng(0).standard_normal((4, 1000)).astype(np.float32)
    return {"engine": engine, "context": engine.create_execution_context(), "input_name": "input",
            "output_name": "output", "batch": batch, "ort_out": batch}


def test_notebook_03_engine_cells_run_with_cuda_python_on_a_host_double(monkeypatch):
    """On a CPU: the cuda-python cell and the engine cells, with cuda-python's runtime replaced by a double whose
    "device" memory is host memory (tests/engine_doubles.py), the identity engine copying through it."""
    import cuda.bindings

    from tests.engine_doubles import HostCudaRuntime, IdentityEngine

    runtime = HostCudaRuntime(pageable=True)
    monkeypatch.setattr(cuda.bindings, "runtime", runtime)
    _run_engine_cells_with("cuda-python", _identity_namespace(IdentityEngine(device_copy=runtime.copy_device_to_device)))
    assert runtime.device == {}, "every allocation was freed"


@pytest.mark.gpu
@pytest.mark.parametrize("binding", ["cuda-python", "pycuda"])
def test_notebook_03_engine_cells_run_with_either_binding_on_a_gpu(binding):
    import importlib.util

    from tests.engine_doubles import IdentityEngine
    from utils.environment import gpu_unavailable

    if gpu_unavailable():
        pytest.skip(gpu_unavailable())
    if importlib.util.find_spec({"cuda-python": "cuda.bindings", "pycuda": "pycuda"}[binding].split(".")[0]) is None:
        pytest.skip(f"{binding} is not installed")
    _run_engine_cells_with(binding, _identity_namespace(IdentityEngine()))


def test_notebook_04s_tensorrt_runners_are_set_up_with_the_installed_tensorrt():
    """Lesson 04's Polygraphy TensorRT cell points Polygraphy at the installed TensorRT before it imports Polygraphy's
    TensorRT backend (the other order raises where that is TensorRT-RTX), and sets up one lazy runner per precision.
    Run in a process of its own, whose Polygraphy has imported nothing yet; no engine is built."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    from utils.tensorrt.api import tensorrt_or_none

    if tensorrt_or_none() is None:
        pytest.skip("needs TensorRT or TensorRT-RTX (pip install -r requirements.txt)")
    root = Path(__file__).resolve().parent.parent
    cells = json.loads((root / "notebooks" / "04_compare_onnx_trt.ipynb").read_text(encoding="utf-8"))["cells"]
    cell = next("".join(c["source"]) for c in cells if "".join(c["source"]).startswith("%%skip_unless polygraphy-tensorrt-run")
                and "EngineFromNetwork" in "".join(c["source"]))
    setup = ("import numpy as np\nfrom polygraphy import constants\nfrom utils import compare, models\n"
             "spec = models.get_model_spec('efficientnet_lite0')\nbatch = np.zeros((2, *spec.input_shape), np.float32)\n"
             "onnx_fp32, onnx_fp16 = 'fp32.onnx', 'fp16.onnx'\n")  # section 1's names; the loaders read no file yet
    check = "\nprint(sorted(runner.name for runner in trt_runners))\n"
    done = subprocess.run([sys.executable, "-c", setup + cell.partition("\n")[2] + check], cwd=root,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "['tensorrt-fp16', 'tensorrt-fp32']"


def test_show_figure_displays_the_png_it_keeps_under_the_build_folders_figures(monkeypatch, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import IPython.display
    from matplotlib.figure import Figure

    monkeypatch.setenv("WORKBOOK_BUILD_DIR", str(tmp_path))
    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    figure = Figure()
    figure.add_subplot().plot([0, 1], [1, 0])
    assert notebook.show_figure(figure, "precision/photos.png") is None  # a cell ending with it shows no Out[]
    path = tmp_path / "figures" / "precision" / "photos.png"
    assert shown[0].data == path.read_bytes() and path.read_bytes().startswith(b"\x89PNG")
    notebook.show_figure(figure, "top.png")
    assert shown[1].data == (tmp_path / "figures" / "top.png").read_bytes()
