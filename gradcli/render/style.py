"""Where a table view is printed decides how it looks; every table view follows these rules.

On a terminal, Rich lays the table out (box-drawing, colour, the terminal's width). Anywhere else
(a pipe, a file, TERM=dumb) the table is plain ASCII laid out here, never wrapped or cut, and
Rich is not even imported: it costs a third of gradcli's start-up.
"""

from __future__ import annotations


def is_console(out) -> bool:
    """Whether `out` is a Rich console on a terminal (else a text stream)."""
    return hasattr(out, "is_terminal")


def plain_ascii(text: str) -> str:
    """The non-ASCII characters our tables use, spelled in ASCII (for TERM=dumb)."""
    return text.replace("∂", "d").replace("…", "...")


def cut(text: str, width: int, ellipsis: str = "…") -> str:
    return text if len(text) <= width else text[: max(width - len(ellipsis), 0)] + ellipsis


def ascii_table(headers, rows, right: set[int]) -> str:
    """Columns joined by " | ", a "-+-" rule under the header; `right`: right-aligned columns."""
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(headers)]

    def line(cells) -> str:
        return " | ".join(cell.rjust(w) if i in right else cell.ljust(w)
                          for i, (cell, w) in enumerate(zip(cells, widths))).rstrip()

    rule = "-+-".join("-" * w for w in widths)
    return "\n".join([line(headers), rule] + [line(row) for row in rows])


def write(out, text: str) -> None:
    """Print plain text (never markup) to a Rich console or a text stream."""
    if is_console(out):
        out.print(text, highlight=False, markup=False, soft_wrap=True)
    else:
        out.write(text + "\n")
