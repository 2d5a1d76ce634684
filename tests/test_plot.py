"""gradcli plot: f and its derivatives over a range (gradcli.evaluation.sampling, the terminal plot,
the Matplotlib figure, --format csv|json, and show_plot for the repl).

The numbers are checked against hand-written NumPy functions and their central differences, never
against the engine alone; the kinks against where the hand knows them to be."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gradcli
from gradcli.base.errors import GradcliError
from gradcli.commands.plot import PlotUsageError, parse_range, show_plot
from gradcli.evaluation import sampling
from gradcli.evaluation.sampling import sample, sample_field

ROOT = Path(__file__).resolve().parent.parent
H = 1e-5

# (expression, held values, f by hand, f' by hand, f'' by hand) on NumPy arrays
SMOOTH = [
    ("x**3 - 3*x", {}, lambda x: x**3 - 3 * x, lambda x: 3 * x**2 - 3, lambda x: 6 * x),
    ("sin(x) * y", {"y": 2.5}, lambda x: 2.5 * np.sin(x), lambda x: 2.5 * np.cos(x), lambda x: -2.5 * np.sin(x)),
    ("tanh(w*x + b)", {"w": 2.0, "b": -1.0}, lambda x: np.tanh(2 * x - 1),
     lambda x: 2 / np.cosh(2 * x - 1) ** 2, lambda x: -8 * np.tanh(2 * x - 1) / np.cosh(2 * x - 1) ** 2),
    ("exp(-x**2/2)", {}, lambda x: np.exp(-x**2 / 2), lambda x: -x * np.exp(-x**2 / 2),
     lambda x: (x**2 - 1) * np.exp(-x**2 / 2)),
    ("sig(t) = 1/(1 + exp(-t)); sig(3*x)", {}, lambda x: 1 / (1 + np.exp(-3 * x)),
     lambda x: 3 * np.exp(-3 * x) / (1 + np.exp(-3 * x)) ** 2,
     lambda x: 9 * np.exp(-3 * x) * (np.exp(-3 * x) - 1) / (1 + np.exp(-3 * x)) ** 3),
]


def _central(fn, x, h=H):
    return (fn(x + h) - fn(x - h)) / (2 * h)


@pytest.mark.parametrize("source, held, f, df, d2f", SMOOTH, ids=[case[0] for case in SMOOTH])
def test_the_curves_are_f_and_its_derivatives(source, held, f, df, d2f):
    data = sample(gradcli.parse(source), "x", -2.0, 3.0, held, order=2, points=101)
    x = np.linspace(-2.0, 3.0, 101)
    assert np.array_equal(data.x, x)
    values, first, second = (c.values for c in data.curves)
    np.testing.assert_allclose(values, f(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(first, df(x), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(second, d2f(x), rtol=1e-9, atol=1e-11)
    # the hand's derivatives are right: central differences of the hand's f and f'
    np.testing.assert_allclose(_central(f, x), first, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(_central(df, x), second, rtol=1e-6, atol=1e-6)
    assert [c.label for c in data.curves] == ["f", "∂f/∂x", "∂²f/∂x²"]
    assert not any(c.broken.any() for c in data.curves)  # smooth: drawn whole
    assert data.kinks == [] and data.warnings == []


def test_order_one_has_no_second_derivative_and_the_points_are_one_array_evaluation(monkeypatch):
    calls = []
    real = gradcli.Graph.evaluate

    def counting(self, values=None, **options):
        calls.append(np.shape(values.get("x")))
        return real(self, values, **options)

    monkeypatch.setattr(gradcli.Graph, "evaluate", counting)
    graph = gradcli.parse("relu(x) * y + x**2")
    for points in (11, 5001):
        calls.clear()
        data = sample(graph, "x", -1.0, 1.0, {"y": 3.0}, points=points)
        assert len(data.curves) == 2
        # a scalar probe (the engine's own errors), then one pass over all the points
        assert calls == [(), (points,)]
    calls.clear()
    sample(graph, "x", -1.0, 1.0, {"y": 3.0}, order=2, points=301)
    assert calls == [(), (301,), (301,)]  # f and f', then the order-2 derivative graph


def test_kinks_come_from_the_registry():
    data = sample(gradcli.parse("relu(x) + abs(x - 0.3) + max(x, y)"), "x", -1.0, 1.0, {"y": -0.555},
                  points=201)
    found = {(k.gate, round(k.x, 12), k.exact) for k in data.kinks}
    # relu's kink at 0 is a point (exact); 0.3 and -0.55 lie between points, found by interpolation
    assert found == {("relu(x)", 0.0, True), ("abs(x - 0.3)", 0.3, False), ("max(x, y)", -0.555, False)}
    rules = {k.gate: k.rule for k in data.kinks}
    assert rules["relu(x)"] == "relu'(0) = 0" and "tie" in rules["max(x, y)"]
    # the mark sits on f (interpolated where no point is): f(0.3) = 0.3 + 0 + 0.3
    kink = next(k for k in data.kinks if k.gate == "abs(x - 0.3)")
    assert kink.f == pytest.approx(0.6, abs=1e-12)
    # f' jumps at each kink: broken there, and only there
    df = data.curves[1]
    x = data.x
    for where in (0.0, 0.3, -0.555):
        i = np.searchsorted(x, where, side="right") - 1
        assert df.broken[min(i, len(x) - 2)] or df.broken[i - 1]
    assert df.broken.sum() <= 4
    assert not data.curves[0].broken.any()  # f is continuous


def test_a_derivative_breaks_at_a_kink_only_where_it_jumps():
    # relu(x)**2: f' = 2 relu(x) is continuous through the kink, f'' = 2 step(x) jumps there
    data = sample(gradcli.parse("relu(x)**2"), "x", -1.0, 1.0, order=2, points=201)
    f, df, d2f = data.curves
    assert not f.broken.any() and not df.broken.any()
    assert d2f.broken.sum() == 2 and d2f.broken[99] and d2f.broken[100]  # the two segments at x = 0
    np.testing.assert_allclose(d2f.values, 2 * (data.x > 0), atol=0)


def test_kinks_inside_a_function_you_define(cli):
    result = cli("plot", "h(t) = relu(t - 1); h(x) * 2", "--wrt", "x", "--points", "5", "-f", "json")
    assert result.exit_code == 0, result.stderr
    kinks = json.loads(result.stdout)["kinks"]
    assert len(kinks) == 1 and kinks[0]["x"] == pytest.approx(1.0) and "relu" in kinks[0]["gate"]


def test_a_pole_breaks_the_curve_instead_of_a_vertical_line():
    # 400 points on -2:2: 0 lies between two of them, where 1/x goes from -inf-ish to +inf-ish
    data = sample(gradcli.parse("1/x"), "x", -2.0, 2.0, points=400)
    f, df = data.curves
    middle = np.searchsorted(data.x, 0.0) - 1  # the segment across 0
    assert f.broken[middle] and f.broken.sum() == 1
    assert all(not (data.x[a] < 0 < data.x[b - 1]) for a, b in f.runs())
    # tan: a pole at pi/2 where the derivative is +big on both sides and f falls
    data = sample(gradcli.parse("tan(x)"), "x", 0.0, 3.0, points=300)
    pole = np.searchsorted(data.x, np.pi / 2) - 1
    assert data.curves[0].broken[pole] and data.curves[0].broken.sum() == 1


def test_a_jump_breaks_the_curve():
    data = sample(gradcli.parse("step(x) + sign(x - 1)"), "x", -2.0, 2.0, points=100)
    f = data.curves[0]
    assert f.broken.sum() == 2
    for a, b in f.runs():
        piece = data.x[a:b]
        assert not (piece[0] < 0 < piece[-1]) and not (piece[0] < 1 < piece[-1])


def test_non_finite_points_break_the_curve_and_are_counted():
    data = sample(gradcli.parse("log(x)"), "x", -1.0, 1.0, points=5)
    f, df = data.curves
    assert f.runs() == [(3, 5)]  # only x = 0.5 and 1 have a finite log (0's is -inf)
    assert data.warnings[0] == "f is nan or inf at 3 of 5 points (x from -1 to 0); the curve breaks there"
    assert df.values[4] == 1.0


def test_a_variable_f_does_not_use_is_refused_and_a_constant_f_is_flat():
    with pytest.raises(GradcliError, match="--wrt x: not a variable of the expression"):
        sample(gradcli.parse("y * 2"), "x", 0.0, 1.0, {"y": 3.0})
    data = sample(gradcli.parse("x * 0 + 7"), "x", 0.0, 1.0, points=3)
    assert data.curves[0].values.tolist() == [7.0, 7.0, 7.0] and data.curves[1].values.tolist() == [0, 0, 0]
    low, high = data.limits()
    assert low < 0 < 7 < high


def test_a_program_with_diff_plots_its_derivative(cli):
    result = cli("plot", "g = diff(x**3 * y, x); g + x", "--wrt", "x", "y=2", "-r", "-1:1", "--points", "3", "-f", "csv")
    assert result.exit_code == 0, result.stderr
    # g = 3x²y = 6x², f = 6x² + x, f' = 12x + 1
    assert result.stdout == "x,f,df/dx\n-1.0,5.0,-11.0\n0.0,0.0,1.0\n1.0,7.0,13.0\n"


def test_many_points_are_thinned_for_the_terminal_keeping_the_extremes():
    data = sample(gradcli.parse("sin(50*x) + x"), "x", 0.0, 3.0, points=100_001)
    curve = data.curves[0]
    [(xs, ys)] = curve.pieces(data.x, 200)
    assert len(xs) <= 4 * 2 * 200 and np.all(np.diff(xs) > 0)
    assert ys.max() == curve.values.max() and ys.min() == curve.values.min()
    assert xs[0] == 0.0 and xs[-1] == 3.0
    [(xs, ys)] = curve.pieces(data.x)  # no columns: every point
    assert len(xs) == 100_001


def test_runs_are_the_finite_points_joined_by_unbroken_segments():
    values = np.array([1, np.nan, 2, 3, 4, 5, np.inf, 6])
    broken = np.array([0, 0, 0, 1, 0, 0, 0], dtype=bool)
    curve = sampling.Curve(0, "f", "f", values, broken)
    assert curve.runs() == [(0, 1), (2, 4), (4, 6), (7, 8)]


def test_view_limits_keep_the_bulk_when_a_pole_dominates():
    values = np.concatenate([np.linspace(-1, 1, 100), [1e9, -1e9, np.inf, np.nan]])
    low, high = sampling.view_limits(values)
    assert -5 < low < -1 and 1 < high < 5
    assert sampling.view_limits(np.array([np.nan])) == (-1.0, 1.0)


def test_points_that_combine_are_refused():
    with pytest.raises(GradcliError, match="combines elements and x flows into it"):
        sample(gradcli.parse("sum(x) * y"), "x", 0.0, 1.0, {"y": 1.0})
    with pytest.raises(GradcliError, match=r"plot needs a scalar f, and this one has shape \(2,\)"):
        sample(gradcli.parse("x * W"), "x", 0.0, 1.0, {"W": np.array([1.0, 2.0])})


def test_a_field_is_f_and_its_gradient_on_a_grid():
    field = sample_field(gradcli.parse("x**2 * y + 3*y"), ("x", "y"), ((-1.0, 1.0), (0.0, 2.0)), points=5)
    gx, gy = np.meshgrid(np.linspace(-1, 1, 5), np.linspace(0, 2, 5))
    np.testing.assert_allclose(field.f, gx**2 * gy + 3 * gy, rtol=1e-14)
    np.testing.assert_allclose(field.gradient[0], 2 * gx * gy, rtol=1e-14)
    np.testing.assert_allclose(field.gradient[1], gx**2 + 3, rtol=1e-14)
    np.testing.assert_allclose(field.norm, np.hypot(2 * gx * gy, gx**2 + 3), rtol=1e-14)


# -- the command line -------------------------------------------------------------------------------

def test_csv_gives_every_point_to_its_last_digit(cli):
    result = cli("plot", "x**3", "--wrt", "x", "-r", "-1:1", "--points", "3", "--order", "2", "-f", "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "x,f,df/dx,d2f/dx2\n-1.0,-1.0,3.0,-6.0\n0.0,0.0,0.0,0.0\n1.0,1.0,3.0,6.0\n"


def test_json_has_the_points_the_curves_and_the_kinks(cli):
    result = cli("plot", "abs(x) * y", "--wrt", "x", "y=2", "x=7", "-r", "-1:1", "--points", "3", "-f", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["wrt"] == ["x"] and doc["held"] == {"y": 2.0} and doc["points"] == 3
    assert doc["at"] == [-1.0, 0.0, 1.0] and doc["f"] == [2.0, 0.0, 2.0] and doc["df/dx"] == [-2.0, 0.0, 2.0]
    assert doc["kinks"] == [{"x": 0.0, "gate": "abs(x)", "rule": "abs'(0) = 0", "exact": True}]


def test_json_writes_nan_and_inf_as_the_other_commands_do(cli):
    result = cli("plot", "1/x", "--wrt", "x", "-r", "-1:1", "--points", "3", "-f", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["f"] == [-1.0, "Infinity", 1.0] and "f is nan or inf at 1 of 3 points (x = 0)" in result.stderr


def test_field_csv(cli):
    result = cli("plot", "x*y", "--wrt", "x,y", "-r", "0:1,2:3", "--points", "2", "-f", "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["x,y,f,df/dx,df/dy", "0.0,2.0,0.0,2.0,0.0", "1.0,2.0,2.0,2.0,1.0",
                                          "0.0,3.0,0.0,3.0,0.0", "1.0,3.0,3.0,3.0,1.0"]


def test_the_terminal_plot_has_axes_a_legend_and_the_kinks(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "72")
    monkeypatch.setenv("LINES", "30")
    monkeypatch.delenv("TERM", raising=False)
    result = cli("plot", "relu(x) * y", "--wrt", "x", "y=2", "--order", "2")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "f = relu(x) * y at y = 2"
    assert max(len(line) for line in lines) <= 72
    assert "── f   •• ∂f/∂x   ++ ∂²f/∂x²   x kink" in lines
    assert "kink of relu(x) at x = 0 (relu'(0) = 0)" in lines
    assert any(line.endswith("> (x)") for line in lines)  # the x axis
    assert "\x1b[" not in result.stdout  # no colour into a pipe
    assert 20 <= len(lines) <= 30


def test_dumb_terminals_get_ascii(cli, monkeypatch):
    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.setenv("COLUMNS", "60")
    result = cli("plot", "abs(x)", "--wrt", "x")
    assert result.exit_code == 0
    assert result.stdout.isascii() and "** f   oo df/dx   x kink" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["--range", "5:-5"], "--range 5:-5: the low end must be below the high end"),
    (["--range", "1:1"], "the low end must be below the high end"),
    (["--range", "a:1"], "--range a:1: cannot read 'a' as a number"),
    (["--range", "1"], "--range '1' is not LOW:HIGH"),
    (["--range", "1:2:3"], "is not LOW:HIGH"),
    (["--range", "-inf:0"], "both ends must be finite numbers"),
    (["--range", "-1e308:1e308"], "is too wide"),
    (["--size", "30x10"], "30x10 is not from 40x12"),
    (["--size", "wide"], "'wide' is not COLUMNSxLINES"),
    (["--range", "[1]:3"], "each end is one number"),
    (["--range", "0:1,0:2"], "one variable takes one LOW:HIGH"),
    (["--points", "1"], "--points 1: a plot has from 2 to 1,000,000 points"),
    (["--points", "0"], "--points 0"),
    (["--points", "2000000"], "from 2 to 1,000,000 points"),
    (["--points", "many"], "'many' is not a valid integer"),
    (["--order", "3"], "3 is not between 1 and 2"),
    (["--order", "0"], "0 is not between 1 and 2"),
    (["--output", "plot.gif"], "should end in .png, .svg, .pdf"),
    (["--format", "xml"], "'xml' is not one of 'csv', 'json'"),
    (["--format", "csv", "--output", "p.png"], "--output draws a figure; it does not go with --format csv"),
    (["--wrt", "x,y,z"], "plot draws over one variable or two different ones"),
    (["--wrt", "x,y"], "a plot over two variables goes into a file"),
    (["--wrt", "x,y", "--order", "2", "-f", "csv"], "--order 2 is for one variable"),
    (["--wrt", "x,y", "--points", "3000", "-f", "csv"], "from 2 to 2,000 points per axis"),
    (["--wrt", ","], "--wrt needs at least one variable name"),
    (["--wrt", "x,x"], "--wrt x,x names x twice"),  # not quietly --wrt x
])
def test_bad_options_are_usage_errors(cli, args, message):
    wrt = [] if "--wrt" in args else ["--wrt", "x"]
    result = cli("plot", "x * y * z", "x=1", "y=2", "z=3", *wrt, *args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert result.stdout == ""


def test_no_wrt_is_a_usage_error(cli):
    result = cli("plot", "x**2")
    assert result.exit_code == 2 and "plot needs --wrt NAME" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["x*y", "--wrt", "z", "y=1"], "--wrt z: not a variable of the expression"),
    (["x*y", "--wrt", "x"], "y"),  # a missing value: the engine's own message
    (["sum(x)*y", "--wrt", "x", "y=1"], "combines elements"),
    (["x*W", "--wrt", "x", "W=[1,2]"], "plot needs a scalar f, and this one has shape (2,)"),
    (["x*(", "--wrt", "x"], "at line 1"),
])
def test_bad_input_is_exit_1_with_one_message(cli, args, message):
    result = cli("plot", *args)
    assert result.exit_code == 1, result.stderr
    assert result.stderr.startswith("error: ") and message in result.stderr and result.stdout == ""


def test_range_ends_are_numbers_as_values_are_written():
    assert parse_range("-pi:pi") == [(-np.pi, np.pi)]
    assert parse_range(" -1e-3 : 2 ") == [(-1e-3, 2.0)]
    assert parse_range("-5:5", 2) == [(-5.0, 5.0), (-5.0, 5.0)]
    assert parse_range("0:1,-2:2", 2) == [(0.0, 1.0), (-2.0, 2.0)]
    with pytest.raises(PlotUsageError):
        parse_range("0:1,2:3,4:5", 2)


# -- files ------------------------------------------------------------------------------------------

MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".svg": b"<?xml", ".pdf": b"%PDF"}


def test_output_draws_a_matplotlib_figure(cli, tmp_path):
    pytest.importorskip("matplotlib")
    for suffix in (".png", ".svg", ".pdf"):
        path = tmp_path / f"plot{suffix}"
        result = cli("plot", "relu(x) + 1/(x - 2)", "--wrt", "x", "--order", "2", "--points", "101", "-o", str(path))
        assert result.exit_code == 0, result.stderr
        assert result.stdout == ""
        assert path.read_bytes().startswith(MAGIC[suffix])
    text = (tmp_path / "plot.svg").read_text()
    assert "kink" in text and "∂f/∂x" in text  # the legend
    # the same plot gives the same bytes
    again = tmp_path / "again.svg"
    assert cli("plot", "relu(x) + 1/(x - 2)", "--wrt", "x", "--order", "2", "--points", "101", "-o", str(again)).exit_code == 0
    assert again.read_text() == text


def test_a_field_goes_into_a_file(cli, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "field.png"
    result = cli("plot", "x**2 + 3*y**2 + relu(x*y)", "--wrt", "x,y", "-r", "-2:2", "--points", "41", "-o", str(path))
    assert result.exit_code == 0, result.stderr
    assert path.read_bytes().startswith(MAGIC[".png"])


def test_without_matplotlib_output_says_how_to_install_it(cli, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    path = tmp_path / "p.png"
    result = cli("plot", "x**2", "--wrt", "x", "-o", str(path))
    assert result.exit_code == 1
    assert "Matplotlib, which is not installed" in result.stderr and "pip install 'gradcli[plot]'" in result.stderr
    assert not path.exists()
    # the terminal plot needs no Matplotlib
    assert cli("plot", "x**2", "--wrt", "x").exit_code == 0


# -- the repl's entry and start-up ------------------------------------------------------------------

def test_show_plot_writes_to_a_rich_console_of_its_width():
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(file=buffer, width=60, height=25, force_terminal=False, color_system=None)
    show_plot("x**2 * y", {"y": 2.0}, ["x"], "-3:3", console=console)
    text = buffer.getvalue()
    assert text.startswith("f = x**2 * y at y = 2\n") and max(map(len, text.splitlines())) <= 60
    buffer.seek(0)
    buffer.truncate(0)
    show_plot("x**2", {}, ["x"], "0:1", points=2, format="csv", console=console)
    assert buffer.getvalue().endswith("x,f,df/dx\n0.0,0.0,0.0\n1.0,1.0,2.0\n")
    buffer.seek(0)
    buffer.truncate(0)
    show_plot("x*y", {"y": 2.0, "x": 9.0, "unused": np.ones(3)}, "x", "0:1", points=2, format="csv", console=console)
    assert buffer.getvalue().endswith("x,f,df/dx\n0.0,0.0,2.0\n1.0,2.0,2.0\n")
    with pytest.raises(PlotUsageError, match="the low end must be below"):
        show_plot("x**2", {}, ["x"], "3:-3", console=console)
    with pytest.raises(GradcliError, match="not a variable"):
        show_plot("x**2", {}, ["q"], "-3:3", console=console)
    with pytest.raises(PlotUsageError, match="--order 5"):
        show_plot("x**2", {}, ["x"], "-3:3", order=5, console=console)


def test_plotting_libraries_load_only_for_plot():
    code = ("import sys; from gradcli.commands import cli; "
            "print(sorted(m for m in ('plotille', 'matplotlib', 'gradcli.evaluation.sampling') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout
    assert out.strip() == "[]"


def test_colours_when_asked_and_tick_labels_that_fit():
    from gradcli.render import termplot

    data = sample(gradcli.parse("relu(x)"), "x", -1.0, 1.0, points=21)
    text = termplot.render(data, width=60, height=20, color=True)
    assert "\x1b[34m" in text and "\x1b[31m" in text  # f blue, ∂f/∂x red, as the legend says
    assert "•" not in text  # colours tell the curves apart: no marks needed
    assert termplot._tick(-2.593e299, 10, None) == "-2.59e+299"
    assert termplot._tick(1234.5678, 10, None) == "      1235"
    assert termplot._tick(0.5, 10, None, left=True) == "0.5       "
    assert all(len(termplot._tick(v, 10, None)) <= 10 for v in (-1.2345e-300, 9.87654e300, -0.000123456, 5.0))


HUGE = [  # curves far beyond their y-limits: plotille's line drawing took a step per dot of them
    ("exp(exp(x))", "-5:5", {}), ("1/(x-1e-300)", "-5:5", {}), ("exp(x)", "0:700", {}), ("exp(x)", "0:300", {}),
    ("1e308*x", "-1:1", {}), ("tan(x)", "-100:100", {"points": 100_000}),
    ("log(sin(1e6*x))", "-5:5", {"points": 200_000}), ("sin(1e4*x)", "-5:5", {"points": 200_000, "order": 2}),
    # a kink crossed, a curve broken at nearly every point: no Python loop over them
    ("relu(sin(1e5*x))", "-5:5", {"points": 300_000, "order": 2}),
    ("step(sin(1e6*x))*exp(x*100)", "-5:5", {"points": 300_000, "order": 2}),
]


def test_no_curve_makes_the_terminal_plot_slow():
    # in a subprocess with a timeout: a hang fails the test instead of stopping the suite
    script = (
        "import io, json, time, rich.console\n"
        "from gradcli.commands.plot import show_plot\n"
        f"cases = {HUGE!r}\n"
        "times = []\n"
        "for source, span, options in cases:\n"
        "    console = rich.console.Console(file=io.StringIO(), width=100, height=30)\n"
        "    start = time.perf_counter()\n"
        "    show_plot(source, {}, ['x'], span, console=console, quiet=True, **options)\n"
        "    times.append(time.perf_counter() - start)\n"
        "    assert '(x)' in console.file.getvalue()\n"
        "print(json.dumps(times))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    times = json.loads(done.stdout)
    assert max(times) < 5, dict(zip((case[0] for case in HUGE), times))  # each ~0.1 s; unbounded before


def test_segments_are_clipped_to_the_y_limits_and_the_work_is_bounded():
    from gradcli.render import termplot

    xs, ys = np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 1e300, 0.5, -1e308])
    lines, points = termplot._drawn([(xs, ys)], (0.0, 3.0), (-1.0, 1.0), (100, 40))
    for line_x, line_y in lines:
        assert np.all(np.abs(line_y) <= 2.0) and np.all(np.diff(line_x) >= 0)
    # the band is -2..2 (the limits widened by half their height); the curve leaves it through the
    # top just after x = 0, comes back just before 2 and leaves through the bottom just after 2
    assert [(float(a[0]), float(a[-1])) for a, _ in lines] == [(0.0, pytest.approx(0.0, abs=1e-299)),
                                                             (pytest.approx(2.0), pytest.approx(2.0))]
    assert lines[0][1].tolist() == [0.0, 2.0] and lines[1][1].tolist() == [2.0, 0.5, -2.0]
    inside = [(np.linspace(0, 1, 50), np.sin(np.linspace(0, 1, 50)))]
    lines, points = termplot._drawn(inside, (0.0, 1.0), (-1.0, 1.0), (100, 40))
    assert len(lines) == 1 and np.array_equal(lines[0][1], inside[0][1]) and len(points[0]) == 0  # as given
    zigzag = [(np.linspace(0, 1, 100_000), np.tile([-1.0, 1.0], 50_000))]
    lines, points = termplot._drawn(zigzag, (0.0, 1.0), (-1.0, 1.0), (100, 40))
    assert lines == [] and len(points[0]) <= 101 * 41  # too much line work: one point per dot instead


def test_a_range_too_narrow_for_its_points_is_refused(cli):
    result = cli("plot", "x", "--wrt", "x", "--range", "0:5e-324")
    assert result.exit_code == 2 and "is too narrow to plot" in result.stderr
    result = cli("plot", "x", "--wrt", "x", "--range", "1:1.000000000000001", "--points", "100")
    assert result.exit_code == 1 and "is too narrow for 100 points" in result.stderr


def test_a_value_for_the_plotted_variable_is_said_to_be_unused(cli):
    result = cli("plot", "x * y", "--wrt", "x", "x=3", "y=2", "--points", "3", "-f", "csv")
    assert result.exit_code == 0
    assert result.stderr == "warning: x=3 is not used: plot runs x over -5:5\n"
    assert result.stdout == "x,f,df/dx\n-5.0,-10.0,2.0\n0.0,0.0,2.0\n5.0,10.0,2.0\n"  # x ran, y held
    assert cli("plot", "x * y", "--wrt", "x", "x=3", "y=2", "-f", "csv", "--quiet").stderr == ""


def test_an_array_held_whole_when_f_is_a_scalar_function_of_it(cli, tmp_path):
    # f = x·sum(relu(A)) + relu(x): f' = sum(relu(A)) + step(x) = 1 + step(x), f'' = 0 (A = [1, -2])
    result = cli("plot", "x*sum(relu(A)) + relu(x)", "--wrt", "x", "A=[1,-2]", "--points", "3", "--order", "2",
                 "-f", "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "x,f,df/dx,d2f/dx2\n-5.0,-5.0,1.0,0.0\n0.0,0.0,1.0,0.0\n5.0,10.0,2.0,0.0\n"
    result = cli("plot", "x*sum(A)", "--wrt", "x", "A=[1,2,3]", "--size", "60x20")
    assert result.exit_code == 0 and result.stdout.startswith("f = x*sum(A) at A = an array of shape (3,)\n")
    zarr = pytest.importorskip("zarr", reason="zarr (gradcli[dask]) is not installed")
    group = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    group.create_array("a", shape=(4,), dtype="f8")[:] = [1, 2, 3, 4]
    result = cli("plot", "x*sum(A)", "--wrt", "x", f"A=@{tmp_path / 'g.zarr'}:a", "--points", "2", "-f", "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "x,f,df/dx\n-5.0,-50.0,10.0\n5.0,50.0,10.0\n"


def test_a_field_nan_everywhere_is_said_once_without_matplotlibs_warnings(tmp_path):
    pytest.importorskip("matplotlib", reason="Matplotlib (gradcli[plot]) is not installed")
    done = subprocess.run([sys.executable, "-m", "gradcli", "plot", "sqrt(-x*x - y*y - 1)", "--wrt", "x,y",
                           "--points", "5", "-o", str(tmp_path / "field.png")], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [f"warning: {name} is nan or inf at 25 of 25 grid points (left blank)"
                                        for name in ("f", "∂f/∂x", "∂f/∂y")]


def test_drawn_is_pieces_in_one_go():
    data = sample(gradcli.parse("sqrt(sin(40*x)) + relu(x)"), "x", -3.0, 3.0, points=20_001, order=2)
    for curve in data.curves:
        pieces = curve.pieces(data.x, 100)
        xs, ys, first = curve.drawn(data.x, 100)
        assert np.array_equal(xs, np.concatenate([p[0] for p in pieces]))
        assert np.array_equal(ys, np.concatenate([p[1] for p in pieces]))
        assert np.flatnonzero(first).tolist() == np.cumsum([0] + [len(p[0]) for p in pieces[:-1]]).tolist()


def test_a_huge_terminal_is_drawn_at_most_500x300(cli, monkeypatch):
    import time

    monkeypatch.setenv("COLUMNS", "100000")  # (shutil.get_terminal_size reads these first)
    monkeypatch.setenv("LINES", "100000")
    start = time.perf_counter()
    result = cli("plot", "x", "--wrt", "x")
    assert time.perf_counter() - start < 10  # plotille's canvas of 10^10 cells: forever before
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 500 and len(lines) <= 300
