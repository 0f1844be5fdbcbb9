"""scripts/render_html.py (`make html`): titles, the index, embedded figures, widgets drawn without a CDN, and the
one-line refusals. Notebooks are made by hand with their outputs (no kernel); tests/browser/test_html.py opens
the result in Chromium."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import nbformat
import pytest

from tests.script_modules import load_script

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


@pytest.fixture(scope="module")
def render_html():
    return load_script("render_html")


def _png() -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 4), (200, 30, 30)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _tqdm_widget(value: float, total: float) -> tuple[dict, dict]:
    """A display_data output and the saved state of a finished tqdm bar, as nbclient stores them."""
    models = {
        "box": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_left", "IPY_MODEL_bar", "IPY_MODEL_right"]}},
        "left": {"model_name": "HTMLModel", "state": {"value": "sweep:\u2007100%"}},
        "bar": {"model_name": "FloatProgressModel", "state": {"value": value, "max": total, "bar_style": "success"}},
        "right": {"model_name": "HTMLModel", "state": {"value": "\u20074/4\u2007[00:51&lt;00:00]"}},
    }
    output = nbformat.v4.new_output("display_data", data={WIDGET_VIEW: {"model_id": "box", "version_major": 2},
                                                          "text/plain": "sweep:   0%|          | 0/4"})
    return output, models


def _lesson(path: Path, heading: str | None, outputs: list | None = None, widgets: dict | None = None) -> Path:
    notebook = nbformat.v4.new_notebook()
    cells = [nbformat.v4.new_code_cell("x = 1", outputs=outputs or [], execution_count=1)]
    if heading is not None:
        cells.insert(0, nbformat.v4.new_markdown_cell(f"Some words first.\n\n{heading}\n\nMore words."))
        cells.append(nbformat.v4.new_markdown_cell("## A later heading"))
    notebook.cells = cells
    if widgets is not None:
        notebook.metadata["widgets"] = {WIDGET_STATE: {"state": widgets, "version_major": 2, "version_minor": 0}}
    nbformat.write(notebook, path)
    return path


def test_the_title_is_the_first_markdown_heading(render_html):
    def title(*markdown: str, code: str = "# a comment, not a heading") -> str:
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)]
                                            + [nbformat.v4.new_markdown_cell(m) for m in markdown])
        return render_html.notebook_title(notebook, "fallback")

    assert title("intro\n\n# 05 · Benchmarks ", "# Later") == "05 · Benchmarks"
    assert title("### Deep heading ###") == "Deep heading"
    assert title("#hashtag, not a heading", "no heading") == "fallback"
    assert title() == "fallback"


def test_every_lesson_becomes_a_page_with_its_figure_and_the_index_links_them(render_html, tmp_path):
    source, out = tmp_path / "notebooks", tmp_path / "html"
    source.mkdir()
    png = _png()
    figure = nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Image>"})
    _lesson(source / "01_second.ipynb", "# 01 · Second <lesson> & more", [figure])
    _lesson(source / "00_first.ipynb", None)
    _lesson(source / "scratch.ipynb", "# Not a lesson")
    pages = render_html.render_all(source, out)
    assert [(p.title, p.path.name) for p in pages] == [("00_first", "00_first.html"),
                                                       ("01 · Second <lesson> & more", "01_second.html")]
    assert sorted(p.name for p in out.iterdir()) == ["00_first.html", "01_second.html", "index.html"]
    page = (out / "01_second.html").read_text()
    assert "<title>01 · Second &lt;lesson&gt; &amp; more</title>" in page
    assert f'src="data:image/png;base64,{png}' in page.replace("\n", "")  # the figure travels inside the page
    assert re.findall(r"<script[^>]*\bsrc=", page) == []  # nothing fetched from a CDN (require.js, MathJax)
    assert 'class="jp-Notebook' in page  # still JupyterLab's page
    index = (out / "index.html").read_text()
    links = re.findall(r'<a href="([^"]+)">([^<]*)</a>', index)
    assert links == [("00_first.html", "00_first"), ("01_second.html", "01 · Second &lt;lesson&gt; &amp; more")]


def test_a_finished_progress_bar_is_drawn_without_the_widget_manager(render_html, tmp_path):
    output, models = _tqdm_widget(4.0, 4.0)
    page = render_html.render_notebook(_lesson(tmp_path / "05_bar.ipynb", "# Bar", [output], models), tmp_path).path
    text = page.read_text()
    bars = re.findall(r"<progress ([^>]*)>", text)  # nbconvert re-serialises the page (attribute order may change)
    assert len(bars) == 1 and sorted(re.findall(r'\w+="[^"]*"', bars[0])) == [
        'max="4.0"', f'style="accent-color: {render_html.BAR_COLOURS["success"]}"', 'value="4.0"']
    assert "<span>sweep:\u2007100%</span>" in text and "4/4\u2007[00:51&lt;00:00]" in text
    assert WIDGET_VIEW not in text and WIDGET_STATE not in text and "html-manager" not in text
    assert "0/4" not in text  # the text form is tqdm's first frame, not the end


def test_an_unknown_widget_falls_back_to_its_text(render_html, tmp_path):
    output, models = _tqdm_widget(1.0, 4.0)
    models["bar"]["model_name"] = "FancySliderModel"
    text = render_html.render_notebook(_lesson(tmp_path / "05_bar.ipynb", "# Bar", [output], models), tmp_path).path.read_text()
    assert "<progress" not in text and "sweep:   0%|          | 0/4" in text and WIDGET_VIEW not in text


def test_without_executed_notebooks_it_says_to_run_make_run(render_html, tmp_path, capsys):
    with pytest.raises(render_html.RenderError, match=r"^no executed notebooks in .*; run `make run` first$"):
        render_html.render_all(tmp_path / "missing", tmp_path / "html")
    assert render_html.main(["--source", str(tmp_path / "missing"), "--out", str(tmp_path / "html")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "run `make run` first" in captured.err
    assert not (tmp_path / "html").exists()


def test_a_damaged_notebook_is_one_line(render_html, tmp_path, capsys):
    source = tmp_path / "notebooks"
    source.mkdir()
    (source / "00_broken.ipynb").write_text('{"cells": [')
    assert render_html.main(["--source", str(source), "--out", str(tmp_path / "html")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"{source / '00_broken.ipynb'} cannot be read as a notebook (")
