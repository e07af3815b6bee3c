"""Execute examples/*.ipynb headlessly and check the Panel output is there."""

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "examples").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_and_shows_the_app(path):
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors, errors
    mimes = {k for o in outputs for k in o.get("data", {})}
    assert "application/vnd.holoviews_exec.v0+json" in mimes
    html = "".join(o["data"].get("text/html", "") for o in outputs if "data" in o)
    assert "cdn.bokeh.org" not in html and "cdn.holoviz.org" not in html  # inline resources: works offline
