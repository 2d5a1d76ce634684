"""0·∞ in forward and reverse mode: a zero (co)tangent times an infinite local gradient counts 0
only where the zero is structural (the node's element does not depend on the column's variable
element, or the row's output element does not depend on the node's element); a numerical zero
gives local·0 = nan, as reverse mode's engine (`gradcli eval`) gives.

The numbers are by hand: sqrt'(0) = inf, (x³)^(1/3) = x has derivative 1 but its chain rule at 0
is 3·0²·inf = nan, sqrt(x)·sqrt(x) = x likewise. Forward and reverse mode must agree, nan for nan,
and agree with the engine's gradient for a scalar output."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradcli
from gradcli.evaluation.forward import jvp

MODES = ("forward", "reverse")
NAN_X = "the Jacobian holds nan at J[f,x]"


def same(a, b) -> bool:
    return np.array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float), equal_nan=True)


@pytest.mark.parametrize("mode", MODES)
def test_structural_zeros_beside_an_infinite_diagonal(mode):
    # f[1] does not depend on x[0]: 0 off the diagonal, inf on it where x is 0
    j = gradcli.jacobian("sqrt(x)", {"x": [0.0, 1.0]}, mode=mode)
    assert j.matrix.tolist() == [[math.inf, 0.0], [0.0, 0.5]]
    j = gradcli.jacobian("sqrt(x)", {"x": [0.0, 0.0]}, mode=mode)
    assert j.matrix.tolist() == [[math.inf, 0.0], [0.0, math.inf]]
    assert "the Jacobian holds inf at J[f[0],x[0]], J[f[1],x[1]]" in j.warnings


@pytest.mark.parametrize("mode", MODES)
def test_a_numerical_zero_times_an_infinite_slope_is_nan(mode):
    # ∂(sqrt(x)·y)/∂x = y/(2 sqrt(x)) = 0·inf at (0, 0): nan, as the engine's gradient
    j = gradcli.jacobian("sqrt(x)*y", {"x": 0.0, "y": 0.0}, mode=mode)
    engine = gradcli.evaluate("sqrt(x)*y", {"x": 0.0, "y": 0.0})
    assert same(j.matrix, [[math.nan, 0.0]])
    assert same(j.matrix[0], [engine.gradients["x"], engine.gradients["y"]])
    assert NAN_X in j.warnings
    # f = u·u = x with u = sqrt(x): the chain rule at 0 is 0·inf, not a silent 0
    j = gradcli.jacobian("u = sqrt(x); u*u", {"x": 0.0}, mode=mode)
    assert same(j.matrix, [[math.nan]]) and NAN_X in j.warnings
    # (x³)^(1/3) = x: 3·0²·inf
    j = gradcli.jacobian("(x**3)**(1/3)", {"x": 0.0}, mode=mode)
    assert same(j.matrix, [[math.nan]]) and NAN_X in j.warnings
    # log(x)·0 at 0: f itself is -inf·0 = nan; so is its derivative, in both modes and the engine
    j = gradcli.jacobian("log(x)*0", {"x": 0.0}, mode=mode)
    engine = gradcli.evaluate("log(x)*0", {"x": 0.0})
    assert same(j.matrix, [[math.nan]]) and math.isnan(engine.gradients["x"])


@pytest.mark.parametrize("trace", [True, False])
def test_jvp_numerical_and_structural_zeros(trace):
    graph = gradcli.parse("(x**3)**(1/3)")
    r = jvp(graph, {"x": 0.0}, {"x": 1.0}, trace=trace)
    assert r.value == 0.0 and math.isnan(r.tangent)
    assert any("tangent" in w and "nan" in w for w in r.warnings)
    r = jvp(gradcli.parse("u = sqrt(x); u*u"), {"x": 0.0}, {"x": 1.0}, trace=trace)
    assert math.isnan(r.tangent)
    # along y alone, x is not moved: sqrt's infinite slope meets a structural zero, exactly 1
    r = jvp(gradcli.parse("sqrt(x) + y"), {"x": 0.0, "y": 1.0}, {"y": 1.0}, trace=trace)
    assert (r.tangent, r.warnings) == (1.0, [])
    # a direction's zeros are the structure asked for: x[0] not moved, x[1] moved
    r = jvp(gradcli.parse("sqrt(x)"), {"x": [0.0, 0.0]}, {"x": [0.0, 1.0]}, trace=trace)
    assert r.tangent.tolist() == [0.0, math.inf]
    # arrays: x[0]'s tangent is 3·0²·1 = 0, numerically, then times inf
    r = jvp(gradcli.parse("(x**3)**(1/3)"), {"x": [0.0, 2.0]}, {"x": [1.0, 1.0]}, trace=trace)
    assert math.isnan(r.tangent[0]) and r.tangent[1] == pytest.approx(1.0)


SOURCES = [  # (source, values): forward and reverse must agree, nan for nan
    ("sqrt(x)*y", {"x": [0.0, 1.0], "y": [0.0, 0.0]}),
    ("sqrt(x)*y", {"x": [0.0, 0.0], "y": 0.0}),
    ("sqrt(A @ x)", {"A": [[1.0, 0.0], [0.0, 1.0]], "x": [0.0, 1.0]}),  # A's zero is numerical
    ("sqrt(sum(x*x))", {"x": [0.0, 0.0]}),
    ("sum(sqrt(x)) * 0 + y", {"x": [0.0, 1.0], "y": 2.0}),
    ("sqrt(x) * T(y)", {"x": [[0.0, 1.0]], "y": [[0.0], [0.0]]}),
    ("max(sqrt(x)) * y", {"x": [0.0, 4.0], "y": 0.0}),
    ("(x**3)**(1/3) + sqrt(y)", {"x": [0.0, 1.0], "y": [1.0, 0.0]}),
    ("log(x) * (y - y)", {"x": [0.0, 1.0], "y": [1.0, 2.0]}),
    # an infinite entry of the other matrix of @ times a tangent that is 0 by the numbers (y = 0)
    ("A @ (x*y)", {"A": [[math.inf, 1.0], [1.0, math.inf]], "x": [1.0, 1.0], "y": [0.0, 0.0]}),
    ("sum((x*y) @ A)", {"A": [[math.inf, 1.0], [1.0, 2.0]], "x": [1.0, 1.0], "y": [0.0, 1.0]}),
    ("sqrt(x) @ y", {"x": [0.0, 1.0], "y": [0.0, 0.0]}),
    ("max(sqrt(X), axis=1)", {"X": [[0.0, 0.0], [1.0, 4.0]]}),
    ("sum(sqrt(X), axis=0)", {"X": [[0.0, 1.0], [1.0, 0.0]]}),
    # functions you define: an elementwise one, and one with a VJP (its Jacobian read row by row)
    ("c(t) = t*t*t; sqrt(c(x))", {"x": [0.0, 1.0]}),
    ("s(v) = sum(v*v); sqrt(s(x)) * y", {"x": [0.0, 0.0], "y": [0.0, 1.0]}),
]


@pytest.mark.parametrize("source, values", SOURCES)
def test_forward_and_reverse_agree_at_zero_times_inf(source, values):
    forward = gradcli.jacobian(source, values, mode="forward")
    reverse = gradcli.jacobian(source, values, mode="reverse")
    np.testing.assert_allclose(forward.matrix, reverse.matrix, rtol=1e-12, equal_nan=True, err_msg=source)
    assert [w for w in forward.warnings if w.startswith("the Jacobian")] == \
        [w for w in reverse.warnings if w.startswith("the Jacobian")]
    if np.ndim(forward.outputs["f"]) == 0:  # a scalar f: the engine's gradient is the one row
        engine = gradcli.evaluate(source, values)
        row = np.concatenate([np.ravel(engine.gradients[name]) for name in forward.variables])
        np.testing.assert_allclose(forward.matrix[0], row, rtol=1e-12, equal_nan=True, err_msg=source)


def test_the_structural_rule_beside_numerical_zeros():
    # A @ x: f[0] = x[0] + 0·x[1] depends on x[1] (a numerical zero of A); sqrt' there is inf
    j = gradcli.jacobian("sqrt(A @ x)", {"A": [[1.0, 0.0], [0.0, 1.0]], "x": [0.0, 1.0]}, wrt=["x"])
    assert same(j.matrix, [[math.inf, math.nan], [0.0, 0.5]])
    # the same map elementwise: f[0] does not depend on x[1] at all, so 0
    j = gradcli.jacobian("sqrt(x)", {"x": [0.0, 1.0]}, mode="forward")
    assert j.matrix[0, 1] == 0.0


def test_cli_reverse_and_forward_print_the_same_nan(cli):
    outs = []
    for mode in MODES:
        result = cli("jacobian", "sqrt(x)*y", "x=0", "y=0", "--mode", mode, "-f", "csv")
        assert result.exit_code == 0
        assert "warning: the Jacobian holds nan at J[f,x]" in result.stderr
        outs.append(result.stdout)
    assert outs[0] == outs[1] == "output,x,y\nf,NaN,0.0\n"
    assert "∂f/∂x = nan" in cli("eval", "sqrt(x)*y", "x=0", "y=0").stdout


def test_hessian_structural_zeros_still_hold():
    # the Hessian's identity seeds are structural: ∂²/∂x∂y of sqrt(x) + y² is 0 beside -inf
    h = gradcli.hessian("sqrt(x) + y**2", {"x": 0.0, "y": 1.0})
    assert h.matrix[0, 0] == -math.inf and h.matrix[0, 1] == 0.0 and h.matrix[1, 0] == 0.0


def test_hessian_numerical_zeros_are_nan_and_symmetric():
    # (x³)^(1/3) = x at 0: the tangent pass meets 3·0²·1 = 0 times an infinite slope: nan, not 0
    h = gradcli.hessian("(x**3)**(1/3)", {"x": 0.0})
    assert math.isnan(h.matrix[0, 0])
    assert math.isnan(gradcli.hvp("(x**3)**(1/3)", {"x": 0.0}, {"x": 1.0}).hvp["x"])
    # ∂²(x^0.5·y²)/∂x∂y = y/sqrt(x) = 0·inf at (0, 0), whichever the order: nan on both sides
    h = gradcli.hessian("x**0.5 * y**2", {"x": 0.0, "y": 0.0})
    assert math.isnan(h.matrix[0, 1]) and math.isnan(h.matrix[1, 0]) and h.matrix[1, 1] == 0.0


@pytest.mark.parametrize("mode", MODES)
def test_masks_through_reductions_and_products(mode):
    # f[i] = sqrt(sum(x)) · x[i]: every f[i] depends on every x[j] through the sum (at 0: inf·0)
    j = gradcli.jacobian("sqrt(sum(x)) * x", {"x": [0.0, 0.0]}, mode=mode)
    assert np.isnan(j.matrix).all()
    # f = sqrt(x) · (B @ y), B = 0: f[i] depends on x[i] only; ∂f[i]/∂x[i] = inf · 0 = nan, the
    # other x column 0; ∂f/∂y = sqrt(x)·B = 0
    j = gradcli.jacobian("sqrt(x) * (B @ y)", {"x": [0.0, 1.0], "B": [[0.0, 0.0], [0.0, 0.0]], "y": [1.0, 1.0]},
                         wrt=["x", "y"], mode=mode)
    assert same(j.matrix, [[math.nan, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])


def test_the_lean_pass_leaves_a_numerical_zero_to_the_careful_pass():
    # a function you define with a VJP: its Jacobian at v = x·y = [0, 1] has inf at [0, 0];
    # along x = [1, 0] the tangent of x·y is y·1 = 0 at element 0, by the numbers: nan in either
    # pass (the lean pass once zeroed it silently), and a structural zero along x = [0, 1]
    graph = gradcli.parse("q(v) = sqrt(v) + sum(v); q(x*y)")
    values = {"x": np.array([0.0, 1.0]), "y": np.array([0.0, 1.0])}
    for trace in (True, False):
        r = jvp(graph, values, {"x": np.array([1.0, 0.0])}, trace=trace)
        assert np.isnan(r.tangent[0]), trace
        r = jvp(graph, values, {"x": np.array([0.0, 1.0])}, trace=trace)
        assert r.tangent.tolist() == [1.0, 1.5], trace
