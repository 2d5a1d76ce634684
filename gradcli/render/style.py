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
    ("−", "-"), ("←", "<-"), ("→", "->"), ("‖", "|"), ("ˣ", "^x"), ("⁻", "^-"), ("π", "pi"), ("±", "+-"),
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
    """`text` cut at its end to `width` characters (prose: a role, a description)."""
    return text if len(text) <= width else text[: max(width - len(ellipsis), 0)] + ellipsis


def shorten(label: str, width: int, ellipsis: str = "…") -> str:
    """A label in `width` characters, its head and its tail kept and … in the middle
    (`w0*x0…x1+w2`): two labels that share their beginning (`w0*x0+w1*x1+w2`, `w0*x0+w1*x1`)
    still read apart."""
    if len(label) <= width:
        return label
    kept = max(width - len(ellipsis), 0)
    head = (kept + 1) // 2
    tail = kept - head
    return label[:head] + ellipsis + (label[-tail:] if tail else "")


def _distinct_at(labels, width: int, ellipsis: str) -> bool:
    return len({shorten(label, width, ellipsis) for label in labels}) == len(labels)


def distinct_width(labels, floor: int = 0, ellipsis: str = "…") -> int:
    """The narrowest width, at least `floor` (or the longest label, if shorter), at which
    `shorten` keeps every two distinct `labels` distinct. Showing more of a label never makes two
    of them alike, so this is a binary search (a 10,000-term sum's labels are long)."""
    labels = set(labels)
    longest = max(map(len, labels), default=0)
    low = min(floor, longest)
    if _distinct_at(labels, low, ellipsis):
        return low
    high = longest  # nothing shortened: distinct
    while high - low > 1:  # distinct at high, not at low
        middle = (low + high) // 2
        if _distinct_at(labels, middle, ellipsis):
            high = middle
        else:
            low = middle
    return high


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
# LABEL_MIN characters (with … in the middle, never so short that two labels read alike: see
# distinct_width), then short words (a role, a verdict) down to WORD_MIN; numbers never. A table
# that still does not fit is printed stacked (`stacked`).
LABEL_MIN = 6
WORD_MIN = 6
# On a terminal, a table's columns are GAP characters apart: no vertical rules (they took three
# characters a column from the labels), a rule under the header, broken between the columns.
GAP = 2


def light_table(**options):
    """A Rich table with the columns GAP apart and no vertical rules: the header over a rule of
    ━, broken between the columns so each column's extent shows."""
    from rich.box import Box
    from rich.table import Table

    box = Box("    \n    \n ━  \n    \n    \n    \n    \n    \n")
    return Table(box=box, show_edge=False, pad_edge=False, padding=(0, GAP - 1, 0, 0), **options)


def fit(widths: list[int], width: int, give) -> list[int] | None:
    """Column widths for a Rich table of `width` characters (GAP between columns), shrinking the
    columns of `give` in turn: stages (columns, minimum), the minimum one for all or a dict by
    column, the column with the most to give in a stage giving a character first. None where
    even then the table is too wide."""
    widths = list(widths)
    excess = sum(widths) + GAP * (len(widths) - 1) - width
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
    """`label` then `rest` on one line of `width`: the label gives way first (… in its middle)."""
    room = width - len(rest)
    return (shorten(label, room) if room >= LABEL_MIN else label) + rest


def stacked(console, heads: list[str], items) -> None:
    """One row of a table too wide for the terminal: its labels on lines of their own (each cut
    with … to the width), then its numbers as "name number" items, whole, as many as fit a line."""
    from rich.text import Text

    for head in heads:
        console.print(Text(head), no_wrap=True, overflow="ellipsis")
    console.print("\n".join(pack(items, console.width)), highlight=False, markup=False, emoji=False, soft_wrap=True)
