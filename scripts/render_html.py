"""The workbook as static HTML: every executed notebook as one self-contained page, and an index linking them.

    python scripts/render_html.py [--source build/notebooks] [--out build/html]        (what `make html` runs)

`make run` writes the executed notebooks to build/notebooks/; this renders each with nbconvert's HTML exporter
(JupyterLab's look; figures are the notebooks' inline PNG outputs, embedded as data: URIs) into build/html/<name>.html,
and writes build/html/index.html listing every lesson by its title (the notebook's first markdown heading).

The pages need no network and ask for none: nbconvert's page loads require.js and MathJax from a CDN in its <head>,
which a browser without internet (or behind a firewall that drops packets) waits on before drawing anything; the
lessons use neither (no maths, no interactive widgets), so the template here leaves both out. A Jupyter widget
output (a tqdm progress bar in a notebook) would need the widget manager from a CDN to draw; instead its saved final
state becomes plain HTML (boxes, text, an HTML <progress> element), or, for a widget this does not know, its text
form; the saved widget state itself is left out of the page.
"""

from __future__ import annotations

import argparse
import copy
import html
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_SOURCE = "build/notebooks"
DEFAULT_DESTINATION = "build/html"
NOTEBOOK_PATTERN = "[0-9][0-9]_*.ipynb"  # the lessons, as the Makefile's NOTEBOOKS names them
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# JupyterLab's page (nbconvert's lab template) without the two scripts it would fetch from a CDN.
OFFLINE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
"""
HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")
INDEX_TITLE = "The TensorRT workbook"
# ipywidgets' bar styles (tqdm: success when done, danger when interrupted), in JupyterLab's colours.
BAR_COLOURS = {"success": "#388e3c", "info": "#1976d2", "warning": "#f57c00", "danger": "#d32f2f"}


class RenderError(Exception):
    """A one-line reason the HTML cannot be made (printed as it is, exit status 2)."""


@dataclass(frozen=True)
class Page:
    title: str
    path: Path  # the HTML file


def notebook_title(notebook: Any, fallback: str) -> str:
    """The text of the first markdown heading (`# 05 · Benchmarks` -> `05 · Benchmarks`), or `fallback`."""
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            match = HEADING.match(line)
            if match:
                return match.group(1)
    return fallback


def static_widget(model_id: str, models: dict[str, Any]) -> str | None:
    """HTML drawing widget `model_id` in its saved state, for the box, text and progress widgets tqdm is made of;
    None for any other widget."""
    model = models.get(model_id)
    if not model:
        return None
    kind, state = model.get("model_name"), model.get("state", {})
    if kind in ("HBoxModel", "VBoxModel"):
        children = [static_widget(str(child).removeprefix("IPY_MODEL_"), models) for child in state.get("children", [])]
        if any(child is None for child in children):
            return None
        direction = "row" if kind == "HBoxModel" else "column"
        return (f'<div class="widget-static" style="display: flex; flex-direction: {direction}; gap: 0.5em; '
                f'align-items: center">{"".join(children)}</div>')  # type: ignore[arg-type]
    if kind == "HTMLModel":
        return f"<span>{state.get('value', '')}</span>"  # already HTML (tqdm escapes its text)
    if kind == "LabelModel":
        return f"<span>{html.escape(str(state.get('value', '')))}</span>"
    if kind in ("FloatProgressModel", "IntProgressModel"):
        colour = BAR_COLOURS.get(str(state.get("bar_style", "")))
        style = f' style="accent-color: {colour}"' if colour else ""
        return f'<progress value="{float(state.get("value", 0))}" max="{float(state.get("max", 100))}"{style}></progress>'
    return None


def without_widgets(notebook: Any) -> Any:
    """A copy whose widget outputs are static HTML (`static_widget`) or, failing that, their text form (kept as they
    are where there is neither), without the saved widget state."""
    notebook = copy.deepcopy(notebook)
    saved = notebook.metadata.pop("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    models = saved.get("state", {})
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW not in data:
                continue
            drawn = static_widget(str(data[WIDGET_VIEW].get("model_id", "")), models)
            if drawn is not None:
                data["text/html"] = drawn
            if len(data) > 1:
                del data[WIDGET_VIEW]
    return notebook


def render_notebook(source: str | Path, destination_dir: str | Path) -> Page:
    """`source` (an executed notebook) as `destination_dir/<name>.html`, titled with its first heading."""
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    from utils.files import atomic_path

    source = Path(source)
    try:
        notebook = nbformat.read(source, as_version=4)
    except Exception as exc:  # nbformat raises JSON, validation and OS errors alike
        reason = " ".join(str(exc).split())[:150] or type(exc).__name__
        raise RenderError(f"{source} cannot be read as a notebook ({reason}); run `make run` again") from None
    title = notebook_title(notebook, source.stem)
    notebook = without_widgets(notebook)
    notebook.metadata["title"] = title  # the page's <title>
    exporter = HTMLExporter(template_name="lab", embed_images=True, template_file="offline.html.j2",
                            extra_loaders=[DictLoader({"offline.html.j2": OFFLINE_TEMPLATE})])
    body, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": source.stem,
                                                                            "path": str(source.parent)}})
    destination = Path(destination_dir) / f"{source.stem}.html"
    with atomic_path(destination) as tmp:
        tmp.write_text(body, encoding="utf-8")
    return Page(title, destination)


def index_html(pages: Sequence[Page], title: str = INDEX_TITLE) -> str:
    """A plain page linking every lesson by its title (links relative to the index's folder)."""
    items = "\n".join(f'  <li><a href="{html.escape(page.path.name)}">{html.escape(page.title)}</a></li>'
                      for page in pages)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}</title>\n'
            '<style>body { font-family: sans-serif; max-width: 50em; margin: 2em auto; line-height: 1.6 }</style>\n'
            f"</head>\n<body>\n<h1>{html.escape(title)}</h1>\n<ol>\n{items}\n</ol>\n</body>\n</html>\n")


def render_all(source_dir: str | Path = DEFAULT_SOURCE, destination_dir: str | Path = DEFAULT_DESTINATION) -> list[Page]:
    """Every `NN_*.ipynb` in `source_dir` rendered into `destination_dir`, with `index.html`; the pages in order."""
    from utils.files import atomic_path, ensure_writable_dir

    source_dir, destination_dir = Path(source_dir), Path(destination_dir)
    notebooks = sorted(source_dir.glob(NOTEBOOK_PATTERN)) if source_dir.is_dir() else []
    if not notebooks:
        raise RenderError(f"no executed notebooks in {source_dir}; run `make run` first")
    ensure_writable_dir(destination_dir)
    pages = [render_notebook(notebook, destination_dir) for notebook in notebooks]
    with atomic_path(destination_dir / "index.html") as tmp:
        tmp.write_text(index_html(pages), encoding="utf-8")
    return pages


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render the executed notebooks as static HTML with an index.")
    parser.add_argument("--source", default=DEFAULT_SOURCE, help=f"executed notebooks (default {DEFAULT_SOURCE})")
    parser.add_argument("--out", default=DEFAULT_DESTINATION, help=f"where the HTML goes (default {DEFAULT_DESTINATION})")
    args = parser.parse_args(argv)
    from utils.errors import WorkbookError

    try:
        pages = render_all(args.source, args.out)
    except (RenderError, WorkbookError) as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"wrote {len(pages)} pages and {Path(args.out) / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
