"""The default view: the lecture's backward pass as a table, one row per edge, output first; then
f, ∂f/∂v for every variable, and the forks where gradients were added.

Big graphs: unless --all, at most DEFAULT_ROWS rows, DEFAULT_ROWS gradient lines and DEFAULT_ROWS
forks are shown (each fork with at most DEFAULT_TERMS terms), each cut with a note of how many are
hidden. With --all everything is shown and **streamed**: rows are formatted and written a block of
BLOCK at a time, so the memory the rendering needs does not grow with the graph and the first rows
appear at once. Column widths are therefore chosen without seeing every row: from the first block,
and, when there is more than one block, at least the widest a number can be at the chosen digits
(`-1.23457e-308`). A later cell wider than its column (an array preview, a long label) widens that
column from its block on: rows stay aligned within a block, and a wider block shifts only the
columns to the right of the wider cell. On a terminal each block is a Rich table of its own,
the header drawn once, the same widths carried over.
"""

from __future__ import annotations

from itertools import islice

from ..core.trace import Result
from . import gates, numbers
from .style import (GAP, LABEL_MIN, WORD_MIN, cut, distinct_width, fit, head_line, is_console, light_table, pack, plain_ascii,
                    shorten, stacked, write)

# Rows (and gradient lines, and forks) shown unless --all: a 100,000-gate graph must not print
# 200,000 rows by default.
DEFAULT_ROWS = 100
# Terms of one fork's sum shown unless --all (x + x + ... + x adds 100,000 of them).
DEFAULT_TERMS = 100
# With --all, rows are formatted and written this many at a time.
BLOCK = 100
# On a pipe or in a file, the labels are shortened to this many characters, … in their middle
# (more where two would read alike; numbers never).
LABEL_WIDTH = 40

# One row per wire into a gate: the gate (its label, its one name in every view, its role), the
# input and the value it carries, the gate's output, and the chain rule along that wire.
HEADERS = ("gate", "op", "role", "input", "input value", "gate output", "local", "upstream", "result")
NUMBER_COLUMNS = (4, 5, 6, 7, 8)
LABEL_COLUMNS = (0, 3)
ROLE_COLUMN = 2
# On a terminal too narrow for the table, what gives way, in turn (see style.fit and
# _rich_blocks): the number columns' headers wrap (`input` over `value`); the labels, … in their
# middle, down to LABEL_ROOM; the role, the op; then the role column goes (--steps names every
# role) and the labels give way down to where two of them would read alike; then an array or a
# rule wraps between its words; then the table is stacked.
GIVE = ((LABEL_COLUMNS, LABEL_MIN), ((ROLE_COLUMN,), WORD_MIN), ((1,), 4))
# The labels keep this many characters (or all of theirs) before the role column goes.
LABEL_ROOM = 12
# The longest word of each number column's header: it wraps between its words.
HEADER_WORD = {i: max(map(len, HEADERS[i].split())) for i in NUMBER_COLUMNS}


# The blocks below lay out any table of this shape: `headers` the gate, op, role and input
# columns, then number columns (the backward pass's HEADERS; render.forward's for forward mode).
def _numbers(headers: tuple) -> tuple:
    return NUMBER_COLUMNS if headers is HEADERS else tuple(range(4, len(headers)))


def _header_word(headers: tuple, i: int) -> int:
    return HEADER_WORD[i] if headers is HEADERS else max(map(len, headers[i].split()))


# Under the title: how to read a row, without the README.
HOW_TO_READ = "read a row as the chain rule: result = local × upstream"


# A label is its gate's name, else its whole source text (Node.label is cut at its end, past 40
# characters, where two gates of a long sum read alike); of a long text, KEPT characters of each
# end are taken (the middle is never shown: a 10,000-term sum's text is 150,000 characters).
KEPT = 200


def label(node) -> str:
    """The node's label for the table, shortened where it is shown (style.shorten): its name, else
    its source text on one line, the middle of a text longer than 2 KEPT left out (…)."""
    if node.name is not None:
        return node.name
    if node.text is not None:
        text = node.text
    else:
        span = node.span
        source = span.source.text
        if span.end - span.start <= 8 * KEPT:
            text = " ".join(source[span.start:span.end].split())
        else:  # never a copy of the whole text
            head = " ".join(source[span.start:span.start + 4 * KEPT].split())[:KEPT]
            tail = " ".join(source[span.end - 4 * KEPT:span.end].split())[-KEPT:]
            text = f"{head}…{tail}"
    if len(text) > 2 * KEPT + 1:
        text = f"{text[:KEPT]}…{text[-KEPT:]}"
    return f"{node.scope}: {text}" if node.scope else text


def number_width(digits: int) -> int:
    """The widest a scalar can be at `digits` significant digits: -1.23457e-308."""
    return 1 + digits + (1 if digits > 1 else 0) + len("e-308")


def rows(result: Result, num):
    """Each edge's row (HEADERS, texts; `num` writes a number), output first; what belongs to the
    gate is worked out once per gate. (Also the notebook's table: render/html.py.)"""
    trace = result.trace
    if trace is None:
        return
    for record in reversed(trace):
        if not record.edges:
            continue
        gate = record.node
        view = gate.view
        op = view.symbol if gate.rewrite is None else f"{view.symbol} (stable)"
        name, value = label(gate), num(record.value)
        for edge in record.edges:
            yield (name, op, gates.role(edge, view), label(edge.input), num(trace[edge.input.id].value),
                   value, num(edge.local), num(edge.upstream), num(edge.result))


def render(result: Result, out, *, digits: int = 6, all_rows: bool = False,
           ascii_only: bool = False, name: str = "f") -> None:
    """Print the table to a Rich console (a terminal) or a text stream (see style.py);
    `ascii_only` (TERM=dumb) avoids every non-ASCII character (∂ becomes d, … becomes ...).
    `name`: what the output is called in the lines under the table (`g = …`, `∂g/∂x = …`) where
    a program's several outputs are shown (eval --outputs); f by default."""
    ellipsis = "..." if ascii_only else "…"

    def num(value) -> str:
        return numbers.number(value, digits)

    def text(lines: list[str]) -> str:
        joined = "\n".join(lines)
        return plain_ascii(joined) if ascii_only else joined

    graph = result.graph
    total = result.edge_count
    shown = total if all_rows else min(total, DEFAULT_ROWS)
    trace = result.trace

    if shown:
        source = gates.title(graph)
        title = f"Backward pass of {source}\n{HOW_TO_READ}"
        edges = islice(rows(result, num), shown)
        blocks = (block for block in iter(lambda: list(islice(edges, BLOCK)), []))
        if is_console(out):
            _rich_blocks(out, title, blocks, streaming=shown > BLOCK, digits=digits)
        else:
            _ascii_blocks(out, title, blocks, streaming=shown > BLOCK, digits=digits, ellipsis=ellipsis,
                          ascii_only=ascii_only, width=terminal_width(out))
        if total > shown:
            write(out, f"{ellipsis} {total - shown} more rows not shown; --all shows every row")
        write(out, "")

    lines = [f"{name} = {num(result.value)}"]
    if result.gradient_of == "sum(f)":
        lines.append(f"{name} is an array of shape {tuple(result.value.shape)}: "
                     f"the gradients below are those of sum({name}) (gradcli jacobian gives each element's gradient)")
    gradients = result.gradients
    limit = len(gradients) if all_rows else DEFAULT_ROWS
    for variable, grad in islice(gradients.items(), limit):
        lines.append(f"∂{name}/∂{variable} = {num(grad)}")
        if len(lines) >= BLOCK:
            write(out, text(lines))
            lines = []
    if len(gradients) > limit:
        lines.append(f"{ellipsis} {len(gradients) - limit} more gradients not shown; --all shows every gradient")
    if trace is not None:
        fork_count = sum(1 for record in trace if record.is_fork)
        if fork_count:
            lines.append("")
            lines.append("gradients added at forks (a value feeding several gates):")
            limit = fork_count if all_rows else DEFAULT_ROWS
            forks = (record for record in trace if record.is_fork)
            for record in islice(forks, limit):
                arrivals = record.arrivals
                most = len(arrivals) if all_rows else DEFAULT_TERMS
                terms = numbers.joined_sum(num(edge.result) for edge in islice(arrivals, most))
                if len(arrivals) > most:
                    terms += f" + {ellipsis} ({len(arrivals) - most} more terms)"
                lines.append(f"  ∂{name}/∂{record.node.label} = {terms} = {num(record.gradient)}")
                if len(lines) >= BLOCK:
                    write(out, text(lines))
                    lines = []
            if fork_count > limit:
                lines.append(f"  {ellipsis} {fork_count - limit} more forks not shown; --all shows every fork")
    if lines:
        write(out, text(lines))


def _widths(widths: list[int], block) -> list[int]:
    """The column widths grown to fit a block of rows (never narrowed)."""
    for cells in block:
        for i, cell in enumerate(cells):
            if len(cell) > widths[i]:
                widths[i] = len(cell)
    return widths


def terminal_width(out) -> int | None:
    """The terminal's width when `out` (a text stream: TERM=dumb) is a terminal, else None (a
    pipe or a file: the table is not fitted)."""
    import shutil

    try:
        if not out.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    return shutil.get_terminal_size().columns


def _ascii_fit(widths: list[int], block, width: int, ellipsis: str, headers: tuple = HEADERS):
    """The ASCII layout fitted to a terminal of `width` as _rich_blocks fits the Rich one (the
    number columns' headers wrap, then the labels give way, then the role and the op, then the
    role column goes; numbers are never cut): (columns shown, their widths), or None."""
    cells_width = _widths([0] * len(headers), block)
    headers_wrap = {i: min(widths[i], max(_header_word(headers, i), cells_width[i])) for i in _numbers(headers)}
    apart = distinct_width([cells[i] for cells in block for i in LABEL_COLUMNS], LABEL_MIN, ellipsis)
    give = ((_numbers(headers), headers_wrap), (LABEL_COLUMNS, max(apart, LABEL_ROOM)), *GIVE[1:])
    fitted = fit(widths, width, give)  # the columns GAP apart, as on a Rich terminal
    if fitted is not None:
        return list(range(len(headers))), fitted
    shown = [i for i in range(len(headers)) if i != ROLE_COLUMN]
    give = ((_numbers(headers), headers_wrap), (LABEL_COLUMNS, apart), *GIVE[1:])
    fitted = _fit_columns(widths, shown, width, give)
    return (shown, fitted) if fitted is not None else None


def _stacked_row(cells, width: int, ellipsis: str, headers: tuple = HEADERS) -> list[str]:
    """One row of a table too wide for the terminal, as style.stacked writes it on a Rich one:
    the labels on lines of their own (… in their middle), the numbers whole, packed."""
    gate, op, role, inp, *values = cells
    what = f"  ({op}, {role})"
    room = width - len(what)
    if len(gate) + len(what) <= width or room >= LABEL_MIN:
        heads = [shorten(gate, max(room, LABEL_MIN), ellipsis) + what]
    else:
        heads = [shorten(gate, width, ellipsis), cut(what, width, ellipsis)]
    heads.append(f"  input {shorten(inp, max(width - len('  input '), LABEL_MIN), ellipsis)}")
    return heads + pack([f"{name} {value}" for name, value in zip(headers[4:], values)], width)


def _header_lines(shown: list[int], widths: list[int], headers: tuple = HEADERS) -> list[list[str]]:
    """The header lines of the columns shown, a header wrapping between its words where its
    column is narrower (`input` over `value`)."""
    import textwrap

    wrapped = [textwrap.wrap(headers[i], max(w, 1), break_long_words=False) or [""]
               for i, w in zip(shown, widths)]
    height = max(map(len, wrapped))
    wrapped = [[""] * (height - len(lines)) + lines for lines in wrapped]  # on the rule, as Rich does
    return [[lines[k] for lines in wrapped] for k in range(height)]


def _ascii_blocks(out, title: str, blocks, *, streaming: bool, digits: int, ellipsis: str,
                  ascii_only: bool, width: int | None = None, headers: tuple = HEADERS) -> None:
    """A pipe or a file: plain ASCII, " | " between columns, numbers right-aligned; labels
    shortened to LABEL_WIDTH (… in the middle; longer where two labels would read alike),
    numbers never. Written a block at a time. On a terminal of `width` columns (TERM=dumb) the
    table is fitted as the Rich one is (_ascii_fit), its columns GAP spaces apart without rules;
    where even so it does not fit, each row is stacked on a few lines (_stacked_row)."""
    number_columns = _numbers(headers)
    widths = [len(h) for h in headers]
    if streaming:
        for i in number_columns:
            widths[i] = max(widths[i], number_width(digits))
    if width is not None:  # the title's first line cut, the lines under it wrapped, as on Rich
        import textwrap

        head, *rest = title.split("\n")
        title = "\n".join([cut(plain_ascii(head) if ascii_only else head, width, ellipsis),
                           *(part for line in rest for part in textwrap.wrap(line, width))])
    shown = list(range(len(headers)))
    shown_widths = widths
    sep, rule = (" | ", "-+-") if width is None else (" " * GAP, " " * GAP)

    def line(cells) -> str:
        return sep.join(cells[i].rjust(w) if i in number_columns else cells[i].ljust(w)
                          for i, w in zip(shown, shown_widths)).rstrip()

    def fitted_cells(cells):
        room = dict(zip(shown, shown_widths))
        return tuple(shorten(cell, room[i], ellipsis) if i in LABEL_COLUMNS
                     else cut(cell, room[i], ellipsis) if i in (1, ROLE_COLUMN) and i in room else cell
                     for i, cell in enumerate(cells))

    first = True
    for block in blocks:
        if ascii_only:  # before the widths: a rule's text (vjp: g·bᵀ) is longer in ASCII
            block = [tuple(map(plain_ascii, r)) for r in block]
        # … in the middle of a label, never so far that two labels read alike
        room = distinct_width([r[i] for r in block for i in LABEL_COLUMNS], LABEL_WIDTH, ellipsis)
        block = [(shorten(r[0], room, ellipsis), r[1], r[2], shorten(r[3], room, ellipsis), *r[4:])
                 for r in block]
        _widths(widths, block)
        shown, shown_widths = list(range(len(headers))), widths
        if width is not None:
            layout = _ascii_fit(widths, block, width, ellipsis, headers)
            if layout is None:  # stacked, a few lines per row, as _rich_blocks does
                lines = [plain_ascii(title) if ascii_only else title] if first else []
                first = False
                for cells in block:
                    lines.extend(_stacked_row(cells, width, ellipsis, headers))
                out.write("\n".join(lines) + "\n")
                continue
            shown, shown_widths = layout
            block = [fitted_cells(cells) for cells in block]
        lines = [line(cells) for cells in block]
        if first:
            heads = _header_lines(shown, shown_widths, headers) if width is not None else [list(headers)]
            lines[:0] = [plain_ascii(title) if ascii_only else title,
                         *(sep.join(h.rjust(w) if i in number_columns else h.ljust(w)
                                      for i, h, w in zip(shown, head, shown_widths)).rstrip() for head in heads),
                         rule.join("-" * w for w in shown_widths)]
            first = False
        out.write("\n".join(lines) + "\n")


def _rich_blocks(console, title: str, blocks, *, streaming: bool, digits: int,
                 headers: tuple = HEADERS) -> None:
    """On a terminal: numbers never cut; the columns two spaces apart, no vertical rules. A number
    column's header wraps first (`input` over `value`); then the labels give way, … in their
    middle, never so far that two labels of a column read alike (style.distinct_width); then the
    role and the op; then the role column goes; then an array's preview or a rule's text wraps
    between its words (a cell grows taller, no number is split); a block that does not fit even
    so is printed stacked, a few lines per row. Each block is a Rich table of its own with the
    widths carried over, the header on the first."""
    number_columns = _numbers(headers)
    from rich.text import Text

    widths = [len(h) for h in headers]
    cells_width = [0] * len(headers)  # the widest cell of each column, its header aside
    if streaming:
        for i in number_columns:
            widths[i] = max(widths[i], number_width(digits))
            cells_width[i] = number_width(digits)
    # a title of its own line: a table title would wrap at the (possibly narrow) table's width
    # (the lines under it, how to read a row, wrap rather than lose their end)
    first, *rest = title.split("\n")
    console.print(Text(first), no_wrap=True, overflow="ellipsis")
    for line in rest:
        console.print(Text(line))
    header = True
    # the longest word of each number column (a header wraps between its words)
    words = {i: max(map(len, headers[i].split())) for i in number_columns}
    for block in blocks:
        _widths(widths, block)
        _widths(cells_width, block)
        for cells in block:
            for i in number_columns:
                if len(cells[i]) > words[i]:
                    words[i] = max(words[i], *map(len, cells[i].split()))
        # the headers wrap (no cell does); labels give way down to where they still read apart
        headers_wrap = {i: min(widths[i], max(_header_word(headers, i), cells_width[i])) for i in number_columns}
        apart = distinct_width([cells[i] for cells in block for i in LABEL_COLUMNS], LABEL_MIN)
        shown = list(range(len(headers)))
        # with the role column, only while the labels keep LABEL_ROOM characters (or all of theirs)
        give = ((number_columns, headers_wrap), (LABEL_COLUMNS, max(apart, LABEL_ROOM)), *GIVE[1:],
                (number_columns, words))
        fitted = fit(widths, console.width, give)
        if fitted is None:  # without the role column
            shown.remove(ROLE_COLUMN)
            give = ((number_columns, headers_wrap), (LABEL_COLUMNS, apart), *GIVE[1:], (number_columns, words))
            fitted = _fit_columns(widths, shown, console.width, give)
        if fitted is None:
            width = console.width
            for gate, op, role, inp, *numbers in block:
                what = f"  ({op}, {role})"
                if len(gate) + len(what) <= width or width - len(what) >= apart:
                    heads = [head_line(gate, what, width)]
                else:  # the gate's label on a line of its own: it reads apart from the others
                    heads = [shorten(gate, width), what]
                heads.append(f"  input {shorten(inp, max(width - len('  input '), LABEL_MIN))}")
                stacked(console, heads, [f"{name} {number}" for name, number in zip(headers[4:], numbers)])
            continue
        table = light_table(show_header=header)
        header = False
        for i, width in zip(shown, fitted):
            if i in number_columns:
                table.add_column(headers[i], justify="right", width=width, overflow="fold")
            else:
                table.add_column(headers[i], width=width, no_wrap=True, overflow="ellipsis")
        label_width = {i: width for i, width in zip(shown, fitted) if i in LABEL_COLUMNS}
        for cells in block:  # Text, not markup: Rich would take "[nan, 1]" for a style tag
            table.add_row(*(Text(shorten(cells[i], label_width[i]) if i in label_width else cells[i])
                            for i in shown))
        console.print(table)


def _fit_columns(widths: list[int], shown: list[int], width: int, give) -> list[int] | None:
    """style.fit over the columns `shown` only: their widths, in that order, or None."""
    index = {column: position for position, column in enumerate(shown)}
    stages = []
    for columns, minimum in give:
        kept = tuple(index[c] for c in columns if c in index)
        if kept:
            if isinstance(minimum, dict):
                minimum = {index[c]: m for c, m in minimum.items() if c in index}
            stages.append((kept, minimum))
    return fit([widths[i] for i in shown], width, stages)
