"""examples/backprop.ipynb run in a real Jupyter kernel (nbclient + ipykernel, the `test` extra):
each cell's display shows the lecture's numbers, worked out here by hand or by central differences."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

nbformat = pytest.importorskip("nbformat", reason="the test extra: pip install -e '.[test]'")
nbclient = pytest.importorskip("nbclient", reason="the test extra: pip install -e '.[test]'")
pytest.importorskip("ipykernel", reason="the test extra: pip install -e '.[test]'")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "examples" / "backprop.ipynb"


def text(value: float) -> str:
    """A number as the tables write it: 6 significant digits, 0 without a sign."""
    return "0" if value == 0 else f"{value:.6g}"


def central(f, point: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """∂f/∂point by central differences (f of a flat vector, to a flat vector)."""
    columns = []
    for k in range(point.size):
        step = np.zeros_like(point)
        step[k] = h
        columns.append((np.asarray(f(point + step)) - np.asarray(f(point - step))) / (2 * h))
    return np.stack(columns, axis=-1)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """Each code cell's source and its displays: {source: [mime bundle, ...]}."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    env = dict(os.environ)
    # the kernel imports this checkout's gradcli, as the test does
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    old = os.environ.copy()
    os.environ.update(env)  # (the kernel is started with the test process's environment)
    try:
        client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                                         resources={"metadata": {"path": str(tmp_path_factory.mktemp("nb"))}})
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    found = {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", "".join(output.get("traceback", []))
        found[cell.source] = [o["data"] for o in cell.get("outputs", []) if "data" in o]
    return found


def cell(outputs, start: str) -> dict:
    matches = [data for source, data in outputs.items() if source.startswith(start)]
    assert matches and matches[0], f"no cell starting {start!r} with an output"
    return matches[0][-1]


def test_the_lecture_circuit_shows_its_table(outputs):
    data = cell(outputs, 'gradcli.evaluate("(x+y)*z"')
    html = data["text/html"]
    x, y, z = -2.0, 5.0, -4.0
    for value in (  # f, ∂f/∂x = ∂f/∂y = z, ∂f/∂z = x + y: by hand
            (x + y) * z, z, x + y):
        assert f">{text(value)}<" in html
    assert "∂f/∂x = -4" in html and "∂f/∂y = -4" in html and "∂f/∂z = 3" in html
    for word in ("gate", "local", "upstream", "result", "swaps", "distributes"):
        assert word in html
    assert "text/markdown" in data and "text/latex" in data
    assert r"\frac{\partial f}{\partial z} &= 3" in data["text/latex"]
    if "image/svg+xml" in data:  # Graphviz's dot installed
        assert "<svg" in data["image/svg+xml"] and "<svg" in html


def neuron(p: np.ndarray) -> float:
    w0, x0, w1, x1, w2 = p
    return 1 / (1 + math.exp(-(w0 * x0 + w1 * x1 + w2)))


def test_the_sigmoid_neuron(outputs):
    point = np.array([2.0, -1.0, -3.0, -2.0, -3.0])
    grads = central(neuron, point)
    assert neuron(point) == pytest.approx(0.73, abs=0.005)
    assert grads[0] == pytest.approx(-0.20, abs=0.005) and grads[1] == pytest.approx(0.39, abs=0.005)
    html = cell(outputs, "neuron = gradcli.evaluate")["text/html"]
    assert f"f = {text(neuron(point))}" in html
    for name, g in zip(("w0", "x0", "w1", "x1", "w2"), grads):
        assert f"∂f/∂{name} = {text(g)}" in html
    latex = cell(outputs, "from IPython.display import Latex")["text/latex"]
    assert text(neuron(point)) in latex and r"\partial w_{0}" in latex
    markdown = cell(outputs, "Markdown(")["text/markdown"]
    assert "| gate | op | role |" in markdown and f"∂f/∂x0 = {text(grads[1])}" in markdown


W = np.array([[1.0, 2.0], [3.0, 4.0]])
X = np.array([0.5, -0.25])
B = np.array([0.1, -0.1])


def layer(p: np.ndarray) -> np.ndarray:
    return np.tanh(p[:4].reshape(2, 2) @ p[4:6] + p[6:])


def test_the_array_program_and_its_jacobian(outputs):
    point = np.concatenate([W.ravel(), X, B])
    html = cell(outputs, 'gradcli.evaluate("sum(tanh(W @ x + b))"')["text/html"]
    assert f"f = {text(float(np.sum(layer(point))))}" in html
    grads = central(lambda p: np.sum(layer(p)), point)  # an array's gradient: its shape and elements
    assert f"∂f/∂b = (2,) [{text(grads[6])}, {text(grads[7])}]" in html
    assert f"∂f/∂x = (2,) [{text(grads[4])}, {text(grads[5])}]" in html
    jacobian = central(layer, point)
    html = cell(outputs, 'gradcli.jacobian(')["text/html"]
    for label in ("g[0]", "g[1]", "W[0,0]", "x[1]", "b[1]"):
        assert f">{label}<" in html
    for entry in jacobian.ravel():
        assert f">{text(float(entry)) if abs(entry) > 1e-9 else '0'}<" in html


def test_forward_mode(outputs):
    html = cell(outputs, 'gradcli.jvp(')["text/html"]
    x, y, z = -2.0, 5.0, -4.0
    assert f"f = {text((x + y) * z)}" in html
    assert f"∂f·t = {text(z * 1 + (x + y) * 2)}" in html
