"""--stable: the rewritten graph has the same values and gradients where the original is finite,
and finite, correct ones where the original overflows."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradcli
from gradcli.language.rewrite import stabilize, unstable_patterns

NEURON = "1/(1+exp(-(w*x + b)))"


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


@pytest.mark.parametrize("source", [NEURON, "1/(exp(-(w*x + b)) + 1)", "log(1+exp(w*x + b))",
                                    "log(exp(w*x + b) + 1) * w", "q = 1/(1+exp(-(w*x))); q*q + b"])
@pytest.mark.parametrize("point", [(0.5, -1.2, 0.3), (2.0, 1.5, -0.7)])
def test_same_numbers_where_the_original_is_finite(source, point):
    values = dict(zip("wxb", point))
    graph = gradcli.parse(source)
    assert unstable_patterns(graph)
    plain, stable = graph.evaluate(values), stabilize(graph).evaluate(values)
    assert stable.value == pytest.approx(plain.value, rel=1e-12)
    for name in plain.gradients:
        assert stable.gradients[name] == pytest.approx(plain.gradients[name], rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("z", [-1000.0, -50.0, 50.0, 1000.0])
def test_the_neuron_far_out_is_finite_and_right(z):
    # w*x + b = z with x = 1, b = 0: df/dw = s(1-s)·x, computed stably by hand
    result = stabilize(gradcli.parse(NEURON)).evaluate({"w": z, "x": 1.0, "b": 0.0})
    s = sigmoid(z)
    assert result.value == pytest.approx(s, rel=1e-12, abs=1e-300)
    slope = math.exp(-abs(z)) / (1.0 + math.exp(-abs(z))) ** 2
    # (1-σ)σ from the output: exact on the left tail; on the right, 1-σ rounds to 0 past z ≈ 37,
    # an absolute error below float64's resolution of f
    assert result.gradients["w"] == pytest.approx(slope, rel=1e-9, abs=1e-300 if z < 0 else 1e-15)
    assert not [d for d in result.diagnostics if d.kind == "domain"]


def test_without_stable_the_overflow_is_nan_and_the_cli_suggests_stable(cli):
    result = cli("eval", NEURON, "w=1000", "x=-1", "b=0", "--format", "plain")
    assert result.exit_code == 0
    assert "w NaN" in result.stdout
    assert "1/(1+exp(-u)) at line 1, column 1" in result.stderr and "--stable" in result.stderr
    stable = cli("eval", NEURON, "w=1000", "x=-1", "b=0", "--format", "plain", "--stable")
    assert "NaN" not in stable.stdout and stable.stderr == ""


def test_softplus_far_out(cli):
    result = cli("eval", "log(1+exp(u))", "u=1000", "--stable", "--format", "plain")
    assert result.stdout.splitlines() == ["f 1000.0", "u 1.0"]


def test_the_table_and_json_show_the_rewrite(cli):
    table = cli("eval", NEURON, "w=2", "x=1", "b=0", "--stable").stdout
    assert "σ (stable)" in table
    doc = cli("eval", NEURON, "w=2", "x=1", "b=0", "--stable", "--format", "json").stdout
    assert '"rewrite": "1/(1+exp(-u))"' in doc


def test_the_parsed_graph_is_left_as_it_was():
    graph = gradcli.parse(NEURON)
    ids = [n.id for n in graph.nodes]
    stabilize(graph)
    assert [n.id for n in graph.nodes] == ids
    np.testing.assert_allclose(graph.evaluate({"w": 1.0, "x": 1.0, "b": 0.0}).value, sigmoid(1.0))


def test_a_shared_inner_gate_stays():
    # exp(-z) is used twice: the pattern is rewritten, the other use keeps its own gate
    graph = stabilize(gradcli.parse("e1 = exp(-(w*x)); 1/(1+e1) + e1"))
    assert {n.op_name for n in graph.nodes} >= {"sigmoid", "exp"}
    plain = gradcli.evaluate("e1 = exp(-(w*x)); 1/(1+e1) + e1", w=0.7, x=1.1)
    stable = graph.evaluate({"w": 0.7, "x": 1.1})
    assert stable.gradients["w"] == pytest.approx(plain.gradients["w"], rel=1e-12)


@pytest.mark.parametrize("axis", [None, 0, 1])
def test_log_sum_exp_becomes_logsumexp_with_its_axis(axis):
    X = np.array([[0.3, -1.2, 0.8], [1.5, 0.1, -0.6]])
    reduce = "sum(exp(X))" if axis is None else f"sum(exp(X), axis={axis})"
    source = f"sum(log({reduce}) * w)"
    plain = gradcli.evaluate(source, X=X, w=0.5)
    graph = stabilize(gradcli.parse(source))
    assert "logsumexp" in {n.op_name for n in graph.nodes}
    stable = graph.evaluate({"X": X, "w": 0.5})
    assert stable.value == pytest.approx(plain.value, rel=1e-12)
    np.testing.assert_allclose(stable.gradients["X"], plain.gradients["X"], rtol=1e-12)


def test_logsumexp_far_out_is_finite_and_is_the_softmax():
    X = np.array([1000.0, 999.0, -1000.0])
    source = "log(sum(exp(X)))"
    assert np.isnan(gradcli.evaluate(source, X=X).gradients["X"]).any() or \
        not np.isfinite(gradcli.evaluate(source, X=X).value)
    result = stabilize(gradcli.parse(source)).evaluate({"X": X})
    softmax = np.exp(X - X.max()) / np.exp(X - X.max()).sum()
    assert result.value == pytest.approx(1000.0 + math.log1p(math.exp(-1.0)), rel=1e-15)
    np.testing.assert_allclose(result.gradients["X"], softmax, rtol=1e-12, atol=1e-300)
