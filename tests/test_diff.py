"""Derivatives of any order: `diff(EXPR, NAME[, N])` in the language and gradcli.differentiation.derivative.

The derivative is a graph built from the registry's rules; its value, and its own gradients (the
ordinary backward pass through it), are checked against SymPy's exact derivatives on random
expressions over the whole registry, for the first, second and third derivative, and against
finite differences on array programs.
"""

from __future__ import annotations

import json
import random
import re

import numpy as np
import pytest

import gradcli
from gradcli.differentiation.derivative import derivative, gradient_graph
from gradcli.base.errors import GradcliError, ShapeError
from gradcli.core.graph import Graph

from conftest import numeric_gradients
from exprtrees import VARIABLES, safe_tree, text, well_conditioned

sympy = pytest.importorskip("sympy")

from test_oracle import SYMBOLS, exact_steps, to_sympy  # noqa: E402

RTOL = 1e-9


def _close(ours: float, exact: float, scale: float) -> bool | None:
    if abs(exact) < 1e-6 * max(scale, 1.0):
        return None  # too small against the numbers around it to compare to 1e-9
    return abs(ours - exact) <= RTOL * abs(exact)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_diff_agrees_with_sympy(order):
    """diff(f, x, N)'s value and its gradient (∂/∂v of the N-th derivative) against SymPy."""
    rng = random.Random(100 + order)
    compared = 0
    for _ in range(60):
        tree = safe_tree(rng, 3 if order < 3 else 2)
        source = text(tree)
        first = gradcli.parse(source)
        if not first.variables:
            continue
        values = {name: rng.uniform(-2.0, 2.0) for name in first.variables}
        if not well_conditioned(first.evaluate(values)):
            continue
        name = rng.choice(sorted(first.variables))
        program = f"diff({source}, {name}, {order})"
        result = gradcli.evaluate(program, values)
        if not np.isfinite(result.value) or result.warnings:
            continue
        expr = to_sympy(tree)
        subs = {SYMBOLS[n]: sympy.Rational(v) for n, v in values.items()}
        exact_d = sympy.diff(expr, SYMBOLS[name], order)
        scale = max(1.0, abs(float(exact_steps(exact_d, subs).evalf(30, subs=subs))))
        verdict = _close(result.value, float(exact_steps(exact_d, subs).evalf(30, subs=subs)), scale)
        assert verdict is not False, (program, values, result.value)
        compared += verdict is not None
        for v in values:  # the backward pass through the derivative graph: one order more
            exact = float(exact_steps(sympy.diff(exact_d, SYMBOLS[v]), subs).evalf(30, subs=subs))
            verdict = _close(float(result.gradients[v]), exact, scale)
            assert verdict is not False, (program, values, v, result.gradients[v], exact)
    assert compared >= 15  # the test is not vacuous


@pytest.mark.parametrize("order", [1, 2, 3])
def test_derivative_graph_agrees_with_sympy(order):
    """gradcli.differentiation.derivative (what `gradcli diff` prints) against SymPy, for every variable."""
    rng = random.Random(200 + order)
    compared = 0
    for _ in range(100):
        tree = safe_tree(rng, 3 if order < 3 else 2)
        graph = gradcli.parse(text(tree))
        if not graph.variables:
            continue
        values = {name: rng.uniform(-2.0, 2.0) for name in graph.variables}
        if not well_conditioned(graph.evaluate(values)):
            continue
        expr = to_sympy(tree)
        subs = {SYMBOLS[n]: sympy.Rational(v) for n, v in values.items()}
        for name in graph.variables:
            d = derivative(graph, name, order, scalars=True)
            ours = d.evaluate({n: values[n] for n in d.variables}, trace=False)
            if ours.warnings or not np.isfinite(ours.value):
                continue
            exact = float(exact_steps(sympy.diff(expr, SYMBOLS[name], order), subs).evalf(30, subs=subs))
            verdict = _close(float(ours.value), exact, max(1.0, abs(exact)))
            assert verdict is not False, (text(tree), name, order, ours.value, exact)
            compared += verdict is not None
            # the printed graph parses back to the same numbers
            again = gradcli.parse(d.to_source()).evaluate({n: values[n] for n in d.variables}, trace=False)
            assert again.value == pytest.approx(ours.value, rel=1e-12, abs=1e-300)
    assert compared >= 15


def test_the_lecture_examples():
    # d/dx x³y = 3x²y, its second derivative 6xy; their gradients one order more
    r = gradcli.evaluate("diff(x**3 * y, x)", x=2, y=3)
    assert r.value == pytest.approx(36) and r.gradients == pytest.approx({"x": 36, "y": 12})
    r = gradcli.evaluate("diff(x**3 * y, x, 2)", x=2, y=3)
    assert r.value == pytest.approx(36) and r.gradients == pytest.approx({"x": 18, "y": 12})
    r = gradcli.evaluate("df = diff(x**3 * y, x); df * 2", x=2, y=3)
    assert r.value == pytest.approx(72) and r.gradients == pytest.approx({"x": 72, "y": 24})
    # nested: ∂²/∂x∂y of sin(x)·y² = 2y cos x
    r = gradcli.evaluate("diff(diff(sin(x) * y**2, x), y)", x=0.5, y=3)
    assert r.value == pytest.approx(6 * np.cos(0.5), rel=1e-14)
    # the neuron: ∂f/∂w0 = x0·σ(1-σ)
    values = dict(w0=2, x0=-1, w1=-3, x1=-2, w2=-3)
    r = gradcli.evaluate("diff(1/(1+exp(-(w0*x0+w1*x1+w2))), w0)", values)
    s = 1 / (1 + np.exp(-1.0))
    assert r.value == pytest.approx(-1 * s * (1 - s), rel=1e-14)


def test_an_array_name_gives_the_gradient_array_and_is_differentiated_again():
    program = "g = diff(sum(tanh(W @ x)), W); sum(g * g)"
    values = {"W": [[0.5, -1.0], [2.0, 0.25]], "x": [1.0, 2.0]}
    W, x = np.array(values["W"]), np.array(values["x"])
    inner = gradcli.evaluate("diff(sum(tanh(W @ x)), W)", values)
    sech2 = 1 / np.cosh(W @ x) ** 2
    np.testing.assert_allclose(inner.value, np.outer(sech2, x), rtol=1e-14)
    result = gradcli.evaluate(program, values)
    numeric = numeric_gradients(program, values)
    for name in values:
        np.testing.assert_allclose(result.gradients[name], numeric[name], rtol=1e-6, atol=1e-8)
    # parsed without knowing the shapes: the general graph (with its sum_as gates), same numbers
    general = gradcli.parse(program).evaluate(values)
    for name in values:
        np.testing.assert_allclose(general.gradients[name], result.gradients[name], rtol=1e-13)


@pytest.mark.parametrize("program, values", [
    ("diff(sum(x * y), x)", {"x": [1.0, 2.0, 3.0], "y": 2.0}),
    ("diff(mean(exp(x) * y), y)", {"x": [[0.1, 0.2], [0.3, 0.4]], "y": [1.0, -1.0]}),
    ("diff(sum(max(X, axis=1)) + logsumexp(X) + norm(X), X)", {"X": [[0.3, -1.2, 0.8], [1.5, 0.1, -0.6]]}),
    ("diff(dot(v, T(A) @ v), v)", {"v": [0.3, -0.4], "A": [[1.0, 2.0], [0.5, -1.5]]}),
    ("diff(sum(min(X, axis=0) * r), X)", {"X": [[0.3, -1.2], [1.5, 0.1]], "r": [2.0, -3.0]}),
])
def test_array_derivatives_match_finite_differences(program, values):
    """The derivative graph's value (a gradient array) and its own gradient (second
    derivatives, summed), in both the shape-aware and the general graph."""
    inner = program[len("diff("):program.rindex(",")]
    name = program[program.rindex(",") + 1:-1].strip()
    expected = numeric_gradients(inner, values)[name]
    for graph in (gradcli.parse(program, shapes={k: np.shape(v) for k, v in values.items()}),
                  gradcli.parse(program)):
        result = graph.evaluate(values)
        np.testing.assert_allclose(result.value, expected, rtol=1e-6, atol=1e-8)
        summed = f"sum({program})"
        got = gradcli.parse(summed).evaluate(values).gradients
        numeric = numeric_gradients(summed, values)
        for v in values:
            np.testing.assert_allclose(got[v], numeric[v], rtol=1e-5, atol=1e-7, err_msg=f"{summed} ∂/∂{v}")


def test_user_functions_are_differentiated_through_their_bodies():
    program = "sq(t) = t * t\nh(a, b) = sq(a) * sin(b)\ndiff(h(x, y), x, 2) + diff(h(x, y), y)"
    r = gradcli.evaluate(program, x=0.7, y=1.3)
    assert r.value == pytest.approx(2 * np.sin(1.3) + 0.49 * np.cos(1.3), rel=1e-14)
    assert r.gradients["x"] == pytest.approx(2 * 0.7 * np.cos(1.3), rel=1e-13)
    assert r.gradients["y"] == pytest.approx(2 * np.cos(1.3) - 0.49 * np.sin(1.3), rel=1e-13)


def test_a_kink_of_the_second_derivative_is_warned():
    r = gradcli.evaluate("diff(relu(x) * x, x, 2)", x=0.0)
    assert r.value == 0.0  # (relu(x)·x)'' = 2·step(x) + x·step'(x), with step(0) = 0
    assert any("kink" in w for w in r.warnings)
    r = gradcli.evaluate("diff(abs(x) * x, x, 2)", x=-1.5)
    assert r.value == pytest.approx(-2.0) and not r.warnings


def test_the_derivative_graph_is_readable():
    graph = gradcli.parse("1/(1+exp(-(w0*x0+w1*x1+w2)))")
    for name in graph.variables:
        d = derivative(graph, name, scalars=True)
        text_ = d.to_source()
        # no factor 1, no term 0, no factor 0 (numbers standing alone, not inside names)
        assert not re.search(r"\* 1(?![\w.])|(?<![\w.])1 \*|[+-] 0(?![\w.])|(?<![\w.])0 [*+]", text_), text_
        assert "sum_as" not in text_ and "expand_as" not in text_
    d = derivative(gradcli.parse("x**3 * y"), "x", 3, scalars=True)
    assert d.to_source() == "6 * y"


def test_gradient_graph_gives_every_gradient_as_nodes():
    graph = gradcli.parse("x * y + exp(x)")
    nodes, grads = gradient_graph(graph, scalars=True)
    for name, expected in (("x", 3.0 + np.exp(2.0)), ("y", 2.0)):
        sub = Graph(nodes, grads[name], graph.source)
        assert sub.evaluate({k: {"x": 2.0, "y": 3.0}[k] for k in sub.variables}).value == pytest.approx(expected)
    nodes, grads = gradient_graph(gradcli.parse("x * 2 + 0 * y"), ["y"], scalars=True)
    assert Graph(nodes, grads["y"], graph.source).evaluate({}).value == 0.0


@pytest.mark.parametrize("program, message", [
    ("diff(x*y, 2)", "must be a variable"),
    ("a = x*2; diff(a**2, a)", "is assigned in the program"),
    ("diff(x**2, x, 0)", "whole number from 1 to 20"),
    ("diff(x**2, x, 1.5)", "whole number from 1 to 20"),
    ("diff(x**2, x, 21)", "whole number from 1 to 20"),
    ("diff(x**2, x, y)", "whole number from 1 to 20"),
    ("diff(x**2)", "takes 2 or 3 arguments"),
    ("diff(x**2, x, 2, 3)", "takes 2 or 3 arguments"),
    ("diff(x**2, x, n=2)", "no keyword arguments"),
    ("diff(t) = t\ndiff(x)", "built-in function"),
])
def test_bad_diff_calls_are_syntax_errors_with_a_caret(cli, program, message):
    with pytest.raises(GradcliError, match=message):
        gradcli.parse(program)
    result = cli("eval", program, "x=1", "y=2")
    assert result.exit_code == 1
    assert message in result.stderr and "^" in result.stderr and "Traceback" not in result.stderr


def test_a_non_scalar_expression_is_the_gates_shape_error(cli):
    with pytest.raises(ShapeError, match=r"diff needs a scalar expression, and 'x \* y' has shape \(2,\)"):
        gradcli.parse("diff(x * y, x)").evaluate({"x": [1.0, 2.0], "y": 3.0})
    result = cli("eval", "diff(x * y, x)", "x=[1,2]", "y=3")
    assert result.exit_code == 1 and "diff needs a scalar expression" in result.stderr
    assert "sum(" in result.stderr  # the hint


def test_a_graph_built_for_some_shapes_refuses_others():
    graph = gradcli.parse("diff(x * y, x)", shapes={"x": (), "y": ()})
    assert graph.evaluate({"x": 2.0, "y": 3.0}).value == 3.0
    with pytest.raises(ShapeError, match="built for x of shape"):
        graph.evaluate({"x": [1.0, 2.0], "y": 3.0})


def test_the_cli_shows_the_derivatives_gates(cli):
    result = cli("eval", "diff(x**3 * y, x, 2)", "x=2", "y=3", "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["value"] == pytest.approx(36) and doc["gradients"] == pytest.approx({"x": 18, "y": 12})
    table = cli("eval", "diff(x**3 * y, x, 2)", "x=2", "y=3").stdout
    assert "∂/∂x: 6 * (y * x)" in table
    steps = cli("eval", "diff(x**2, x)", "x=3", "--steps").stdout
    assert "∂/∂x" in steps


def test_batch_differentiates_each_row(tmp_path, cli):
    data = tmp_path / "rows.csv"
    data.write_text("x,y\n1,2\n3,4\n")
    result = cli("batch", "diff(x**2 * y, x)", "--input", str(data), "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = [line.split(",") for line in result.stdout.strip().splitlines()[1:]]
    assert [[float(v) for v in row[2:]] for row in rows] == [[4.0, 4.0, 2.0], [24.0, 8.0, 6.0]]


def test_high_orders_stay_small():
    # hash-consing keeps the 8th derivative of sin(x)·exp(x) (= 16 eˣ sin x) to a few hundred gates
    d = derivative(gradcli.parse("sin(x) * exp(x)"), "x", 8, scalars=True)
    assert d.evaluate({"x": 0.3}).value == pytest.approx(16 * np.exp(0.3) * np.sin(0.3), rel=1e-12)
    assert len(d) < 400
    # each order differentiates the last one's graph: past the gate budget, a clear refusal
    with pytest.raises(gradcli.ResourceError, match="the derivative needs more than 200,000 gates"):
        gradcli.parse("diff(sin(x) * exp(x), x, 20)")


@pytest.mark.parametrize("program", ["diff(sum(X)**2, X, 2)", "diff(sum(X*X)*sum(X), X, 2)", "diff(dot(X, X)**2, X, 3)"])
def test_an_order_above_1_needs_a_scalar_variable(cli, program):
    # the second derivatives of an array are a matrix (gradcli hessian), not an array of X's shape
    result = cli("eval", program, "X=[1,2]")
    assert result.exit_code == 1 and "needs a scalar X" in result.stderr and "hessian" in result.stderr
    with pytest.raises(ShapeError, match="needs a scalar variable"):  # shapes unknown when parsed
        gradcli.parse(program).evaluate({"X": [1.0, 2.0]})
    if "dot" not in program:  # (dot needs vectors) a scalar X is fine
        assert gradcli.parse(program).evaluate({"X": 1.5}).value == pytest.approx(
            gradcli.evaluate(program.replace("X", "x"), x=1.5).value)


def test_a_variable_the_expression_does_not_use_is_warned(cli):
    result = cli("eval", "diff(x**2, z)", "x=1", "--format", "plain")
    assert result.exit_code == 0 and result.stdout.startswith("f 0.0")
    assert "z does not appear in the expression" in result.stderr


def test_gradcli_diff_shows_the_warnings_of_what_it_shows(cli):
    # the derivative graph's own gradient (one order higher) is not shown, nor warned about
    result = cli("diff", "sqrt(x)", "x=1e-310")
    assert result.exit_code == 0 and "5e+154" in result.stdout and result.stderr == ""
