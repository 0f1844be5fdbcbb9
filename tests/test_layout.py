"""The package's architecture, as a test: modules import each other without cycles, stay small, keep argparse in
the CLI, never reach into tests/, and every subpackage says what it is for.

Read from the source with `ast`, so nothing is imported. Every import counts, including those inside functions
(the workbook imports heavy libraries lazily, and a lazy import cycle still fails at run time when a half-initialised
module is used); only `if TYPE_CHECKING:` blocks, which never run, are left out.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "utils"
SCRIPTS = ROOT / "scripts"
MAX_LINES = 400  # issue 21: no module over 400 lines
# The command line: utils/cli.py, the argument helpers its commands share, and the bench command (and scripts/*.py,
# which are programs).
ARGPARSE_ALLOWED = {"utils.cli", "utils.arguments", "utils.benchmark.command"}


@dataclass(frozen=True)
class Import:
    importer: str  # module name
    target: str  # dotted name as written (absolute)
    names: tuple[str, ...]  # `from target import names`; () for `import target`
    path: Path
    line: int
    root: Path = ROOT

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(self.root)}:{self.line}"


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def python_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*.py") if "__pycache__" not in p.parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node, except the bodies of `if TYPE_CHECKING:` (their `else:` branches run, so they are kept)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def imports_of(path: Path, root: Path = ROOT) -> list[Import]:
    """Every import statement in `path` that runs, wherever it is, with relative imports made absolute."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [Import(name, alias.name, (), path, node.lineno, root) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append(Import(name, target, tuple(alias.name for alias in node.names), path, node.lineno, root))
    return found


def import_graph(package_dir: Path = PACKAGE, root: Path = ROOT) -> dict[str, dict[str, Import]]:
    """module -> {imported module: the first import statement that makes the edge}, for modules of the package.

    `import utils.a.b` is an edge to utils.a.b; `from utils.x import y` is an edge to utils.x (Python runs it first,
    `__init__` included) and, where utils.x.y is a module, to utils.x.y too. This is the rule the project's
    before-stop check applies."""
    modules = {module_name(p, root): p for p in python_files(package_dir)}
    graph: dict[str, dict[str, Import]] = {name: {} for name in modules}
    for name, path in modules.items():
        for imp in imports_of(path, root):
            targets = [imp.target] + [f"{imp.target}.{n}" for n in imp.names if f"{imp.target}.{n}" in modules]
            for target in targets:
                while target and target not in modules:  # `import utils.a.b.attr`-like spellings: the module part
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].setdefault(target, imp)
    return graph


def find_cycles(graph: dict[str, dict[str, Import]]) -> list[list[str]]:
    """One cycle (as a closed path [a, b, ..., a]) per strongly connected component with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []

    def connect(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, {})):
            if successor not in index:
                connect(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_cycle_through(component, graph) for component in components]


def _cycle_through(component: list[str], graph: dict[str, dict[str, Import]]) -> list[str]:
    """The shortest cycle through the component's first module, by breadth-first search inside the component."""
    start, members = component[0], set(component)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for successor in sorted(graph[node]):
                if successor == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if successor in members and successor not in previous:
                    previous[successor] = node
                    following.append(successor)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # unreachable for a strongly connected component


def describe_cycle(cycle: list[str], graph: dict[str, dict[str, Import]]) -> str:
    steps = [f"{a} -> {b} ({graph[a][b].where})" for a, b in zip(cycle, cycle[1:])]
    return "import cycle " + " -> ".join(cycle) + ": " + "; ".join(steps)


# --- the rules ---------------------------------------------------------------------------------------------------


def test_no_import_cycles_between_utils_modules():
    graph = import_graph()
    assert len(graph) > 30 and any(graph.values()), "the walk found the package's modules and their imports"
    cycles = find_cycles(graph)
    assert not cycles, "\n".join(describe_cycle(cycle, graph) for cycle in cycles)


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in python_files(PACKAGE) if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them by concern): {long}"


def test_nothing_in_utils_or_scripts_imports_tests():
    offenders = [f"{imp.where}: {'from ' + imp.target + ' import ' + ', '.join(imp.names) if imp.names else 'import ' + imp.target}"
                 for directory in (PACKAGE, SCRIPTS) for path in python_files(directory)
                 for imp in imports_of(path)
                 if imp.target == "tests" or imp.target.startswith("tests.")]
    # Shell scripts and other files run Python too (python -c "...").
    offenders += [f"{path.relative_to(ROOT)}: {match.group(0)}" for path in sorted(SCRIPTS.iterdir())
                  if path.is_file() and path.suffix != ".py"
                  for match in re.finditer(r"(from\s+tests(\.\w+)*\s+import|import\s+tests\b)[^\n]*", path.read_text(errors="replace"))]
    assert not offenders, f"tests/ is not part of the workbook; move what is needed into utils/: {offenders}"


def test_argparse_only_in_the_cli():
    offenders = sorted({imp.where for path in python_files(PACKAGE) for imp in imports_of(path)
                        if imp.target.split(".")[0] == "argparse" and imp.importer not in ARGPARSE_ALLOWED})
    assert not offenders, f"argparse belongs in utils/cli.py (the library takes arguments, the CLI parses them): {offenders}"


def test_every_subpackage_has_an_init_with_a_docstring():
    problems = []
    for directory in sorted({p.parent for p in python_files(PACKAGE)}):
        init = directory / "__init__.py"
        name = str(directory.relative_to(ROOT))
        if not init.is_file():
            problems.append(f"{name}/ has no __init__.py")
        elif not ast.get_docstring(ast.parse(init.read_text())):
            problems.append(f"{name}/__init__.py has no docstring saying what the subpackage is for")
    assert not problems, "; ".join(problems)


# --- the walker itself, on a made-up package ---------------------------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


def test_cycles_through_lazy_and_relative_imports_are_found_and_named(tmp_path):
    package = _write(tmp_path, {
        "pkg/__init__.py": '"""doc"""\n',
        "pkg/a.py": "def f():\n    from pkg.sub import b\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/b.py": "from . import c\n",
        "pkg/sub/c.py": "import pkg.a\n",
        "pkg/d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.e\n",
        "pkg/e.py": "import pkg.d\nfrom pkg.sub.b import something\n",
    })
    graph = import_graph(package, tmp_path)
    assert set(graph["pkg.a"]) == {"pkg.sub", "pkg.sub.b"}  # importing pkg.sub.b runs pkg.sub's __init__ first
    assert set(graph["pkg.sub.b"]) == {"pkg.sub", "pkg.sub.c"} and set(graph["pkg.e"]) == {"pkg.d", "pkg.sub.b"}
    assert graph["pkg.d"] == {}  # TYPE_CHECKING imports never run
    cycles = find_cycles(graph)
    assert cycles == [["pkg.a", "pkg.sub.b", "pkg.sub.c", "pkg.a"]]
    assert describe_cycle(cycles[0], graph) == (
        "import cycle pkg.a -> pkg.sub.b -> pkg.sub.c -> pkg.a: pkg.a -> pkg.sub.b (pkg/a.py:2); "
        "pkg.sub.b -> pkg.sub.c (pkg/sub/b.py:1); pkg.sub.c -> pkg.a (pkg/sub/c.py:1)")


def test_a_package_init_that_reexports_a_module_importing_it_is_a_cycle(tmp_path):
    package = _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/compare/__init__.py": "from pkg.compare.report import diff\n",
        "pkg/compare/report.py": "def diff():\n    from pkg.compare import stats\n    from pkg.compare import helper\n",
        "pkg/compare/stats.py": "",
    })
    graph = import_graph(package, tmp_path)
    assert set(graph["pkg.compare.report"]) == {"pkg.compare.stats", "pkg.compare"}  # `helper` is a name in pkg.compare
    assert find_cycles(graph) == [["pkg.compare", "pkg.compare.report", "pkg.compare"]]


def test_no_text_says_nvidias_samples_left_pycuda_in_10_14():
    """NVIDIA's Python samples used cuda-python already in TensorRT 8.6 (release/8.6 samples/python/common.py:
    `from cuda import cuda, cudart`); 10.14 only moved the import to `cuda.bindings`. A review found the workbook
    saying they moved from pycuda in 10.14."""
    texts = [*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("docs/*.md"), ROOT / "README.md", ROOT / "ARCHITECTURE.md"]
    wrong = re.compile(r"moved from pycuda to cuda-python in (TensorRT )?10\.14")
    offenders = [path.name for path in texts if wrong.search(" ".join(path.read_text(encoding="utf-8").split()))]
    assert not offenders, f"{offenders} say NVIDIA's samples moved from pycuda in 10.14; they used cuda-python since 8.6"
