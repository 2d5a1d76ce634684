"""`gradcli hessian`'s views of a Hessian: a table for people (the gradient beside the matrix, the
repeated upper triangle dimmed on a terminal, a line on symmetry), JSON, CSV and plain lines; and
the same four views of a Hessian-vector product (`--tangent`)."""

from __future__ import annotations

import csv
import json

from ..evaluation.hessian import HVP, Hessian
from . import numbers
from .jsondoc import jsonable, write_matrix_document
from .style import GAP, ascii_table, is_console, light_table, plain_ascii, write

GRADIENT = "∂f/∂v"
HOW_TO_READ = "row v, column w: ∂²f/∂v∂w; beside it the gradient ∂f/∂v"


def document(h: Hessian) -> dict:
    """`--format json`: {"f", "variables" (the labels), "gradient", "hessian" (the matrix, an
    array: `render_json` writes its rows), "symmetric", "warnings"}; nan and inf as the strings
    "NaN", "Infinity", "-Infinity"."""
    return {
        "f": jsonable(h.f),
        "variables": list(h.names),
        "gradient": jsonable(h.gradient),
        "hessian": h.matrix,
        "symmetric": h.symmetric,
        "warnings": h.warnings,
    }


def render_json(h: Hessian, out) -> None:
    """The document in ASCII like gradcli's other documents, one matrix row a line."""
    write_matrix_document(document(h), "hessian", out)


def render_csv(h: Hessian, out) -> None:
    """`--format csv`: a header `variable,gradient,<label>…`, then one row per variable, full
    precision (f is in the json and plain views)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["variable", "gradient", *h.names])
    for label, grad, row in zip(h.names, h.gradient, h.matrix):
        writer.writerow([label, numbers.exact(grad), *numbers.exact_row(row)])


def render_plain(h: Hessian, out) -> None:
    """`--format plain`: `f VALUE`, then per variable `LABEL GRADIENT H-ROW…`, space-separated,
    full precision (for awk and `read`)."""
    out.write(f"f {numbers.exact(h.f)}\n")
    for label, grad, row in zip(h.names, h.gradient, h.matrix):  # (a line at a time: n² numbers)
        out.write(" ".join([label, numbers.exact(grad), *numbers.exact_row(row)]) + "\n")


def symmetry_line(h: Hessian, digits: int, ascii_only: bool = False) -> str | None:
    """One line on H = Hᵀ (none for a 1×1 matrix)."""
    if len(h.names) < 2:
        return None
    if h.symmetric:
        gap = h.asymmetry
        rest = "exactly" if gap == 0 else f"to {numbers.scalar(gap, 2)}"
        mark = "" if ascii_only else " ✓"
        return f"symmetric: H[v,w] = H[w,v] {rest}{mark} (the upper triangle repeats the lower)"
    import numpy as np

    m = h.matrix
    with np.errstate(all="ignore"):
        gap = np.where(np.isfinite(m) & np.isfinite(m.T), np.abs(m - m.T), 0.0)
    i, j = np.unravel_index(int(np.argmax(gap)), gap.shape)
    return (f"not symmetric: H[{h.names[i]},{h.names[j]}] = {numbers.scalar(m[i, j], digits)} but "
            f"H[{h.names[j]},{h.names[i]}] = {numbers.scalar(m[j, i], digits)} "
            "(f is not twice continuously differentiable here, e.g. at a kink)")


def render_table(h: Hessian, out, *, digits: int = 6, ascii_only: bool = False, title: str | None = None) -> None:
    """Print the table to a Rich console (a terminal) or a text stream (see style.py)."""

    def num(value) -> str:
        return numbers.scalar(value, digits)

    headers = ["", GRADIENT, *h.names]
    rows = [[label, num(grad), *map(num, row)] for label, grad, row in zip(h.names, h.gradient, h.matrix)]
    heading = f"Hessian of {title}\n{HOW_TO_READ}" if title else HOW_TO_READ
    if rows:
        if is_console(out):
            _rich_table(out, heading, headers, rows, dim_upper=h.symmetric)
        else:
            text = heading + "\n" + ascii_table(headers, rows, right=set(range(1, len(headers))))
            write(out, plain_ascii(text) if ascii_only else text)
        write(out, "")
    lines = [f"f = {num(h.f)}"]
    line = symmetry_line(h, digits, ascii_only)
    if line:
        lines.append(line)
    text = "\n".join(lines)
    write(out, plain_ascii(text) if ascii_only else text)


def _rich_table(console, heading: str, headers, rows, *, dim_upper: bool) -> None:
    """The matrix's columns in as many tables as the terminal's width needs, each repeating the
    label and gradient columns; numbers are never cut."""
    from rich.text import Text

    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(headers)]
    room = console.width - widths[0] - widths[1] - 2 * GAP
    groups, group, used = [], [], 0
    for i in range(2, len(headers)):
        need = widths[i] + GAP
        if group and used + need > room:
            groups.append(group)
            group, used = [], 0
        group.append(i)
        used += need
    if group:
        groups.append(group)
    console.print(Text(heading))
    for number, columns in enumerate(groups):
        if len(groups) > 1:
            console.print(Text(f"columns {headers[columns[0]]} to {headers[columns[-1]]}", style="bold"))
        table = light_table()
        for i in (0, 1, *columns):
            table.add_column(headers[i], justify="left" if i == 0 else "right", no_wrap=True)
        for r, row in enumerate(rows):
            cells = [Text(row[0]), Text(row[1])]
            cells += [Text(row[i], style="dim" if dim_upper and i - 2 > r else "") for i in columns]
            table.add_row(*cells)
        console.print(table)


# -- a Hessian-vector product (gradcli hessian --tangent) -------------------------------------------

HVP_HEADERS = ["", "∂f/∂w", "v", "(H·v)"]
HOW_TO_READ_HVP = "row w: the gradient ∂f/∂w, the tangent v, and (H·v) = sum over u of ∂²f/∂w∂u × v_u"


def hvp_document(p: HVP) -> dict:
    """`--format json` with --tangent: {"f", "variables" (the labels), "gradient", "tangent",
    "hvp", "warnings"}, one number per label; nan and inf as strings, as for the Hessian."""
    return {
        "f": jsonable(p.f),
        "variables": p.names,
        "gradient": jsonable(p.flat("gradients")),
        "tangent": jsonable(p.flat("tangent")),
        "hvp": jsonable(p.flat("hvp")),
        "warnings": p.warnings,
    }


def render_hvp_json(p: HVP, out) -> None:
    doc = hvp_document(p)
    lines = [f"  {json.dumps(key)}: {json.dumps(value, allow_nan=False)}" for key, value in doc.items()]
    out.write("{\n" + ",\n".join(lines) + "\n}\n")


def _hvp_rows(p: HVP):
    return zip(p.names, p.flat("gradients"), p.flat("tangent"), p.flat("hvp"))


def render_hvp_csv(p: HVP, out) -> None:
    """`--format csv` with --tangent: a header `variable,gradient,tangent,hvp`, a row per label."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["variable", "gradient", "tangent", "hvp"])
    for label, *numbers_ in _hvp_rows(p):
        writer.writerow([label, *map(numbers.exact, numbers_)])


def render_hvp_plain(p: HVP, out) -> None:
    """`--format plain` with --tangent: `f VALUE`, then `LABEL GRADIENT TANGENT HVP` lines."""
    lines = [f"f {numbers.exact(p.f)}"]
    lines += [" ".join([label, *map(numbers.exact, numbers_)]) for label, *numbers_ in _hvp_rows(p)]
    out.write("\n".join(lines) + "\n")


def render_hvp_table(p: HVP, out, *, digits: int = 6, ascii_only: bool = False, title: str | None = None) -> None:
    """The labels with the gradient, the tangent and H·v, then f."""

    def num(value) -> str:
        return numbers.scalar(value, digits)

    headers = HVP_HEADERS
    rows = [[label, *map(num, numbers_)] for label, *numbers_ in _hvp_rows(p)]
    heading = f"Hessian-vector product of {title}\n{HOW_TO_READ_HVP}" if title else HOW_TO_READ_HVP
    if is_console(out):
        from rich.text import Text

        out.print(Text(heading))
        table = light_table()
        for i, header in enumerate(headers):
            table.add_column(header, justify="left" if i == 0 else "right", no_wrap=True)
        for row in rows:
            table.add_row(*row)
        out.print(table)
    else:
        text = heading + "\n" + ascii_table(headers, rows, right={1, 2, 3})
        write(out, plain_ascii(text) if ascii_only else text)
    write(out, "")
    text = f"f = {num(p.f)}"
    write(out, plain_ascii(text) if ascii_only else text)
