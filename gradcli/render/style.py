"""Where a table view is printed decides how it looks; every table view follows these rules.

On a terminal, Rich lays the table out (box-drawing, colour, the terminal's width). Anywhere else
(a pipe, a file, TERM=dumb) the table is plain ASCII laid out here, never wrapped or cut, and
Rich is not even imported: it costs a third of gradcli's start-up.
"""

from __future__ import annotations


def is_console(out) -> bool:
    """Whether `out` is a Rich console on a terminal (else a text stream)."""
    return hasattr(out, "is_terminal")


# TERM=dumb: every character gradcli writes that is not ASCII, spelled in ASCII. Longest first
# where one is a part of another (‖·‖ before ·).
_SPELLED = (
    ("‖·‖", "norm"), ("∂", "d"), ("…", "..."), ("×", "*"), ("·", "*"), ("σ", "sigma"),
    ("²", "^2"), ("³", "^3"), ("ᵀ", "^T"), ("½", "1/2"), ("≠", "!="), ("≤", "<="), ("≥", ">="),
    ("−", "-"), ("←", "<-"), ("→", "->"), ("‖", "|"), ("ˣ", "^x"), ("⁻", "^-"),
    ("├── ", "|-- "), ("└── ", "`-- "), ("│", "|"), ("─", "-"),
)
_SQRT = None  # compiled on first use: start-up imports no re here


def plain_ascii(text: str) -> str:
    """`text` in ASCII (for TERM=dumb): the symbols gradcli writes spelled out (∂ is d, × is *,
    σ is sigma, gᵀ is g^T, √x is sqrt x), anything else (a comment's é) by its closest ASCII
    letter, else "?"."""
    if text.isascii():
        return text
    global _SQRT
    if _SQRT is None:
        import re

        _SQRT = re.compile(r"(?<=[0-9)])√")
    for symbol, spelled in _SPELLED:
        if symbol in text:
            text = text.replace(symbol, spelled)
    if "√" in text:
        text = _SQRT.sub("*√", text).replace("√(", "sqrt(").replace("√", "sqrt ")
    if text.isascii():
        return text
    import unicodedata

    text = unicodedata.normalize("NFKD", text)
    return "".join(c if c.isascii() else "" if unicodedata.combining(c) else "?" for c in text)


class AsciiWriter:
    """A text stream that writes through `plain_ascii`: under TERM=dumb every renderer's output
    goes through one, so no renderer can let a non-ASCII character through."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(plain_ascii(text))

    def __getattr__(self, name):  # flush, fileno, isatty...: the stream's own
        return getattr(self.stream, name)


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
        out.print(text, highlight=False, markup=False, emoji=False, soft_wrap=True)
    else:
        out.write(text + "\n")


# On a terminal, what gives way when a table is wider than the screen: labels first, down to
# LABEL_MIN characters (with …), then short words (a role, a verdict) down to WORD_MIN; numbers
# never. A table that still does not fit is printed stacked (`stacked`).
LABEL_MIN = 6
WORD_MIN = 6


def fit(widths: list[int], width: int, give) -> list[int] | None:
    """Column widths for a Rich table of `width` characters (3 between columns), shrinking the
    columns of `give` in turn: stages (columns, minimum), the minimum one for all or a dict by
    column, the column with the most to give in a stage giving a character first. None where
    even then the table is too wide."""
    widths = list(widths)
    excess = sum(widths) + 3 * (len(widths) - 1) - width
    for columns, minimum in give:
        floor = minimum if isinstance(minimum, dict) else dict.fromkeys(columns, minimum)
        while excess > 0:
            widest = max(columns, key=lambda i: widths[i] - floor[i])
            if widths[widest] <= floor[widest]:
                break
            widths[widest] -= 1
            excess -= 1
    return widths if excess <= 0 else None


def pack(items, width: int, indent: str = "  ") -> list[str]:
    """`items` ("value 0.731059") on lines of at most `width` characters, two spaces apart, never
    broken inside an item; an item too wide for any line has one of its own, whole."""
    lines: list[str] = []
    line = ""
    for item in items:
        if line and len(line) + 2 + len(item) > width:
            lines.append(line)
            line = ""
        line = f"{line}  {item}" if line else indent + item
    if line:
        lines.append(line)
    return lines


def head_line(label: str, rest: str, width: int) -> str:
    """`label` then `rest` on one line of `width`: the label gives way first (cut with …)."""
    room = width - len(rest)
    return (cut(label, room) if room >= LABEL_MIN else label) + rest


def stacked(console, heads: list[str], items) -> None:
    """One row of a table too wide for the terminal: its labels on lines of their own (each cut
    with … to the width), then its numbers as "name number" items, whole, as many as fit a line."""
    from rich.text import Text

    for head in heads:
        console.print(Text(head), no_wrap=True, overflow="ellipsis")
    console.print("\n".join(pack(items, console.width)), highlight=False, markup=False, emoji=False, soft_wrap=True)
