"""One set of numbers and diagnostics, whichever path runs (issue 11, kinds 1 and 3).

The traced NumPy engine (tables, JSON, CSV) is the reference. The untraced engine (--format plain,
batch, trace=False) and the scalar engine (graphs of scalars) must give its values (nan-aware, to
rounding) and its diagnostics (kind, message, gate, in order), for edge inputs swept over every op
of the registry and over composite expressions, without a Python warning escaping. Through the
real console script, stderr holds only lines gradcli wrote, and -q silences every warning.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest

import gradcli
from gradcli.evaluation import engine, scalar_engine
from gradcli.core.ops import OPS

from opcalls import DERIVATIVE_OPS, SKIPPED, calls, edge_fill

EDGES = [0.0, -0.0, 1e-310, -1e-310, 1e308, -1e308, math.inf, -math.inf, math.nan, 1000.0, -1000.0,
         1.5, -2.5]
FINITE_EDGES = [v for v in EDGES if math.isfinite(v)]

BINARY_SYMBOL = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}


def _call(op, *args: str) -> str:
    if op.name in BINARY_SYMBOL:
        return f"({args[0]}) {BINARY_SYMBOL[op.name]} ({args[1]})"
    if op.name == "neg":
        return f"-({args[0]})"
    if op.name == "matmul":
        return f"({args[0]}) @ ({args[1]})"
    return f"{op.call_name}({', '.join(args)})"


def _elementwise_programs():
    """(program, values) for every elementwise op: all edge values in one array, and every pair
    of them for a binary op (an array against an array, and against each scalar)."""
    column = np.array(EDGES)
    for op in OPS.values():
        if op.vjp is not None or op.name in SKIPPED:
            continue
        if op.arity == 1:
            yield _call(op, "x"), {"x": column}
            yield f"sum({_call(op, 'x')}) * 2", {"x": column}
            continue
        if op.arity == 3:  # every triple of edges, and the edges against constant bounds
            xs, ys, zs = np.meshgrid(column, column, column)
            yield _call(op, "x", "y", "z"), {"x": xs.ravel(), "y": ys.ravel(), "z": zs.ravel()}
            yield _call(op, "x", "y", "z"), {"x": column.reshape(-1, 1, 1), "y": column.reshape(1, -1, 1),
                                             "z": column.reshape(1, 1, -1)}  # broadcast
            for lo, hi in (("0", "1"), ("-1", "2"), ("1e-310", "1e308"), ("2", "-1"), ("0.5", "0.5")):
                yield _call(op, "x", lo, hi), {"x": column}
                yield _call(op, lo, "x", hi), {"x": column}
                yield _call(op, lo, hi, "x"), {"x": column}
            continue
        xs, ys = np.meshgrid(column, column)
        yield _call(op, "x", "y"), {"x": xs.ravel(), "y": ys.ravel()}
        yield _call(op, "x", "y"), {"x": column.reshape(-1, 1), "y": column.reshape(1, -1)}  # broadcast
        for c in ("0", "2", "-1", "0.5", "1e308", "1e-310"):
            yield _call(op, "x", c), {"x": column}
            yield _call(op, c, "x"), {"x": column}


def _array_programs():
    """Every op that is not elementwise, on arrays mixing the edge values."""
    square = np.array(EDGES[:12]).reshape(3, 4)
    other = np.array(EDGES[1:13][::-1]).reshape(4, 3)
    for op in OPS.values():
        if op.vjp is None or op.name in SKIPPED:
            continue
        if op.name in DERIVATIVE_OPS:
            yield from calls(op, edge_fill(EDGES))
            continue
        if "axis" in op.params:
            for axis in ("", ", axis=0", ", axis=1", ", axis=-1"):
                yield f"{op.call_name}(x{axis})", {"x": square}
                yield f"{op.call_name}(x{axis}) * 0", {"x": square}
            yield f"{op.call_name}(x)", {"x": np.array(EDGES)}
        elif op.arity == 2:
            yield _call(op, "x", "y"), {"x": square, "y": other}
            yield _call(op, "x", "y") + " * 0", {"x": square, "y": other}
        else:
            yield f"{_call(op, 'x')} * y", {"x": square, "y": other}


COMPOSITES = [
    # the examples
    ("x / 0", {"x": [1.0, 2.0]}),
    ("x ** -1", {"x": [0.0, 1.5]}),
    ("sum(exp(x)) * 0", {"x": [1000.0]}),
    ("x ** 2", {"x": [1e308, 1.5]}),
    ("x ** 0", {"x": [0.0, 1e-310, 1.5]}),
    # members of the kind: pending factors meeting 0, inf, overflow and underflow
    ("0 * x", {"x": [1e308, -1e308]}),
    ("x * 1e300 * 1e300 * 1e-300", {"x": [1.0, -2.0]}),
    ("x * 1e-200 * 1e-200 * 1e300 * 1e300", {"x": [1.0, 3.0]}),
    ("-(-x) / 1e-310", {"x": [1.0, -1.0]}),
    ("mean(x * 1e308) * 4", {"x": [1.0, 1.0]}),
    ("exp(x) * 0 + x", {"x": [1000.0, 1.0]}),
    ("x ** -2 * 0", {"x": [0.0, -0.0]}),
    ("log(x) * x", {"x": [0.0, -1.0, 2.0]}),
    ("sqrt(x) / x", {"x": [0.0, 4.0]}),
    ("x / x", {"x": [0.0, 2.0]}),
    ("1 / (1 + exp(-x))", {"x": [-1000.0, 1000.0, 0.0]}),
    ("tanh(x) * x ** 3", {"x": [1e103, -1e103]}),
    ("sum(x * y) / sum(y)", {"x": [1.0, 2.0], "y": [1.0, -1.0]}),
    ("max(x, y) * 0", {"x": [math.inf, 1.0], "y": [0.0, math.nan]}),
    ("relu(x) * 1e308 * 10", {"x": [1.0, -1.0]}),
    ("sq(t) = t * t\nsq(x) / 0", {"x": [1.0, 0.0]}),
    ("h(t) = exp(t) * 0\nh(x) + x", {"x": [1000.0, 1.0]}),
    ("sum(x) * 1e308 * 10", {"x": [1.0, 2.0]}),
    ("norm(x) * 0", {"x": [0.0, 0.0]}),
    ("x * 2", {"x": [math.nan, math.inf, -math.inf]}),
    ("1e999 * x", {"x": [1.0, 0.0]}),
    # two finite gradients whose sum at a fork overflows: 2·1.78999e308·cos(1.78999e308) = -inf
    ("sin(x * 1.78999e308) + sin(x * 1.78999e308)", {"x": [1.0, 0.5]}),
    ("t = x * 1e308\nt + t - t * 0.5", {"x": [1.0, -1.0]}),
]


def _same_number(a, b, rel=1e-12) -> bool:
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= rel * max(abs(a), abs(b)) + 1e-300


def assert_same(result, reference, where: str) -> None:
    def same(a, b, what):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        assert a.shape == b.shape, f"{where}: {what} shape {a.shape} vs {b.shape}"
        for x, y in zip(a.ravel(), b.ravel()):
            assert _same_number(x, y), f"{where}: {what} {a} vs {b}"

    same(result.value, reference.value, "value")
    assert result.gradients.keys() == reference.gradients.keys()
    for name in reference.gradients:
        same(result.gradients[name], reference.gradients[name], f"∂{name}")
    got = [(d.kind, d.message, d.node) for d in result.diagnostics]
    expected = [(d.kind, d.message, d.node) for d in reference.diagnostics]
    assert got == expected, f"{where}: diagnostics\n{got}\nvs the traced path's\n{expected}"


def evaluate_every_way(program: str, values: dict):
    """Every path over one program; the traced NumPy engine is the reference."""
    graph = gradcli.parse(program)
    values = {name: value for name, value in values.items() if name in graph.variables}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a NumPy RuntimeWarning escaping an engine fails the test
        with np.errstate(all="warn"):  # whatever the caller's state, the engines set their own
            reference = engine.run(graph, dict(values), trace=True)
            assert_same(engine.run(graph, dict(values), trace=False), reference, f"{program} untraced")
            assert_same(graph.evaluate(dict(values), trace=False), reference, f"{program} evaluate(trace=False)")
            assert_same(graph.evaluate(dict(values), trace=True), reference, f"{program} evaluate()")
            for trace in (False, True):
                fast = scalar_engine.run(graph, dict(values), trace=trace)
                if fast is not None:
                    assert_same(fast, reference, f"{program} scalar engine trace={trace}")
    return reference


@pytest.mark.parametrize("program, values", list(_elementwise_programs()) + list(_array_programs()),
                         ids=lambda p: p if isinstance(p, str) else "")
def test_every_op_at_the_edges_agrees_on_every_path(program, values):
    evaluate_every_way(program, values)


@pytest.mark.parametrize("name", sorted(n for n, op in OPS.items() if op.vjp is None and n not in SKIPPED))
def test_every_elementwise_op_at_each_scalar_edge_agrees(name):
    """Scalars take the scalar engine (or its decline to NumPy): each edge value, each pair."""
    op = OPS[name]
    if op.arity == 1:
        for x in EDGES:
            evaluate_every_way(_call(op, "x"), {"x": x})
        return
    if op.arity == 3:
        for x, y, z in itertools.product(FINITE_EDGES, repeat=3):
            evaluate_every_way(_call(op, "x", "y", "z"), {"x": x, "y": y, "z": z})
        for x in EDGES:
            evaluate_every_way(_call(op, "x", "2", "3") + " * y", {"x": x, "y": -0.5})
        return
    for x, y in itertools.product(FINITE_EDGES, repeat=2):
        evaluate_every_way(_call(op, "x", "y"), {"x": x, "y": y})
    for x in EDGES:
        evaluate_every_way(_call(op, "x", "2") + " * y", {"x": x, "y": -0.5})


@pytest.mark.parametrize("program, values", COMPOSITES, ids=[p for p, _ in COMPOSITES])
def test_composite_expressions_agree_on_every_path(program, values):
    values = {name: np.array(v) for name, v in values.items()}
    evaluate_every_way(program, values)
    for i in range(len(next(iter(values.values())))):  # and each point alone, as scalars
        evaluate_every_way(program, {name: float(v[i]) for name, v in values.items()})


# -- the examples, with their right values ------------------------------------------------

def test_division_by_a_constant_zero_untraced():
    for trace in (False, True):
        result = gradcli.parse("x/0").evaluate({"x": np.array([1.0, 2.0])}, trace=trace)
        np.testing.assert_array_equal(result.value, [np.inf, np.inf])
        np.testing.assert_array_equal(result.gradients["x"], [np.inf, np.inf])  # 1/0 = inf
        assert [d.kind for d in result.diagnostics] == ["domain", "domain"]
        assert result.diagnostics[1].message.endswith("to its input 'x' is inf")
    result = gradcli.parse("x/0").evaluate({"x": 1.0}, trace=False)
    assert result.value == math.inf and result.gradients["x"] == math.inf


def test_a_minus_inf_gradient_is_called_minus_inf():
    result = gradcli.parse("x**-1").evaluate({"x": np.array([0.0, 1.5])}, trace=False)
    np.testing.assert_allclose(result.gradients["x"], [-np.inf, -1 / 1.5**2])  # -x^-2
    assert result.warnings[-1] == "the gradient from gate 'x**-1' (x^-1, line 1, column 1) to its input 'x' is -inf"


def test_a_nan_gradient_is_called_nan():
    result = gradcli.parse("sum(exp(x))*0").evaluate({"x": np.array([1000.0])}, trace=False)
    assert math.isnan(result.value) and np.isnan(result.gradients["x"]).all()  # exp(1000)·0 = inf·0
    assert result.warnings[-1] == "the gradient from gate 'exp(x)' (exp, line 1, column 5) to its input 'x' is nan"


def test_gradients_that_overflow_where_they_meet_are_warned_about():
    program = "sin(x*1.78999e308) + sin(x*1.78999e308)"
    for x in (1.0, np.array([1.0, 1.0])):
        for trace in (False, True):
            result = gradcli.parse(program).evaluate({"x": x}, trace=trace)
            assert np.all(np.asarray(result.gradients["x"]) == -np.inf)  # 2 × -1.74e308 overflows
            assert result.warnings == ["the gradients arriving at 'x' (var, line 1, column 5) add up to -inf"]


def test_an_overflowing_pending_factor_is_warned_about():
    result = gradcli.parse("x**2").evaluate({"x": np.array([1e308, 1.5])}, trace=False)
    np.testing.assert_array_equal(result.gradients["x"], [np.inf, 3.0])  # 2·1e308 overflows
    assert result.warnings[-1] == "the gradient from gate 'x**2' (x^2, line 1, column 1) to its input 'x' is inf"


def test_x_to_the_0_has_the_same_gradient_in_batch_plain_and_json():
    for x in (0.0, 1e-310, 2.0):
        values = [gradcli.parse("x**0").evaluate({"x": np.array([x])}, trace=trace).gradients["x"][0]
                  for trace in (True, False)]
        values.append(gradcli.parse("x**0").evaluate({"x": x}, trace=False).gradients["x"])
        assert all(_same_number(v, values[0]) for v in values), values


def test_x_to_the_0_at_0_has_slope_0():
    for trace in (True, False):
        result = gradcli.parse("x**0").evaluate({"x": np.array([0.0, 1e-310, 2.0])}, trace=trace)
        np.testing.assert_array_equal(result.gradients["x"], [0.0, 0.0, 0.0])
        assert result.diagnostics == []


@pytest.mark.parametrize("reduction", ["sum", "mean", "max", "min", "norm", "logsumexp"])
@pytest.mark.parametrize("axis", [0, -1, 5])
@pytest.mark.parametrize("operand", ["x", "2", "pi"])
@pytest.mark.parametrize("trace", [False, True])
def test_an_axis_of_a_0d_input_is_the_gates_shape_error(reduction, axis, operand, trace):
    program = f"{reduction}({operand}, axis={axis}) + x"
    with pytest.raises(gradcli.ShapeError) as caught:
        gradcli.parse(program).evaluate({"x": 1.0}, trace=trace)
    message = caught.value.message
    assert message.startswith(f"axis {axis} is out of bounds for array of dimension 0 at gate "
                              f"'{reduction}({operand}, axis={axis})'")
    assert message.endswith(f"the shapes are () of '{operand}'")


def test_an_axis_in_bounds_still_reduces():
    result = gradcli.parse("sum(x, axis=-1)").evaluate({"x": np.ones((2, 3))}, trace=False)
    np.testing.assert_array_equal(result.value, [3.0, 3.0])


# -- the command line: stderr holds only gradcli's lines ---------------------------------------

def _gradcli() -> list[str]:
    script = shutil.which("gradcli", path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, "-m", "gradcli"]


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONWARNINGS", "GRADCLI_"))}
    return subprocess.run(_gradcli() + list(args), input=stdin, capture_output=True, text=True,
                          timeout=60, env=env)


def assert_only_gradcli_lines(stderr: str) -> None:
    for line in stderr.splitlines():
        assert line.startswith(("warning: ", "error: ", "hint: ", "  ")), f"a line gradcli did not write: {line!r}"
        assert "Warning:" not in line and ".py" not in line, line


def _numbers(value) -> list:
    """A value of the JSON or plain output as text that compares nan equal to nan."""
    return [repr(float(v)) for v in np.ravel(np.array(value, dtype=object))]


CLI_CASES = [
    ("x/0", "x=[1,2]"),
    ("x**-1", "x=[0,1.5]"),
    ("sum(exp(x))*0", "x=[1000]"),
    ("x**2", "x=[1e308,1.5]"),
    ("x**0", "x=0"),
    ("sum(x, axis=0)", "x=1"),
    ("log(x) * sqrt(y)", "x=[0,-1,2]", "y=[-1,4,1e-310]"),
]


@pytest.mark.parametrize("case", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_every_format_says_the_same_and_only_gradcli_writes_stderr(case):
    runs = {fmt: run_cli("eval", *case, "--format", fmt) for fmt in ("json", "plain", "table", "csv")}
    codes = {fmt: run.returncode for fmt, run in runs.items()}
    assert set(codes.values()) == {codes["json"]}, codes
    for run in runs.values():
        assert_only_gradcli_lines(run.stderr)
        assert "internal error" not in run.stderr
    assert len({run.stderr for run in runs.values()}) == 1, {f: r.stderr for f, r in runs.items()}
    if codes["json"] == 0:
        document = json.loads(runs["json"].stdout)
        plain = dict(line.split(" ", 1) for line in runs["plain"].stdout.splitlines())
        assert _numbers(json.loads(plain["f"]) if plain["f"].startswith("[") else plain["f"]) == \
            _numbers(document["value"])
        for name, gradient in document["gradients"].items():
            text = plain[name]
            assert _numbers(json.loads(text) if text.startswith("[") else text) == _numbers(gradient)
    quiet = run_cli("eval", *case, "--format", "plain", "-q")
    assert quiet.returncode == codes["json"]
    if quiet.returncode == 0:
        assert quiet.stderr == ""


def test_batch_gives_the_rows_of_eval_and_writes_only_its_lines():
    rows = ["0", "-0", "1e-310", "1e308", "-1000", "1000", "1.5"]
    for program in ("x**0", "x/0", "x**-1", "exp(x)*0", "log(x)*x", "x**2"):
        batch = run_cli("batch", program, "--input", "-", stdin="x\n" + "\n".join(rows) + "\n")
        assert batch.returncode == 0, batch.stderr
        assert_only_gradcli_lines(batch.stderr)
        lines = batch.stdout.splitlines()
        assert lines[0] == "x,f,df/dx"
        for row, line in zip(rows, lines[1:]):
            _, f, grad = line.split(",")
            alone = gradcli.parse(program).evaluate({"x": float(row)}, trace=True)
            assert _same_number(float(f), alone.value), (program, row, f)
            assert _same_number(float(grad), alone.gradients["x"]), (program, row, grad)


def test_a_value_read_from_stdin_writes_only_gradcli_lines():
    result = run_cli("eval", "sum(x)", "x=@-", stdin="true")
    assert_only_gradcli_lines(result.stderr)
