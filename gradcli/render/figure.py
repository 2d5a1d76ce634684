"""`gradcli plot --output FILE.png|.svg|.pdf`: the Matplotlib figure (the `gradcli[plot]` extra).

One variable: f and its derivatives on one pair of axes, each curve drawn piece by piece where
gradcli.evaluation.sampling says it is unbroken (no vertical line across a pole or a jump), the
kinks marked. Two variables: a heat map of ‖∇f‖ with the gradient field's arrows and f's contour
lines over it. Matplotlib is imported here only, when a figure is asked for; the file is written
whole (base.outfile.AtomicFile) or not at all. Computes nothing but the layout."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ..base.outfile import write_whole
from ..evaluation.sampling import Field, Samples

COLORS = ("tab:blue", "tab:red", "tab:green")
ARROWS = 21  # arrows per axis in a field


def _figure():
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    return Figure(figsize=(8, 5), dpi=100, layout="constrained")


def draw_samples(data: Samples, title: str = ""):
    figure = _figure()
    axes = figure.add_subplot()
    x = data.x
    for curve, colour in zip(data.curves, COLORS):
        first = True
        for start, stop in curve.runs():
            xs, ys = x[start:stop], curve.values[start:stop]
            style = {"marker": "."} if stop - start == 1 else {}
            axes.plot(xs, ys, color=colour, label=curve.label if first else None, **style)
            first = False
    low, high = data.limits()
    axes.set_ylim(low, high)
    axes.set_xlim(float(x[0]), float(x[-1]))
    if data.kinks:
        shown = [k for k in data.kinks if low <= k.f <= high]
        for k in data.kinks:
            axes.axvline(k.x, color="0.6", linestyle=":", linewidth=0.8)
        if shown:
            axes.plot([k.x for k in shown], [k.f for k in shown], linestyle="none", marker="x", color="tab:orange",
                      markersize=8, label="kink")
    axes.axhline(0, color="0.8", linewidth=0.8, zorder=0)
    axes.set_xlabel(data.wrt)
    axes.legend(loc="best")
    axes.grid(True, alpha=0.3)
    if title:
        axes.set_title(title)
    return figure


def draw_field(data: Field, title: str = ""):
    figure = _figure()
    axes = figure.add_subplot()
    norm = np.ma.masked_invalid(data.norm)
    mesh = axes.pcolormesh(data.x, data.y, norm, shading="auto", cmap="viridis")
    figure.colorbar(mesh, ax=axes, label="‖∇f‖")
    f = np.ma.masked_invalid(data.f)
    if f.count() > 1 and np.ptp(f.compressed()) > 0:
        lines = axes.contour(data.x, data.y, f, levels=10, colors="white", linewidths=0.6, alpha=0.7)
        axes.clabel(lines, fontsize=7)
    step_x = max(1, len(data.x) // ARROWS)
    step_y = max(1, len(data.y) // ARROWS)
    gx = np.ma.masked_invalid(data.gradient[0][::step_y, ::step_x])
    gy = np.ma.masked_invalid(data.gradient[1][::step_y, ::step_x])
    axes.quiver(data.x[::step_x], data.y[::step_y], gx, gy, color="white", pivot="mid")
    axes.set_xlabel(data.names[0])
    axes.set_ylabel(data.names[1])
    axes.set_aspect("auto")
    axes.set_title(title + ("\n" if title else "") + "‖∇f‖ (colour), ∇f (arrows), f (contours)", fontsize=10)
    return figure


def save(data: Samples | Field, path: str, title: str = "") -> None:
    """Draw `data` and write it to `path`, its type from the suffix (.png, .svg, .pdf)."""
    figure = draw_field(data, title) if isinstance(data, Field) else draw_samples(data, title)
    kind = Path(path).suffix.lower().lstrip(".")
    buffer = io.BytesIO()
    # no date or software version in the file: the same plot gives the same bytes
    metadata = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}[kind]
    import matplotlib

    with matplotlib.rc_context({"svg.hashsalt": "gradcli"}):  # the SVG's ids: the same every run
        figure.savefig(buffer, format=kind, metadata=metadata)
    write_whole(path, buffer.getvalue(), binary=True)
