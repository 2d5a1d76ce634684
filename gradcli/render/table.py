"""The default view: the lecture's backward pass as a Rich table, one row per edge, output first."""

from __future__ import annotations

from ..source import Span
from ..trace import Result
from . import gates, numbers
from .style import plain_ascii, table_box

# Rows shown unless --all: a 100,000-gate graph must not print 200,000 rows by default.
DEFAULT_ROWS = 100


def render(result: Result, console, *, digits: int = 6, all_rows: bool = False,
           ascii_only: bool = False) -> None:
    """Print the table. Box-drawing only on a terminal; `ascii_only` (TERM=dumb) avoids every
    non-ASCII character (∂ becomes d, … becomes ...)."""
    from rich.table import Table
    from rich.text import Text

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
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(headers)]
    # Numbers are never cut; the two label columns share what width is left, cut with "…".
    fixed = sum(widths[1:3] + widths[4:]) + 3 * (len(headers) - 1)
    if console.is_terminal:
        label_width = max(8, (console.width - fixed) // 2)
    else:  # a pipe or a file has no width to respect: never crop a number
        label_width = min(40, max([5] + [max(len(r[0]), len(r[3])) for r in rows]))
        console.width = max(80, fixed + 2 * label_width)

    source = Span(graph.source, 0, len(graph.source.text)).short_text(60)
    if ascii_only:
        source = plain_ascii(source)
        rows = [tuple(plain_ascii(cell) for cell in row) for row in rows]
    table = Table(show_edge=False, pad_edge=False, box=table_box(console, ascii_only))
    for i, header in enumerate(headers):
        if i in (0, 3):
            table.add_column(header, max_width=label_width, no_wrap=True,
                             overflow="crop" if ascii_only else "ellipsis")
        else:
            table.add_column(header, justify="left" if i in (1, 2) else "right", no_wrap=True,
                             min_width=widths[i])
    for row in rows:
        table.add_row(Text(row[0]), row[1], row[2], Text(row[3]), *row[4:])
    if edges:
        # a line of its own: a table title would wrap at the (possibly narrow) table's width
        console.print(Text(f"Backward pass of {source}"), no_wrap=True, overflow="ellipsis")
        console.print(table)
        if len(edges) > limit:
            console.print(f"... {len(edges) - limit} more rows not shown; --all shows every row",
                          style="dim", highlight=False)
        console.print()

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
    if ascii_only:
        text = plain_ascii(text)
    console.print(text, highlight=False, markup=False)
