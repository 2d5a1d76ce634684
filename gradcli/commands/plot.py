"""`gradcli plot` (and the repl's `:plot`): f and its derivatives over a range, in the terminal,
as CSV or JSON, or as a Matplotlib figure in a file; a gradient field over two variables.

`show_plot` is the one entry: the CLI's command and the repl call it; it raises GradcliError on
bad input (the caller turns that into its exit code or its message) and writes the plot to the
console it is given (else stdout), warnings to stderr.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from ..base.errors import GradcliError

FORMATS = ("plot", "csv", "json")
FIGURE_SUFFIXES = (".png", ".svg", ".pdf")
INSTALL = "pip install 'gradcli[plot]'"


class PlotUsageError(GradcliError):
    """A bad --range, --points, --order, --output or --format: the CLI reports it as a usage
    error (exit 2); the repl as any other error."""


def parse_range(text: str, count: int = 1) -> list[tuple[float, float]]:
    """'-5:5' -> [(-5.0, 5.0)]; for `count` variables one LOW:HIGH for all, or one per variable
    separated by commas ('-5:5,-2:2'). The ends are numbers as values are written (pi, -1e3).
    Raises PlotUsageError."""
    from ..evaluation.sampling import check_range
    from ..inputs.values import parse_value_text

    if not isinstance(text, str) or not text.strip():
        raise PlotUsageError("--range needs LOW:HIGH", hint="write e.g. --range -5:5")
    parts = [part.strip() for part in text.split(",")]
    if len(parts) not in (1, count):
        if count == 1:
            raise PlotUsageError(f"--range {text}: one variable takes one LOW:HIGH", hint="write e.g. --range -5:5")
        raise PlotUsageError(f"--range {text}: give one LOW:HIGH for all {count} variables or one for each",
                             hint="write e.g. --range -5:5 or --range -5:5,-2:2")
    ranges = []
    for part in parts:
        ends = part.split(":")
        if len(ends) != 2 or not ends[0].strip() or not ends[1].strip():
            raise PlotUsageError(f"--range {part!r} is not LOW:HIGH", hint="write e.g. --range -5:5 or -pi:pi")
        numbers = []
        for end in ends:
            try:
                value = parse_value_text(end.strip(), "--range")
            except GradcliError as exc:
                raise PlotUsageError(f"--range {part}: cannot read {end.strip()!r} as a number",
                                     hint="write e.g. --range -5:5 or -pi:pi") from exc
            if value.ndim != 0:
                raise PlotUsageError(f"--range {part}: each end is one number", hint="write e.g. --range -5:5")
            numbers.append(float(value))
        try:
            check_range(*numbers)
        except GradcliError as exc:
            raise PlotUsageError(exc.message, hint=exc.hint) from None
        ranges.append((numbers[0], numbers[1]))
    return ranges * count if len(ranges) == 1 else ranges


MIN_SIZE = (40, 12)  # the smallest terminal plot: its frame and labels need room
MAX_SIZE = (500, 300)  # the largest: plotille's canvas costs ~4 µs a cell (1000x1000 took 4 s)


def parse_size(text: str) -> tuple[int, int]:
    """'72x20' -> (72, 20): the terminal plot's columns and lines. Raises PlotUsageError."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(part.strip().isdigit() for part in parts):
        raise PlotUsageError(f"{text!r} is not COLUMNSxLINES, e.g. 72x20")
    columns, lines = (int(part) for part in parts)
    if not (MIN_SIZE[0] <= columns <= MAX_SIZE[0] and MIN_SIZE[1] <= lines <= MAX_SIZE[1]):
        raise PlotUsageError(f"{text} is not from {MIN_SIZE[0]}x{MIN_SIZE[1]} to {MAX_SIZE[0]}x{MAX_SIZE[1]}")
    return columns, lines


def check_points(points: int | None, dimensions: int) -> int:
    """The number of points (per axis for two variables), its default when None; PlotUsageError
    outside [2, the maximum]."""
    from ..evaluation import sampling

    default, most = (sampling.DEFAULT_POINTS, sampling.MAX_POINTS) if dimensions == 1 else \
        (sampling.DEFAULT_GRID, sampling.MAX_GRID)
    if points is None:
        return default
    if isinstance(points, bool) or not isinstance(points, int) or not sampling.MIN_POINTS <= points <= most:
        per = "" if dimensions == 1 else " per axis"
        raise PlotUsageError(f"--points {points}: a plot has from {sampling.MIN_POINTS} to {most:,} points{per}",
                             hint=f"the default is {default}")
    return points


def check_order(order) -> int:
    if isinstance(order, bool) or order not in (1, 2):
        raise PlotUsageError(f"--order {order}: plot draws the first (1) or also the second (2) derivative",
                             hint="write --order 2 for ∂²f/∂x²")
    return int(order)


def check_output(output: str | None) -> str | None:
    if output is not None and Path(output).suffix.lower() not in FIGURE_SUFFIXES:
        raise PlotUsageError(f"--output {output!r} should end in {', '.join(FIGURE_SUFFIXES)}",
                             hint="the figure's type comes from the file name: plot.png, plot.svg, plot.pdf")
    return output


def require_matplotlib(flag: str) -> None:
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise GradcliError(f"{flag} draws the figure with Matplotlib, which is not installed",
                           hint=f"install it with: {INSTALL}")


def show_plot(source: str, values: dict, wrt: list[str], range_text: str, *, order: int = 1,
              points: int | None = None, output: str | None = None, format: str = "plot", console=None,
              color: bool | None = None, digits: int = 6, quiet: bool = False,
              size: tuple[int, int] | None = None) -> None:
    """Plot f = `source` and its derivatives with respect to `wrt` (one name, or two for a field;
    a str "x" or "x,y" works too) over `range_text` ('-5:5'), the other variables held at
    `values` (numbers; a value for a plotted variable is ignored, values f does not use too).

    format "plot": in the terminal (`console`, a Rich Console, or stdout), or with `output`
    (.png, .svg, .pdf) a Matplotlib figure in that file; "csv" / "json": the sampled points.
    Two variables draw into a file only (or give csv/json). `size`: the terminal plot's
    (columns, lines), by default the console's or the terminal's. Raises PlotUsageError for a bad
    range, points, order, output or format, GradcliError for bad input (not a variable, a gate
    that combines the points, Matplotlib missing, ...)."""
    from ..inputs.values import shapes_of
    from ..language.parser import parse

    if isinstance(wrt, str):  # "x" or "x,y", as typed after :plot
        wrt = [name.strip() for name in wrt.split(",") if name.strip()]
    wrt = list(wrt)
    if format not in FORMATS:
        raise PlotUsageError(f"--format {format}: plot writes {', '.join(FORMATS)}")
    if not wrt:
        raise PlotUsageError("plot needs --wrt NAME (or NAME,NAME for a field)", hint="write e.g. --wrt x")
    twice = [name for i, name in enumerate(wrt) if name in wrt[:i]]
    if twice and len(wrt) <= 2:
        raise PlotUsageError(f"--wrt {','.join(wrt)} names {twice[0]} twice: plot draws over one variable or "
                             "two different ones", hint=f"write --wrt {twice[0]}, or --wrt {twice[0]},y for a field")
    if len(wrt) > 2 or twice:
        raise PlotUsageError(f"--wrt {','.join(wrt)}: plot draws over one variable or two different ones",
                             hint="write --wrt x or --wrt x,y")
    order = check_order(order)
    check_output(output)
    if output is not None and format != "plot":
        raise PlotUsageError(f"--output draws a figure; it does not go with --format {format}",
                             hint="leave out --output to print the points, or --format to draw")
    ranges = parse_range(range_text, len(wrt))
    points = check_points(points, len(wrt))
    if len(wrt) == 2:
        if order != 1:
            raise PlotUsageError("--order 2 is for one variable; a field over two shows the gradient",
                                 hint="leave out --order, or plot one variable")
        if format == "plot" and output is None:
            raise PlotUsageError("a plot over two variables goes into a file",
                                 hint="add --output field.png (or .svg, .pdf), or --format csv for the points")
    if output is not None:
        require_matplotlib("--output")
    graph = parse(source)
    # each point's variables are scalars: diff(…) is built for those, and then runs on all the
    # points at once, as gradcli batch runs it on a chunk of rows (every gate elementwise)
    shapes = {name: () for name in graph.variables}
    shapes.update((name, value) for name, value in shapes_of(values).items() if name not in wrt)
    if "diff" in source:
        graph = parse(source, shapes=shapes)
        graph.assumes = {}
    if len(wrt) == 1:
        from ..evaluation.sampling import sample

        expanded = None
        if any(node.kind == "gate" and (node.op.body is not None or node.op.expansion) for node in graph.nodes):
            expanded = parse(source, shapes=shapes, expand=True)  # for the kinks inside calls
            expanded.assumes = {}
        data = sample(graph, wrt[0], *ranges[0], values, order=order, points=points, expanded=expanded)
    else:
        from ..evaluation.sampling import sample_field

        data = sample_field(graph, (wrt[0], wrt[1]), (ranges[0], ranges[1]), values, points=points)
    if not quiet:
        for name in wrt:
            if name in values:  # the variable runs over the range; its value is not used
                sys.stderr.write(f"warning: {name}={_shown(values[name])} is not used: plot runs {name} over "
                                 f"{range_text}\n")
        for message in data.warnings:
            sys.stderr.write(f"warning: {_ascii(message)}\n")
    title = _title(source, data)
    if format != "plot":
        from ..render import plotdata

        text = plotdata.render_csv(data) if format == "csv" else plotdata.render_json(data, source)
        _write(text, console)
        return
    if output is not None:
        from ..render import figure

        import warnings

        import numpy as np

        with warnings.catch_warnings(), np.errstate(all="ignore"):  # (an all-nan field: said above)
            warnings.simplefilter("ignore", RuntimeWarning)
            figure.save(data, output, title=title)
        return
    from ..render import termplot

    width, height = size if size is not None else _size(console)
    if color is None:
        color = _colors(console)
    dumb = os.environ.get("TERM") == "dumb"
    text = termplot.render(data, width=width, height=height, color=color and not dumb, title=title,
                           digits=digits, ascii_only=dumb)
    if dumb:
        from ..render.style import plain_ascii

        text = plain_ascii(text)
    _write(text, console, ansi=color and not dumb)


def _ascii(message: str) -> str:
    if os.environ.get("TERM") != "dumb" or message.isascii():
        return message
    from ..render.style import plain_ascii

    return plain_ascii(message)


def _title(source: str, data) -> str:
    text = " ".join(source.split())
    if len(text) > 60:
        text = text[:59] + "…"
    held = ", ".join(f"{name} = {_shown(value)}" for name, value in data.held.items())
    return f"f = {text}" + (f" at {held}" if held else "")


def _shown(value) -> str:
    """A held value in the title: a number, or an array's shape."""
    import numpy as np

    from ..render.numbers import scalar

    if np.ndim(value) == 0:
        return scalar(float(value), 6)
    return f"an array of shape {np.shape(value)}"


def _size(console) -> tuple[int, int]:
    """The console's or the terminal's size, within MAX_SIZE (COLUMNS=100000 took forever)."""
    if console is not None:
        columns, lines = console.width, console.height
    else:
        size = shutil.get_terminal_size((80, 24))
        columns, lines = size.columns, max(size.lines, 20)
    return min(columns, MAX_SIZE[0]), min(lines, MAX_SIZE[1])


def _colors(console) -> bool:
    if "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb":
        return False
    if console is not None:
        return bool(getattr(console, "is_terminal", False)) and not getattr(console, "no_color", False)
    return sys.stdout.isatty()


def _write(text: str, console, ansi: bool = False) -> None:
    if console is None:
        sys.stdout.write(text)
        return
    if ansi:
        from rich.text import Text

        console.print(Text.from_ansi(text.rstrip("\n")), soft_wrap=True)
    else:
        console.print(text.rstrip("\n"), markup=False, highlight=False, soft_wrap=True)
