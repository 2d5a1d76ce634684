"""`gradcli eval --format markdown` (render/markdown.py), read back by a real CommonMark/GFM parser
(markdown-it-py, which Rich depends on): the table's cells are the terminal table's, no label is
read as Markdown, and --steps' equations are the LaTeX ones in `$$` blocks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from markdown_it import MarkdownIt

import gradcli
from gradcli.render import markdown, numbers, table

from test_latex import ARRAY, LECTURE, NEURON, NEURON_POINT, array_gradients, eval_text, neuron, neuron_gradients, six


def parsed_tables(text: str) -> list[list[list[str]]]:
    """Each GFM table's rows (header first) as their cells' text, as a renderer reads them."""
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    tables, rows, cells = [], None, None
    for token in tokens:
        if token.type == "table_open":
            rows = []
        elif token.type == "table_close":
            tables.append(rows)
        elif token.type == "tr_open":
            cells = []
        elif token.type == "tr_close":
            rows.append(cells)
            cells = None
        elif token.type == "inline" and cells is not None and rows is not None:
            cells.append("".join(child.content for child in token.children or [] if child.type in ("text", "code_inline"))
                         if token.children else token.content)
    return tables


def html(text: str) -> str:
    return MarkdownIt("commonmark").enable("table").render(text)


def terminal_rows(*args: str) -> list[tuple]:
    """The rows the terminal table shows (table.rows, 6 digits), as oracle for the cells."""
    program, *pairs = args
    values = {k: (float(v) if "[" not in v else np.array(eval(v))) for k, v in (p.split("=", 1) for p in pairs)}
    return list(table.rows(gradcli.evaluate(program, **values), lambda v: numbers.number(v, 6)))


@pytest.mark.parametrize("args", [LECTURE, NEURON, ARRAY], ids=["lecture", "neuron", "array"])
def test_the_table_has_the_terminal_tables_cells(cli, args):
    out = eval_text(cli, *args, "-f", "markdown")
    (rows,) = parsed_tables(out)
    assert rows[0] == list(table.HEADERS)
    assert [tuple(r) for r in rows[1:]] == terminal_rows(*args)


def test_the_lecture_numbers_by_hand(cli):
    out = eval_text(cli, *LECTURE, "-f", "markdown")
    rows = parsed_tables(out)[0][1:]
    assert [r[4:] for r in rows] == [["3", "-12", "-4", "1", "-4"], ["-4", "-12", "3", "1", "3"],
                                     ["-2", "3", "1", "-4", "-4"], ["5", "3", "1", "-4", "-4"]]
    assert "- f = -12\n- ∂f/∂x = -4\n- ∂f/∂y = -4\n- ∂f/∂z = 3" in out


def test_the_neuron_and_the_array_program_against_independent_numbers(cli):
    out = eval_text(cli, *NEURON, "-f", "markdown")
    assert f"- f = {six(neuron(NEURON_POINT))}" in out
    for name, grad in neuron_gradients().items():
        assert f"- ∂f/∂{name} = {six(grad)}" in out
    f, dx, dw = array_gradients()
    out = eval_text(cli, *ARRAY, "-f", "markdown")
    assert f"- f = {six(f)}" in out
    assert f"- ∂f/∂w = `(2,) [{six(dw[0])}, {six(dw[1])}]`" in out


def test_no_label_is_read_as_markdown(cli):
    out = eval_text(cli, "a*b*c + a_1*b_1*c_1", "a=1", "b=2", "c=3", "a_1=1", "b_1=1", "c_1=1", "-f", "markdown")
    page = html(out)
    assert "<em>" not in page.split("<table>")[1] and "<strong>" not in page.split("<table>")[1]
    assert "<code>a*b*c + a_1*b_1*c_1</code>" in page
    # a | and backticks inside a label: one cell, the label whole
    assert markdown.code("a|b") == r"`a\|b`" and markdown.code("x`y") == "``x`y``"
    text = "| " + " | ".join([markdown.code("a|b"), markdown.code("``x``"), "1"]) + " |\n|---|---|---|\n| 1 | 2 | 3 |"
    assert parsed_tables("| h | i | j |\n|---|---|---|\n" + text.split("\n", 1)[0])[0][1] == ["a|b", "``x``", "1"]
    assert markdown.escape("x*y_z [a](b) <c> $d$ |e|") == r"x\*y\_z \[a\](b) \<c\> \$d\$ \|e\|"


def test_steps_are_the_latex_equations_in_display_blocks(cli):
    out = eval_text(cli, "q = x + y; f = q * z", "x=-2", "y=5", "z=-4", "--steps", "-f", "markdown")
    assert "**1.** $f = q z = -12$ (`*` gate: swaps)" in out
    assert "**2.** $q = x + y = 3$ (`+` gate: distributes)" in out
    blocks = out.split("$$\n")[1::2]
    assert len(blocks) == 3 and all(b.startswith("\\begin{aligned}") for b in blocks)
    assert r"\frac{\partial f}{\partial q} &= z = -4 \\" in blocks[0]
    assert r"\frac{\partial f}{\partial x} &= 1 \cdot \frac{\partial f}{\partial q} = 1 \cdot \left(-4\right) = -4" in blocks[1]
    assert "- *swaps*: scales each input's gradient by the other input's value" in out


def test_several_outputs_each_under_a_heading(cli):
    out = eval_text(cli, "q = x*y; g = exp(q) + q", "x=1", "y=2", "--outputs", "q,g", "-f", "markdown")
    assert out.startswith("### Output `q`") and "\n### Output `g`\n" in out
    assert f"- ∂g/∂x = {six(2 * (math.exp(2) + 1))}" in out
    assert "- ∂g/∂`q` = 1 + 7.38906 = 8.38906" in out  # q forks
    assert len(parsed_tables(out)) == 2


def test_the_notebook_view_is_this_renderer(cli):
    result = gradcli.evaluate("(x+y)*z", x=-2, y=5, z=-4)
    assert result._repr_markdown_() + "\n" == eval_text(cli, *LECTURE, "-f", "markdown")
    assert result._repr_latex_().startswith("$$\\begin{aligned}f &= -12 \\\\ \\frac{\\partial f}{\\partial x} &= -4")


def test_no_line_ends_in_spaces(cli):
    """A Markdown line ending in two spaces is a line break no reader sees (nor the README's
    blocks): the heading and how to read the table are two paragraphs."""
    for args in (LECTURE, ARRAY, NEURON):
        for extra in ((), ("--steps",)):
            out = eval_text(cli, *args, "-f", "markdown", *extra)
            assert [line for line in out.splitlines() if line != line.rstrip()] == []
    out = eval_text(cli, *LECTURE, "-f", "markdown")
    assert out.startswith("**Backward pass of** `(x+y)*z`\n\n*read a row as the chain rule")
