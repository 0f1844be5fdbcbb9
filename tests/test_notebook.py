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
    assert notebook.missing("tensorrt-run") == "no GPU here"
    with pytest.raises(WorkbookError, match="unknown capability 'cuda'; use one of: pytorch-cuda, tensorrt-build, tensorrt-run, "
                                            "polygraphy-tensorrt-run, tensorrt-run-pycuda, tensorrt-run-cuda-python"):
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
