"""`gradcli jacobian`'s views of a Jacobian: a table for people (a row per output element, a column
per input element, the mode and why it was chosen on a line), JSON, CSV and plain lines."""

from __future__ import annotations

import csv

from ..evaluation.jacobian import Jacobian
from . import numbers
from .jsondoc import jsonable, write_matrix_document
from .style import GAP, ascii_table, is_console, light_table, plain_ascii, write

HOW_TO_READ = "row: an output element, column: an input element; each entry ∂row/∂column"


def document(j: Jacobian) -> dict:
    """`--format json`: {"outputs" ({name: value}), "rows", "columns" (the labels), "jacobian"
    (the matrix, an array: `render_json` writes its rows), "mode", "reason", "warnings"}; nan
    and inf as the strings "NaN", "Infinity", "-Infinity"."""
    return {
        "outputs": {name: jsonable(value) for name, value in j.outputs.items()},
        "rows": list(j.rows),
        "columns": list(j.columns),
        "jacobian": j.matrix,
        "mode": j.mode,
        "reason": j.reason,
        "warnings": j.warnings,
    }


def render_json(j: Jacobian, out) -> None:
    """The document in ASCII like gradcli's other documents, one matrix row a line."""
    write_matrix_document(document(j), "jacobian", out)


def render_csv(j: Jacobian, out) -> None:
    """`--format csv`: a header `output,<column label>…`, then one line per row, full precision."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["output", *j.columns])
    for label, row in zip(j.rows, j.matrix):
        writer.writerow([label, *numbers.exact_row(row)])


def render_plain(j: Jacobian, out) -> None:
    """`--format plain`: one line per row, `LABEL V1 V2 …`, space-separated, full precision (for
    awk and `read`); the columns are in the order of the other views."""
    for label, row in zip(j.rows, j.matrix):  # (a line at a time: m × n numbers)
        out.write(" ".join([label, *numbers.exact_row(row)]) + "\n")


def mode_line(j: Jacobian) -> str:
    return f"mode: {j.mode} ({j.reason})"


def render_table(j: Jacobian, out, *, digits: int = 6, ascii_only: bool = False, title: str | None = None) -> None:
    """Print the table to a Rich console (a terminal) or a text stream (see style.py): the
    matrix, then each output's value and the mode. On a terminal, columns that do not fit its
    width go to further tables, each repeating the row labels; numbers are never cut."""

    def num(value) -> str:
        return numbers.scalar(value, digits)

    headers = ["", *j.columns]
    rows = [[label, *map(num, row)] for label, row in zip(j.rows, j.matrix)]
    heading = f"Jacobian of {title}\n{HOW_TO_READ}" if title else HOW_TO_READ
    if is_console(out):
        _rich_table(out, heading, headers, rows)
    else:
        text = heading + "\n" + ascii_table(headers, rows, right=set(range(1, len(headers))))
        write(out, plain_ascii(text) if ascii_only else text)
    write(out, "")
    lines = [f"{name} = {numbers.number(value, digits)}" for name, value in j.outputs.items()]
    lines.append(mode_line(j))
    text = "\n".join(lines)
    if is_console(out):  # (wrapped at the terminal's width: the reason is a sentence)
        from rich.text import Text

        out.print(Text(text))
    else:
        write(out, plain_ascii(text) if ascii_only else text)


def _rich_table(console, heading: str, headers, rows) -> None:
    from rich.text import Text

    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(headers)]
    room = console.width - widths[0] - GAP
    groups, group, used = [], [], 0
    for i in range(1, len(headers)):
        need = widths[i] + GAP
        if group and used + need > room:
            groups.append(group)
            group, used = [], 0
        group.append(i)
        used += need
    if group:
        groups.append(group)
    console.print(Text(heading))
    for columns in groups:
        if len(groups) > 1:
            console.print(Text(f"columns {headers[columns[0]]} to {headers[columns[-1]]}", style="bold"))
        table = light_table()
        for i in (0, *columns):
            table.add_column(headers[i], justify="left" if i == 0 else "right", no_wrap=True)
        for row in rows:
            table.add_row(*(Text(row[i]) for i in (0, *columns)))
        console.print(table)
