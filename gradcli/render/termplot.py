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
    dots = (2 * figure.width, 4 * figure.height)  # a braille cell is 2 dots wide, 4 high
    for curve, colour, mark in zip(samples.curves, COLORS, marks):
        mark = None if color else mark
        lines, points = _drawn(curve.drawn(x, dots[0]), (float(x[0]), float(x[-1])), (low, high), dots,
                               lines=mark is None)
        for xs, ys in lines:
            figure.plot(xs.tolist(), ys.tolist(), lc=colour)
        if len(points[0]):
            figure.scatter(points[0].tolist(), points[1].tolist(), lc=colour, marker=mark)
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


# The most dot steps plotille's line drawing may take for one curve (~1 µs each): beyond it the
# curve is drawn as its points, one dot each.
MAX_WORK = 200_000
THIN_POINTS = 8  # more single points than this many per dot column: one per dot


def _drawn(pieces, x_limits, y_limits, dots, lines: bool = True):
    """What plotille draws of a curve's `pieces` in a plot of `dots` (columns, rows) over
    `x_limits` × `y_limits`: (polylines, (x, y) of single points). `pieces`: a list of (x, y)
    arrays, or (x, y, first) arrays of all their points, `first` True where a piece starts.

    plotille's line drawing takes a step per dot between a segment's ends, in the canvas or not,
    so a value of 1e300 takes forever: each segment is first clipped to the y-limits widened by
    half their height (the part drawn is the same), splitting a polyline where it leaves them.
    The work is then bounded: if the dot steps of all segments (and a call per polyline) exceed
    MAX_WORK (a dense curve of many pieces), or `lines` is False (each curve its mark), the
    points are drawn instead (one per dot when there are many). Points far outside the y-limits
    are dropped."""
    import numpy as np

    empty = np.empty(0)
    if isinstance(pieces, tuple):
        xs, ys, first = (np.asarray(a) for a in pieces)
        xs, ys = xs.astype(float), ys.astype(float)
    else:
        pieces = [(np.asarray(p[0], dtype=float), np.asarray(p[1], dtype=float)) for p in pieces]
        if not pieces:
            return [], (empty, empty)
        xs = np.concatenate([p[0] for p in pieces])
        ys = np.concatenate([p[1] for p in pieces])
        first = np.zeros(len(xs), dtype=bool)
        first[np.cumsum([0] + [len(p[0]) for p in pieces[:-1]])] = True
    if not len(xs):
        return [], (empty, empty)
    low, high = y_limits
    half = high / 2 - low / 2  # (finite, unlike high - low for ±1e308)
    top = min(high + half, FLOAT_MAX)
    bottom = max(low - half, -FLOAT_MAX)
    width = x_limits[1] / 2 - x_limits[0] / 2
    scale_x = dots[0] / width if width > 0 else 0.0  # dots per unit of x/2
    scale_y = dots[1] / half if half > 0 else 0.0
    polylines = []
    alone = first & np.append(first[1:], True)  # a piece of one point
    if lines and len(xs) > 1:
        x0, x1, y0, y1 = xs[:-1], xs[1:], ys[:-1], ys[1:]
        with np.errstate(all="ignore"):
            dy = y1 / 2 - y0 / 2
            flat = dy == 0
            t_bottom = np.where(flat, -np.inf, (bottom / 2 - y0 / 2) / np.where(flat, 1.0, dy))
            t_top = np.where(flat, np.inf, (top / 2 - y0 / 2) / np.where(flat, 1.0, dy))
            t_in = np.maximum(0.0, np.minimum(t_bottom, t_top))
            t_out = np.minimum(1.0, np.maximum(t_bottom, t_top))
            inside = np.where(flat, (y0 >= bottom) & (y0 <= top), t_in <= t_out)
            kept = np.flatnonzero(inside & ~first[1:])
            t_in, t_out = t_in[kept], t_out[kept]
            x0, x1, y0, y1, dy = x0[kept], x1[kept], y0[kept], y1[kept], dy[kept]
            ax = np.where(t_in > 0, x0 + t_in * (x1 - x0), x0)
            bx = np.where(t_out < 1, x0 + t_out * (x1 - x0), x1)
            # a cut end lies on the bound crossed (interpolating y there loses all its digits)
            ay = np.where(t_in > 0, np.clip(y0, bottom, top), y0)
            by = np.where(t_out < 1, np.clip(y1, bottom, top), y1)
            steps = np.maximum(np.abs(bx / 2 - ax / 2) * scale_x, np.abs(by / 2 - ay / 2) * scale_y)
        joined = np.zeros(len(kept), dtype=bool)  # segment k continues segment k - 1's polyline
        joined[1:] = (kept[1:] == kept[:-1] + 1) & (t_out[:-1] == 1) & (t_in[1:] == 0)
        starts = np.flatnonzero(~joined)
        work = float(np.nan_to_num(steps, nan=0.0, posinf=MAX_WORK).sum()) + 2 * len(kept) + 50 * len(starts)
        if work <= MAX_WORK:
            for begin, end in zip(starts.tolist(), np.append(starts[1:], len(kept)).tolist()):
                polylines.append((np.concatenate([ax[begin:begin + 1], bx[begin:end]]),
                                  np.concatenate([ay[begin:begin + 1], by[begin:end]])))
            # a piece's points outside the band and not on a kept segment are not drawn
            xs, ys = xs[alone], ys[alone]
    keep = (ys >= bottom) & (ys <= top)
    xs, ys = xs[keep], ys[keep]
    if len(xs) <= THIN_POINTS * dots[0]:
        return polylines, (xs, ys)
    # many: one point per dot: its column and row, as plotille rounds them (near enough)
    with np.errstate(all="ignore"):
        column = np.round((xs / 2 - x_limits[0] / 2) * scale_x)
        row = np.round((ys / 2 - low / 2) * scale_y)
    # as one integer key (rows lie within ±1.5 plot heights: the band), sorted in 1-D: fast
    span = 4 * dots[1] + 8
    key = column.astype(np.int64) * span + np.clip(row, -span // 2 + 1, span // 2 - 1).astype(np.int64)
    _, index = np.unique(key, return_index=True)
    index.sort()
    return polylines, (xs[index], ys[index])


FLOAT_MAX = 1.7976931348623157e308


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
