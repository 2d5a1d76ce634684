"""`gradcli check` for people: one row per checked element, then the kinks crossed."""

from __future__ import annotations

import math

from ..evaluation.check import CheckReport
from ..base.source import Span
from . import numbers
from .style import (LABEL_MIN, ascii_table, distinct_width, fit, head_line, is_console, light_table, plain_ascii,
                    shorten, stacked, write)


# The direction's variables named under the table (the JSON has them all).
DIRECTION_SHOWN = 10


def error_text(error: float | None) -> str:
    if error is None:
        return ""
    if math.isnan(error):
        return "nan"
    return "0" if error == 0 else f"{error:.1e}"


def gate_text(node) -> str:
    return f"{node.label!r} ({node.gate_name}, {node.span.where()})"


def render(report: CheckReport, out, *, digits: int = 6, ascii_only: bool = False) -> None:
    """Print the check to a Rich console (a terminal) or a text stream (see style.py)."""

    def num(value) -> str:
        return "" if value is None else numbers.scalar(value, digits)

    with_expected = any(e.expected is not None for e in report.entries)
    along = report.direction is not None  # check_direction's: one entry per element of f
    headers = ["output" if along else "variable", "analytic", "numeric", "rel. error", "verdict"]
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
    title = f"{'Directional derivative' if along else 'Gradient'} check of {source}"
    tol = report.tolerances
    left = {i for i, header in enumerate(headers) if header in ("variable", "output", "verdict")}
    if rows:
        if is_console(out):
            _rich_table(out, title, headers, rows, left)
        else:
            text = title + "\n" + ascii_table(headers, rows, right=set(range(len(headers))) - left)
            write(out, plain_ascii(text) if ascii_only else text)
        write(out, "")
    lines = [f"f = {numbers.number(report.value, digits)}"]
    if report.gradient_of == "sum(f)":
        lines.append("f is an array: the gradients checked are those of sum(f)")
    if along:
        seeds = list(report.direction.items())
        shown = ", ".join(f"{name} = {numbers.number(t, digits)}" for name, t in seeds[:DIRECTION_SHOWN])
        more = f", … ({len(seeds) - DIRECTION_SHOWN} more)" if len(seeds) > DIRECTION_SHOWN else ""
        lines.append(f"t: {shown}{more}")
        lines.append(f"analytic = ∂f·t by forward mode (JVP); numeric = (f(v+h·t) - f(v-h·t)) / 2h with h = {tol.h:g}; "
                     f"wrong from a relative error of {tol.rtol:g}; good within {tol.atol:g}")
    else:
        lines.append(f"numeric = (f(v+h) - f(v-h)) / 2h with h = {tol.h:g}; "
                     f"wrong from a relative error of {tol.rtol:g}; good within {tol.atol:g}")
    kinked = [e for e in report.entries if e.kinks]
    if along and kinked:  # one crossing along t serves every element of f: said once
        gates = ", ".join(gate_text(node) for node in kinked[0].kinks)
        lines.append(f"kink crossed along t at gate {gates}; the numeric derivative means nothing there")
    for e in report.entries if not along else ():
        if e.kinks:
            gates = ", ".join(gate_text(node) for node in e.kinks)
            lines.append(f"{e.label}: kink crossed at gate {gates}; the numeric gradient means nothing there")
    text = "\n".join(lines)
    write(out, plain_ascii(text) if ascii_only else text)


def _rich_table(console, title: str, headers, rows, left: set[int]) -> None:
    """Numbers and verdicts are never cut: the variable's label gives way (… in its middle, never
    so far that two variables read alike), and where even so the table is wider than the
    terminal, each row is printed stacked."""
    from rich.text import Text

    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(headers)]
    apart = max(distinct_width([row[0] for row in rows], LABEL_MIN), min(LABEL_MIN, widths[0]))
    # a header wraps between its words first (`rel.` over `error`), then the variable gives way
    wrapped = {i: max([max(map(len, h.split()))] + [len(row[i]) for row in rows]) for i, h in enumerate(headers)}
    fitted = fit(widths, console.width, ((tuple(range(1, len(headers))), wrapped), ((0,), apart)))
    console.print(Text(title), no_wrap=True, overflow="ellipsis")
    if fitted is None:
        for row in rows:
            head = head_line(row[0], f"  {row[4]}", console.width)
            items = [f"{h} {cell}" for i, (h, cell) in enumerate(zip(headers, row)) if i and i != 4 and cell]
            stacked(console, [head], items)
        return
    table = light_table()
    for i, header in enumerate(headers):
        # a number's header wraps (no cell is wider than its column); the variable's is cut
        table.add_column(header, justify="left" if i in left else "right", width=fitted[i],
                         no_wrap=i == 0, overflow="ellipsis" if i == 0 else "fold")
    for row in rows:  # Text, not markup
        table.add_row(Text(shorten(row[0], fitted[0])), *map(Text, row[1:]))
    console.print(table)
