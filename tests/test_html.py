"""Jupyter's views (gradcli/render/html.py through the results' _repr_*_ methods): the terminal
table's columns, roles and forks, every label escaped, arrays, nan and inf, the row cap."""

from __future__ import annotations

import html
import re
import subprocess

import pytest

import gradcli
from gradcli.evaluation.check import check
from gradcli.render import graphviz, table


def cells(page: str) -> list[list[str]]:
    """The table's rows as lists of unescaped cell texts (the header row first)."""
    rows = re.findall(r"<tr>(.*?)</tr>", page, flags=re.S)
    return [[html.unescape(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.S)] for row in rows]


@pytest.fixture
def no_dot(monkeypatch):
    monkeypatch.setattr(graphviz.shutil, "which", lambda name: None)


def test_the_lecture_table_has_the_terminal_tables_columns_and_roles(no_dot):
    result = gradcli.evaluate("(x+y)*z", x=-2, y=5, z=-4)
    rows = cells(result._repr_html_())
    assert rows[0] == list(table.HEADERS)
    assert rows[1:] == [
        ["(x+y)*z", "*", "swaps", "x+y", "3", "-12", "-4", "1", "-4"],
        ["(x+y)*z", "*", "swaps", "z", "-4", "-12", "3", "1", "3"],
        ["x+y", "+", "distributes", "x", "-2", "3", "1", "-4", "-4"],
        ["x+y", "+", "distributes", "y", "5", "3", "1", "-4", "-4"],
    ]
    page = result._repr_html_()
    assert "f = -12\n∂f/∂x = -4\n∂f/∂y = -4\n∂f/∂z = 3" in html.unescape(page)
    assert table.HOW_TO_READ in html.unescape(page)


def test_every_label_is_escaped(no_dot):
    result = gradcli.evaluate("x*y", x=2, y=3)
    x = next(node for node in result.graph.nodes if node.name == "x")
    x.name = "<b>x</b> & 'y'"
    result.gradients = {"<i>x</i>": 3.0}
    page = result._repr_html_()
    assert "<b>" not in page and "<i>" not in page
    assert "&lt;b&gt;x&lt;/b&gt; &amp; &#x27;y&#x27;" in page
    assert any(row[3] == "<b>x</b> & 'y'" for row in cells(page))
    assert "∂f/∂<i>x</i> = 3" in html.unescape(page)
    # Markdown: a | in a label does not split its cell
    x.name = "a|b"
    assert "| `a\\|b` |" in result._repr_markdown_()  # in a code span (render/markdown.py)


def test_forks_are_added_as_on_the_terminal(no_dot):
    result = gradcli.evaluate("x*x + x", x=3)
    page = html.unescape(result._repr_html_())
    assert "gradients added at forks (a value feeding several gates):" in page
    assert "∂f/∂x = 1 + 3 + 3 = 7" in page
    assert "Gradients added at forks (a value feeding several gates):" in result._repr_markdown_()


def test_arrays_show_their_shape_and_elements(no_dot):
    result = gradcli.evaluate("x * y", x=[1, 2], y=[3, 4])
    page = html.unescape(result._repr_html_())
    assert "(2,) [3, 8]" in page
    assert "f is an array of shape (2,)" in page
    assert "∂f/∂x = (2,) [3, 4]" in page
    assert r"(2,)\;[3, 4]" in result._repr_latex_()
    assert r"\partial \textstyle\sum f" in result._repr_latex_()


def test_nan_and_inf(no_dot):
    page = html.unescape(gradcli.evaluate("log(x) + sqrt(y)", x=0, y=-1)._repr_html_())
    assert "f = nan" in page
    assert "∂f/∂x = inf" in page and "∂f/∂y = nan" in page
    assert "<li>warning:" in page  # the run's diagnostics under the table
    latex = gradcli.evaluate("log(x)", x=0)._repr_latex_()
    assert r"f &= -\infty" in latex and r"&= \infty" in latex


def test_rows_are_cut_at_the_terminals_limit_with_a_note(no_dot):
    result = gradcli.evaluate(" + ".join(f"x{i}" for i in range(120)), **{f"x{i}": i for i in range(120)})
    page = result._repr_html_()
    assert len(cells(page)) == 1 + table.DEFAULT_ROWS
    assert f"{result.edge_count - table.DEFAULT_ROWS} more rows not shown" in page
    assert "more gradients not shown" in page


def test_latex_names_are_escaped(no_dot):
    latex = gradcli.evaluate("w_0 * x", w_0=2, x=3)._repr_latex_()
    assert r"\frac{\partial f}{\partial w_{0}} &= 3" in latex  # as language/formula.py writes names


def test_svg_where_dot_is_else_none_and_no_error(monkeypatch):
    result = gradcli.evaluate("(x+y)*z", x=-2, y=5, z=-4)
    if graphviz.shutil.which("dot") is not None:
        svg = result._repr_svg_()
        assert "<svg" in svg and "-12" in svg
        assert "<svg" in result._repr_html_()
    monkeypatch.setattr(graphviz.shutil, "which", lambda name: None)
    assert result._repr_svg_() is None
    assert "<svg" not in result._repr_html_() and "<table" in result._repr_html_()


def test_a_dot_that_hangs_gives_no_svg(monkeypatch):
    monkeypatch.setattr(graphviz.shutil, "which", lambda name: "/usr/bin/dot")

    def hang(*args, timeout=None, **kwargs):
        raise subprocess.TimeoutExpired(args[0], timeout)

    monkeypatch.setattr(graphviz.subprocess, "run", hang)
    assert gradcli.evaluate("x*y", x=1, y=2)._repr_svg_() is None


def test_the_other_results_show_as_html():
    graph = gradcli.parse("x**2 * y")
    report = check(graph, {"x": 3.0, "y": 2.0})
    rows = cells(report._repr_html_())
    assert rows[0][:2] == ["variable", "analytic"] and [r[:2] for r in rows[1:]] == [["x", "12"], ["y", "9"]]
    assert "check passed" in report._repr_html_()

    h = gradcli.hessian("x**2 * y", {"x": 3, "y": 2})
    assert cells(h._repr_html_()) == [["∂²f", "x", "y"], ["x", "4", "6"], ["y", "6", "0"]]

    p = gradcli.hvp("x**2 * y", {"x": 3, "y": 2}, {"x": 1})
    assert cells(p._repr_html_())[1:] == [["x", "12", "1", "4"], ["y", "9", "0", "6"]]

    j = gradcli.jvp("(x + y) * z", {"x": -2, "y": 5, "z": -4}, {"x": 1, "z": 2})
    assert "∂f·t = 2" in html.unescape(j._repr_html_())

    jac = gradcli.jacobian("g = x * y", x=[1, 2], y=3)
    assert cells(jac._repr_html_()) == [["∂out/∂in", "x[0]", "x[1]", "y"], ["g[0]", "3", "0", "1"],
                                        ["g[1]", "0", "3", "2"]]
    # the views a result has not: None, so Jupyter shows the next it can
    assert h._repr_svg_() is None and j._repr_markdown_() is None


def test_the_forks_and_gradients_read_as_in_the_terminal_table(no_dot):
    import io

    result = gradcli.evaluate("sig(t) = 1/(1+exp(-t)); u = x*y; sig(u) * u + max(x, y)", x=0.5, y=-2)
    out = io.StringIO()
    table.render(result, out)
    under_table = out.getvalue().split("\n\n", 1)[1].strip()  # f, the gradients, the forks
    assert under_table.count("\n") >= 4
    assert under_table in html.unescape(result._repr_html_())
    assert "routes (won)" in html.unescape(result._repr_html_())


def test_a_big_circuit_is_not_drawn_and_says_so(monkeypatch):
    from gradcli.render import html as views

    def never(*args, **kwargs):
        raise AssertionError("dot run on a big circuit")

    monkeypatch.setattr(graphviz.subprocess, "run", never)
    n = views.DRAWN_NODES
    result = gradcli.evaluate(" + ".join(f"x{i}" for i in range(n)), **{f"x{i}": 1 for i in range(n)})
    assert result._repr_svg_() is None
    page = result._repr_html_()
    assert "is not drawn here" in page and "<table" in page


def test_an_untraced_result_shows_f_and_its_gradients(no_dot):
    result = gradcli.parse("x*y").evaluate({"x": 2, "y": 3}, trace=False)
    page = result._repr_html_()
    assert "<table" not in page and "f = 6\n∂f/∂x = 3\n∂f/∂y = 2" in html.unescape(page)
    assert result._repr_markdown_() == "- f = 6\n- ∂f/∂x = 3\n- ∂f/∂y = 2"
