"""The HTML edition (`make html`, scripts/render_html.py) as a reader sees it: opened from disk in Chromium with the
network cut off, the index lists the lesson by its title, its link opens the page, the figure is decoded and drawn,
and the tqdm bar is a finished <progress> element.

The test executes a small notebook of its own (a heading, a matplotlib figure, a tqdm.auto bar) instead of reading
build/notebooks, so it never depends on `make run` having been run.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.script_modules import load_script

TITLE = "42 · A small lesson"


@pytest.fixture(scope="module")
def executed_dir(tmp_path_factory, chromium_path) -> Path:
    """A folder like build/notebooks holding one executed lesson (the Chromium check first: no browser, no kernel)."""
    import nbformat
    from nbclient import NotebookClient

    directory = tmp_path_factory.mktemp("executed")
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    notebook.cells = [
        nbformat.v4.new_markdown_cell(f"# {TITLE}\n\nA figure and a progress bar."),
        nbformat.v4.new_code_cell("import io\nimport matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
                                  "from IPython.display import Image, display\n"
                                  "figure, axes = plt.subplots(figsize=(3, 2))\naxes.plot([1, 3, 2])\n"
                                  "buffer = io.BytesIO()\nfigure.savefig(buffer, format='png')\n"
                                  "display(Image(data=buffer.getvalue()))"),
        nbformat.v4.new_code_cell("from tqdm.auto import tqdm\nfor _ in tqdm(range(5), desc='steps'):\n    pass"),
    ]
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(directory)}}).execute()
    nbformat.write(notebook, directory / "42_small_lesson.ipynb")
    return directory


def test_the_html_edition_reads_offline(executed_dir, tmp_path, browser, screenshot_dir):
    pages = load_script("render_html").render_all(executed_dir, tmp_path / "html")
    assert [page.title for page in pages] == [TITLE]
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    blocked = []
    context.route(re.compile(r"^https?://"), lambda route: (blocked.append(route.request.url), route.abort()))
    page = context.new_page()
    try:
        page.goto((tmp_path / "html" / "index.html").as_uri())
        assert page.title() == "The TensorRT workbook"
        page.get_by_role("link", name=TITLE).click()
        page.wait_for_load_state("load")
        assert page.url.endswith("/42_small_lesson.html") and page.title() == TITLE
        assert page.get_by_role("heading", name=TITLE).count() == 1
        figures = page.locator('.jp-OutputArea-output img[src^="data:image/png;base64,"]')
        assert figures.count() == 1
        assert figures.first.evaluate("img => img.complete && img.naturalWidth") > 100  # decoded, not a broken image
        bar = page.locator(".widget-static progress")
        assert bar.count() == 1 and bar.evaluate("p => [p.value, p.max]") == [5, 5]
        text = " ".join(page.locator(".widget-static").inner_text().replace("\u2007", " ").split())  # tqdm's figure spaces
        assert text.startswith("steps: 100% 5/5 ["), text
        page.screenshot(path=str(screenshot_dir / "html_lesson.png"), full_page=True)
    finally:
        context.close()
    # What the pages asked the network for (nbconvert's lab template links require.js, MathJax): nothing they need.
    print(f"blocked requests: {blocked}")
