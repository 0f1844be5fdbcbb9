"""Browser tests (JupyterLab and the HTML edition in Chromium); collected only when named: pytest tests/browser."""
