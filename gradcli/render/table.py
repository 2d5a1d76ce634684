"""The default view: the lecture's backward pass as a Rich table, one row per edge, output first."""

from __future__ import annotations

from ..source import Span
from ..trace import Result
from . import gates, numbers
from .style import ascii_table, cut, is_console, plain_ascii, write

# Rows shown unless --all: a 100,000-gate graph must not print 200,000 rows by default.
DEFAULT_ROWS = 100


def render(result: Result, out, *, digits: int = 6, all_rows: bool = False,
           ascii_only: bool = False) -> None:
    """Print the table to a Rich console (a terminal) or a text stream (see style.py);
    `ascii_only` (TERM=dumb) avoids every non-ASCII character (∂ becomes d, … becomes ...)."""

    def num(value) -> str:
        return numbers.number(value, digits)

    graph = result.graph
    edges = result.edges
    limit = len(edges) if all_rows else DEFAULT_ROWS

    rows = []
    for edge in edges[:limit]:
        gate = edge.gate
        op = gate.op_name if gate.rewrite is None else f"{gate.op_name} (stable)"
        rows.append((gate.label, op, gates.role(edge), edge.input.label, num(result.trace[gate.id].value),
                     num(edge.local), num(edge.upstream), num(edge.result)))
    headers = ("gate", "op", "role", "input", "value", "local", "upstream", "result")
    source = Span(graph.source, 0, len(graph.source.text)).short_text(60)
    title = f"Backward pass of {source}"
    if edges:
        if is_console(out):
            _rich_table(out, title, headers, rows)
        else:
            # a pipe or a file has no width to respect: labels cut at 40, numbers never
            ellipsis = "..." if ascii_only else "…"
            rows = [(cut(r[0], 40, ellipsis), *r[1:3], cut(r[3], 40, ellipsis), *r[4:]) for r in rows]
            text = title + "\n" + ascii_table(headers, rows, right={4, 5, 6, 7})
            write(out, plain_ascii(text) if ascii_only else text)
        if len(edges) > limit:
            write(out, f"... {len(edges) - limit} more rows not shown; --all shows every row")
        write(out, "")

    lines = [f"f = {num(result.value)}"]
    if result.gradient_of == "sum(f)":
        lines.append(f"f is an array of shape {tuple(result.value.shape)}: "
                     "the gradients below are those of sum(f)")
    for name, grad in result.gradients.items():
        lines.append(f"∂f/∂{name} = {num(grad)}")
    if result.trace is not None:
        forks = [record for record in result.trace if record.is_fork]
        if forks:
            lines.append("")
            lines.append("gradients added at forks (a value feeding several gates):")
            for record in forks:
                terms = " + ".join(num(edge.result) for edge in record.arrivals)
                lines.append(f"  ∂f/∂{record.node.label} = {terms} = {num(record.gradient)}")
    text = "\n".join(lines)
    write(out, plain_ascii(text) if ascii_only else text)


def _rich_table(console, title: str, headers, rows) -> None:
    """On a terminal: numbers never cut, the two label columns share the width that is left."""
    from rich.box import HEAVY_HEAD
    from rich.table import Table
    from rich.text import Text

    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(headers)]
    fixed = sum(widths[1:3] + widths[4:]) + 3 * (len(headers) - 1)
    label_width = max(8, (console.width - fixed) // 2)
    table = Table(show_edge=False, pad_edge=False, box=HEAVY_HEAD)
    for i, header in enumerate(headers):
        if i in (0, 3):
            table.add_column(header, max_width=label_width, no_wrap=True, overflow="ellipsis")
        else:
            table.add_column(header, justify="left" if i in (1, 2) else "right", no_wrap=True,
                             min_width=widths[i])
    for row in rows:
        table.add_row(Text(row[0]), row[1], row[2], Text(row[3]), *row[4:])
    # a line of its own: a table title would wrap at the (possibly narrow) table's width
    console.print(Text(title), no_wrap=True, overflow="ellipsis")
    console.print(table)
