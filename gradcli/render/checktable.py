"""`gradcli check` for people: one row per checked element, then the kinks crossed."""

from __future__ import annotations

import math

from ..check import CheckReport
from ..source import Span
from . import numbers
from .style import plain_ascii, table_box


def error_text(error: float | None) -> str:
    if error is None:
        return ""
    if math.isnan(error):
        return "nan"
    return "0" if error == 0 else f"{error:.1e}"


def gate_text(node) -> str:
    return f"{node.label!r} ({node.op_name}, {node.span.where()})"


def render(report: CheckReport, console, *, digits: int = 6, ascii_only: bool = False) -> None:
    from rich.table import Table
    from rich.text import Text

    def num(value) -> str:
        return "" if value is None else numbers.scalar(value, digits)

    with_expected = any(e.expected is not None for e in report.entries)
    headers = ["variable", "analytic", "numeric", "rel. error", "verdict"]
    if with_expected:
        headers += ["expected", "rel. error", "verdict"]
    rows = []
    for e in report.entries:
        row = [e.label, num(e.analytic), num(e.numeric), error_text(e.error), e.verdict]
        if with_expected:
            row += [num(e.expected), error_text(e.expected_error), e.expected_verdict or ""]
        rows.append(row)

    graph = report.graph
    source = Span(graph.source, 0, len(graph.source.text)).short_text(60)
    tol = report.tolerances
    if ascii_only:
        source = plain_ascii(source)
        rows = [[plain_ascii(cell) for cell in row] for row in rows]
    table = Table(title=f"Gradient check of {source}", title_justify="left", show_edge=False, pad_edge=False,
                  box=table_box(console, ascii_only))
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(headers)]
    for i, header in enumerate(headers):
        left = header in ("variable", "verdict")
        table.add_column(header, justify="left" if left else "right", no_wrap=True, min_width=widths[i])
    for row in rows:
        table.add_row(Text(row[0]), *row[1:])
    if not console.is_terminal:  # a pipe or a file: never wrap or crop a row
        console.width = max(80, sum(widths) + 3 * (len(widths) - 1))
    lines = [f"f = {numbers.number(report.value, digits)}"]
    if report.gradient_of == "sum(f)":
        lines.append("f is an array: the gradients checked are those of sum(f)")
    lines.append(f"numeric = (f(v+h) - f(v-h)) / 2h with h = {tol.h:g}; "
                 f"wrong from a relative error of {tol.rtol:g}; good within {tol.atol:g}")
    for e in report.entries:
        if e.kinks:
            gates = ", ".join(gate_text(node) for node in e.kinks)
            lines.append(f"{e.label}: kink crossed at gate {gates}; the numeric gradient means nothing there")
    if rows:
        console.print(table)
        console.print()
    text = "\n".join(lines)
    console.print(plain_ascii(text) if ascii_only else text, highlight=False, markup=False, soft_wrap=True)
