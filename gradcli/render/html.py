"""Jupyter's views of results (IPython's rich display protocol): HTML, Markdown and LaTeX text.

Pure functions from a result to text. The result classes' `_repr_html_`, `_repr_markdown_`,
`_repr_latex_` and `_repr_svg_` reach them through `display` (connected by gradcli/__init__.py:
core and evaluation do not import render). Every label is escaped (html.escape; `|` in Markdown),
every number is written by numbers.py (the Markdown and LaTeX views are render/markdown.py's and
render/latex.py's, the same as `--format markdown` and `--format latex`), and the backward table has the terminal table's columns,
roles and forks, cut at table.DEFAULT_ROWS rows with a note.
"""

from __future__ import annotations

from html import escape
from itertools import islice

from . import gates, numbers, table

DIGITS = 6
ROWS = table.DEFAULT_ROWS  # rows (and gradients, forks, matrix rows) shown, as on the terminal
# A bigger circuit is not drawn in a notebook: dot takes seconds to minutes on thousands of nodes,
# and Jupyter asks for each view every time a cell shows a result.
DRAWN_NODES = 200


def _num(value) -> str:
    return numbers.number(value, DIGITS)


def _cell(text: str, tag: str = "td", number: bool = False) -> str:
    style = ' style="text-align:right"' if number else ' style="text-align:left"'
    return f"<{tag}{style}>{escape(text)}</{tag}>"


def _table(headers, rows, number_columns=(), caption: str | None = None) -> str:
    parts = ['<table class="gradcli">']
    if caption is not None:
        parts.append(f"<caption>{escape(caption)}</caption>")
    parts.append("<thead><tr>" + "".join(_cell(h, "th", i in number_columns) for i, h in enumerate(headers))
                 + "</tr></thead><tbody>")
    for row in rows:
        parts.append("<tr>" + "".join(_cell(c, "td", i in number_columns) for i, c in enumerate(row)) + "</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def _note(text: str) -> str:
    return f"<p><em>{escape(text)}</em></p>"


def _lines(lines) -> str:
    return "<pre>" + escape("\n".join(lines)) + "</pre>" if lines else ""


def _warnings(diagnostics) -> str:
    messages = [d.message for d in diagnostics]
    if not messages:
        return ""
    return "<ul>" + "".join(f"<li>warning: {escape(m)}</li>" for m in messages) + "</ul>"


# ---- the backward pass (Result) ----

def backward_rows(result):
    """The terminal table's rows (table.HEADERS), output first, as texts."""
    return table.rows(result, _num)


def _summary(result, name: str = "f"):
    """f, ∂f/∂v per variable (at most ROWS), as (label, number text) pairs; and a note or None."""
    pairs = [(name, _num(result.value))]
    gradients = result.gradients
    for variable, grad in islice(gradients.items(), ROWS):
        pairs.append((f"∂{name}/∂{variable}", _num(grad)))
    hidden = len(gradients) - ROWS
    return pairs, (f"… {hidden} more gradients not shown" if hidden > 0 else None)


def _forks(result, name: str = "f") -> tuple[list[str], int]:
    trace = result.trace
    if trace is None:
        return [], 0
    lines, count = [], 0
    for record in trace:
        if not record.is_fork:
            continue
        count += 1
        if count > ROWS:
            continue
        arrivals = record.arrivals
        terms = numbers.joined_sum(_num(edge.result) for edge in islice(arrivals, table.DEFAULT_TERMS))
        if len(arrivals) > table.DEFAULT_TERMS:
            terms += f" + … ({len(arrivals) - table.DEFAULT_TERMS} more terms)"
        lines.append(f"∂{name}/∂{record.node.label} = {terms} = {_num(record.gradient)}")
    return lines, count


def result_html(result) -> str:
    total = result.edge_count
    shown = min(total, ROWS)
    parts = ['<div class="gradcli-result">']
    drawing = result_svg(result) if shown else None  # the circuit inline, where dot is installed
    if shown and len(result.graph.nodes) > DRAWN_NODES:
        parts.append(_note(f"The circuit ({len(result.graph.nodes)} nodes) is not drawn here: more than "
                           f"{DRAWN_NODES}; gradcli eval … --output circuit.svg draws it"))
    if drawing is not None:
        start = drawing.find("<svg")
        parts.append(f'<div class="gradcli-circuit">{drawing[start:] if start >= 0 else drawing}</div>')
    if shown:
        parts.append(f"<p><strong>Backward pass of {escape(gates.title(result.graph))}</strong><br/>"
                     f"<em>{escape(table.HOW_TO_READ)}</em></p>")
        parts.append(_table(table.HEADERS, islice(backward_rows(result), shown), table.NUMBER_COLUMNS))
        if total > shown:
            parts.append(_note(f"… {total - shown} more rows not shown; gradcli eval --all shows every row"))
    pairs, note = _summary(result)
    lines = [f"{label} = {value}" for label, value in pairs]
    if result.gradient_of == "sum(f)":
        lines.insert(1, f"f is an array of shape {tuple(result.value.shape)}: the gradients below are those of sum(f)")
    if note:
        lines.append(note)
    forks, count = _forks(result)
    if forks:
        lines += ["", "gradients added at forks (a value feeding several gates):", *("  " + f for f in forks)]
        if count > ROWS:
            lines.append(f"  … {count - ROWS} more forks not shown")
    parts.append(_lines(lines))
    parts.append(_warnings(result.diagnostics))
    parts.append("</div>")
    return "".join(parts)


def result_markdown(result) -> str:
    """The Markdown view: render/markdown.py's table (the one `--format markdown` prints)."""
    from . import markdown

    return markdown.result_markdown(result, digits=DIGITS)


def result_latex(result) -> str:
    """The LaTeX view: f and ∂f/∂v as render/latex.py's equations (those `--format latex`
    prints under its table), in one MathJax display."""
    from . import latex

    return latex.display_math(result, digits=DIGITS)


# ---- the other results ----

def check_html(report) -> str:
    from .checktable import error_text

    def num(value) -> str:
        return "" if value is None else numbers.scalar(value, DIGITS)

    along = report.direction is not None
    with_expected = any(e.expected is not None for e in report.entries)
    headers = ["output" if along else "variable", "analytic", "numeric", "rel. error", "verdict"]
    if with_expected:
        headers += ["expected", "rel. error", "verdict"]
    rows = []
    for e in islice(report.entries, ROWS):
        row = [e.label, num(e.analytic), num(e.numeric), error_text(e.error), e.verdict]
        if with_expected:
            row += [num(e.expected), error_text(e.expected_error), e.expected_verdict or ""]
        rows.append(row)
    title = f"{'Directional derivative' if along else 'Gradient'} check of {gates.title(report.graph)}"
    parts = ['<div class="gradcli-check">', f"<p><strong>{escape(title)}</strong></p>",
             _table(headers, rows, {1, 2, 3, 5, 6}) if rows else ""]
    if len(report.entries) > ROWS:
        parts.append(_note(f"… {len(report.entries) - ROWS} more entries not shown"))
    parts += [_lines([f"f = {_num(report.value)}", report.summary()]), _warnings(report.diagnostics), "</div>"]
    return "".join(parts)


def _matrix(row_labels, column_labels, matrix, corner: str = "") -> str:
    """A labelled matrix, at most ROWS rows and ROWS columns, with a note of what is cut."""
    rows_shown, columns_shown = min(len(row_labels), ROWS), min(len(column_labels), ROWS)
    headers = [corner, *column_labels[:columns_shown]]
    rows = ([row_labels[i], *(_num(v) for v in matrix[i, :columns_shown])] for i in range(rows_shown))
    html = _table(headers, rows, set(range(1, columns_shown + 1)))
    hidden = [f"{n - shown} more {what}" for n, shown, what in
              ((len(row_labels), rows_shown, "rows"), (len(column_labels), columns_shown, "columns")) if n > shown]
    return html + (_note("… " + " and ".join(hidden) + " not shown") if hidden else "")


def hessian_html(h) -> str:
    title = "Hessian" + (f" of {gates.title(h.graph)}" if h.graph is not None else "")
    lines = [f"f = {_num(h.f)}", *(f"∂f/∂{n} = {_num(g)}" for n, g in islice(zip(h.names, h.gradient), ROWS))]
    return "".join(['<div class="gradcli-hessian">', f"<p><strong>{escape(title)}</strong></p>",
                    _matrix(h.names, h.names, h.matrix, "∂²f"), _lines(lines), _warnings(h.diagnostics), "</div>"])


def hvp_html(p) -> str:
    title = "Hessian-vector product" + (f" of {gates.title(p.graph)}" if p.graph is not None else "")
    rows = [(name, _num(p.gradients[name]), _num(p.tangent[name]), _num(p.hvp[name]))
            for name in islice(p.variables, ROWS)]
    return "".join(['<div class="gradcli-hvp">', f"<p><strong>{escape(title)}</strong></p>",
                    _table(("variable", "∂f/∂v", "v", "H·v"), rows, {1, 2, 3}),
                    _lines([f"f = {_num(p.f)}"]), _warnings(p.diagnostics), "</div>"])


def jvp_html(j) -> str:
    title = f"Forward mode (JVP) of {gates.title(j.graph)}"
    rows = [(name, _num(t)) for name, t in islice(j.seeds.items(), ROWS)]
    return "".join(['<div class="gradcli-jvp">', f"<p><strong>{escape(title)}</strong></p>",
                    _table(("variable", "tangent t"), rows, {1}),
                    _lines([f"f = {_num(j.value)}", f"∂f·t = {_num(j.tangent)}"]), _warnings(j.diagnostics),
                    "</div>"])


def jacobian_html(j) -> str:
    lines = [f"{name} = {_num(value)}" for name, value in islice(j.outputs.items(), ROWS)]
    lines.append(f"{j.mode} mode: {j.reason}")
    return "".join(['<div class="gradcli-jacobian">', "<p><strong>Jacobian</strong></p>",
                    _matrix(j.rows, j.columns, j.matrix, "∂out/∂in"), _lines(lines), _warnings(j.diagnostics),
                    "</div>"])


def result_svg(result) -> str | None:
    """The circuit as SVG, drawn by Graphviz's dot; None where dot is missing, fails or takes too
    long, and for a circuit of more than DRAWN_NODES nodes."""
    from . import dot, graphviz

    if len(result.graph.nodes) > DRAWN_NODES:
        return None

    return graphviz.svg(dot.render(result, digits=DIGITS))


_VIEWS = {
    ("Result", "html"): result_html,
    ("Result", "markdown"): result_markdown,
    ("Result", "latex"): result_latex,
    ("Result", "svg"): result_svg,
    ("CheckReport", "html"): check_html,
    ("Hessian", "html"): hessian_html,
    ("HVP", "html"): hvp_html,
    ("JVP", "html"): jvp_html,
    ("Jacobian", "html"): jacobian_html,
}


def display(kind: str, result) -> str | None:
    """The `kind` view (html, markdown, latex, svg) of a result, or None where it has none."""
    view = _VIEWS.get((type(result).__name__, kind))
    return None if view is None else view(result)
