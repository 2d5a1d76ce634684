"""Make the README's pictures: docs/page.png (the circuit page of the lecture's sigmoid neuron,
a gate hovered) and docs/notebook.png (examples/backprop.ipynb executed, rendered to HTML by
nbconvert); and store the notebook's outputs in examples/backprop.ipynb.

A developer's tool, not part of gradcli: it needs playwright, nbclient, ipykernel and nbconvert
(`pip install -e '.[docs]'`) and Chromium (`apt-get install chromium`). Run it from the
repository's root after a change to the page or to the notebook's views:

    python docs/screenshots.py            # all three
    python docs/screenshots.py page       # docs/page.png only

The browser makes no request beyond the files themselves (every other one is refused), so a
notebook template that would fetch MathJax shows the LaTeX as text instead.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import gradcli  # noqa: E402
from gradcli.render import page  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
NOTEBOOK = ROOT / "examples" / "backprop.ipynb"
SIGMOID = "1/(1+exp(-(w0*x0 + w1*x1 + w2)))"


def _browser(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)


def _offline(tab) -> None:
    tab.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
              else route.abort())


def page_png(playwright, out: Path) -> None:
    result = gradcli.parse(SIGMOID).evaluate({"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0},
                                              trace=True)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "circuit.html"
        path.write_text(page.render(result), encoding="utf-8")
        browser = _browser(playwright)
        tab = browser.new_page(viewport={"width": 1240, "height": 1000}, device_scale_factor=1)
        _offline(tab)
        tab.goto(path.as_uri())
        exp_gate = next(n for n in result.graph.nodes if n.kind == "gate" and n.op.name == "exp")
        tab.hover(f'#circuit [data-node="{exp_gate.id}"]')
        tab.screenshot(path=str(out), clip={"x": 0, "y": 0, "width": 1240, "height": 1000})
        browser.close()
    print(f"wrote {out}")


def run_notebook() -> None:
    """Execute examples/backprop.ipynb in a kernel and store it with its outputs."""
    import nbclient
    import nbformat

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    env = os.environ.copy()
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    try:
        nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3", record_timing=False,
                                resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(env)
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:  # no timestamps: a run that shows the same changes nothing
        cell.metadata.pop("execution", None)
    nbformat.write(notebook, NOTEBOOK)
    print(f"wrote {NOTEBOOK} with its outputs")


def notebook_png(playwright, out: Path) -> None:
    import nbconvert
    import nbformat

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    body, _ = nbconvert.HTMLExporter().from_notebook_node(notebook)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "backprop.html"
        path.write_text(body, encoding="utf-8")
        browser = _browser(playwright)
        tab = browser.new_page(viewport={"width": 1100, "height": 900}, device_scale_factor=1)
        _offline(tab)
        tab.goto(path.as_uri())
        # the first circuit and its table, the cell that shows the lecture's numbers
        tab.screenshot(path=str(out), clip={"x": 0, "y": 0, "width": 1100, "height": 1100}, full_page=True)
        browser.close()
    print(f"wrote {out}")


def main(argv: list[str]) -> int:
    from playwright.sync_api import sync_playwright

    wanted = set(argv) or {"page", "notebook"}
    with sync_playwright() as playwright:
        if "page" in wanted:
            page_png(playwright, ROOT / "docs" / "page.png")
        if "notebook" in wanted:
            run_notebook()
            notebook_png(playwright, ROOT / "docs" / "notebook.png")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
