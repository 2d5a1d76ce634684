"""`gradcli plot` in a terminal: f and its derivatives drawn in braille dots by plotille (a
maintained terminal-plotting library), with axes, a legend, the kinks marked, and each curve
drawn piece by piece where gradcli.evaluation.sampling says it is unbroken. Computes nothing:
the values, the pieces and the y range come from the Samples."""

from __future__ import annotations

from ..evaluation.sampling import Samples
from .numbers import scalar

# A colour per curve (f, ∂f/∂x, ∂²f/∂x²), and the kinks' marks, as plotille names them.
COLORS = ("blue", "red", "green")
# Without colours the derivatives are told apart by their marks (a character per cell); f is a line.
MARKS = (None, "•", "+")
ASCII_MARKS = ("*", "o", "+")  # TERM=dumb: no braille at all, every curve a mark
KINK_COLOR = "yellow"
KINK_MARK = "x"
MAX_LISTED_KINKS = 8  # kinks named under the plot; the rest counted


def _tick(value, chars: int, delta, left: bool = False) -> str:
    """A tick's label in at most `chars` (plotille's room for it, 10) characters: 4 significant
    digits, fewer where an exponent takes the room (-2.59e+299)."""
    text = f"{float(value):.4g}"
    for digits in (3, 2, 1, 0):
        if len(text) <= chars:
            break
        text = f"{float(value):.{digits}e}"
    return text.ljust(chars) if left else text.rjust(chars)


def render(samples: Samples, *, width: int = 80, height: int = 24, color: bool = False, title: str = "",
           digits: int = 6, ascii_only: bool = False) -> str:
    """The plot as text of at most `width` columns and about `height` lines (plot, legend, kinks);
    ANSI colours when `color`; with `ascii_only` (TERM=dumb) each curve is drawn in its own ASCII
    mark, without braille dots (the caller spells the labels' ∂ in ASCII)."""
    import plotille

    figure = plotille.Figure()
    figure.with_colors = color
    figure.register_label_formatter(float, _tick)
    figure.register_label_formatter(int, _tick)
    figure.x_label = samples.wrt
    marks = ASCII_MARKS if ascii_only else MARKS
    if ascii_only:
        color = False
        figure.origin = False  # the axes through 0 are braille lines
    figure.y_label = "value"  # of f and its derivatives (the legend tells which); "y" may be a variable
    legend_lines = 1 + min(len(samples.kinks), MAX_LISTED_KINKS) + (1 if title else 0) + 1
    # the y axis' labels and frame take 13 columns; the x axis' arrow and label 6 + its length more,
    # the last tick's label (at most 10 characters) starts at the plot's right edge
    figure.width = max(20, width - 13 - max(10, 6 + len(samples.wrt)))
    figure.height = max(6, height - 4 - legend_lines)
    x = samples.x
    figure.set_x_limits(float(x[0]), float(x[-1]))
    low, high = samples.limits()
    figure.set_y_limits(low, high)
    for curve, colour, mark in zip(samples.curves, COLORS, marks):
        mark = None if color else mark
        for xs, ys in curve.pieces(x, 2 * figure.width):  # a braille cell is 2 dots wide
            xs, ys = xs.tolist(), ys.tolist()
            if len(xs) == 1 or mark is not None:
                figure.scatter(xs, ys, lc=colour, marker=mark)
            else:
                figure.plot(xs, ys, lc=colour)
    shown = [k for k in samples.kinks if low <= k.f <= high]
    if shown:
        figure.scatter([k.x for k in shown], [k.f for k in shown], lc=KINK_COLOR, marker=KINK_MARK)
    lines = [title] if title else []
    with _forced_colours(color):
        drawn = figure.show(legend=False)
    if ascii_only:
        drawn = drawn.replace("\u2800", " ")  # the empty braille cell
    lines.extend(line.rstrip() for line in drawn.splitlines())  # (plotille pads the tick labels)
    key = []
    for curve, colour, mark in zip(samples.curves, COLORS, marks):
        sample = ("--" if ascii_only else "──") if color or mark is None else mark * 2
        key.append(f"{_paint(sample, colour, color)} {curve.label}")
    if samples.kinks:
        key.append(f"{_paint(KINK_MARK, KINK_COLOR, color)} kink")
    lines.append("   ".join(key))
    for kink in samples.kinks[:MAX_LISTED_KINKS]:
        where = "at" if kink.exact else "near"
        lines.append(f"kink of {kink.gate} {where} {samples.wrt} = {scalar(kink.x, digits)} ({kink.rule})")
    more = len(samples.kinks) - MAX_LISTED_KINKS + samples.kinks_left_off
    if more > 0:
        lines.append(f"… and {more} more kinks")
    return "\n".join(lines) + "\n"


class _forced_colours:
    """While plotille draws: colours exactly when `color` says. plotille colours only when
    sys.stdout is a terminal (not so for a repl's console, or a test), and FORCE_COLOR, its
    documented switch, overrides that; the caller has already decided (NO_COLOR, --no-color)."""

    def __init__(self, color: bool) -> None:
        self.color = color

    def __enter__(self):
        import os

        self.saved = os.environ.get("FORCE_COLOR")
        if self.color:
            os.environ["FORCE_COLOR"] = "1"

    def __exit__(self, *exc):
        import os

        if self.color:
            if self.saved is None:
                del os.environ["FORCE_COLOR"]
            else:
                os.environ["FORCE_COLOR"] = self.saved
        return False


def _paint(text: str, colour: str, color: bool) -> str:
    if not color:
        return text
    import plotille

    with _forced_colours(color):
        return plotille.color(text, fg=colour, mode="names")
