"""Gates you define, and grouping: a call is one gate by default, its primitive gates with --expand;
the gradients are the same either way."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradcli
from gradcli import DefinitionError

from conftest import numeric_gradients

NEURON = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}
SIG_PROGRAM = "sig(t) = 1/(1+exp(-t))\nsig(w0*x0 + w1*x1 + w2)"
_s = 1 / (1 + math.exp(-1.0))
_d = _s * (1 - _s)
NEURON_GRADS = {"w0": -_d, "x0": 2 * _d, "w1": -2 * _d, "x1": -3 * _d, "w2": _d}


def _ops(graph) -> list[str]:
    return [n.op_name for n in graph.nodes if n.kind == "gate"]


@pytest.mark.parametrize("source", [SIG_PROGRAM, "sigmoid(w0*x0 + w1*x1 + w2)"], ids=["user", "builtin"])
def test_a_call_is_one_gate_and_expanding_changes_no_number(source):
    grouped = gradcli.parse(source)
    expanded = gradcli.parse(source, expand=True)
    name = "sig" if source.startswith("sig(") else "sigmoid"
    assert _ops(grouped) == ["mul", "mul", "add", "add", name]
    assert _ops(expanded) == ["mul", "mul", "add", "add", "neg", "exp", "add", "div"]
    one, many = grouped.evaluate(NEURON), expanded.evaluate(NEURON)
    assert one.value == pytest.approx(_s, rel=1e-15) and many.value == pytest.approx(_s, rel=1e-15)
    for name_, exact in NEURON_GRADS.items():
        assert one.gradients[name_] == pytest.approx(exact, rel=1e-12)
        assert many.gradients[name_] == pytest.approx(one.gradients[name_], rel=1e-12)
    # the grouped gate's local gradient is (1-σ)σ, read off the trace
    (edge,) = one.trace[grouped.output.id].edges
    assert float(edge.local) == pytest.approx(_d, rel=1e-12)


def test_several_parameters_and_calls_of_other_functions():
    source = "g(a, b) = a*b + exp(a)\nh(t) = g(t, t) + g(2, t)\nh(x) * y"
    result = gradcli.evaluate(source, x=0.5, y=3.0)
    h = 0.25 + math.exp(0.5) + 1.0 + math.exp(2.0)  # t² + e^t + 2t + e²
    dh = 2 * 0.5 + math.exp(0.5) + 2.0
    assert result.value == pytest.approx(3.0 * h, rel=1e-14)
    assert result.gradients["x"] == pytest.approx(3.0 * dh, rel=1e-14)
    assert result.gradients["y"] == pytest.approx(h, rel=1e-14)
    expanded = gradcli.parse(source, expand=True)
    assert "h" not in _ops(expanded) and "g" not in _ops(expanded)
    again = expanded.evaluate({"x": 0.5, "y": 3.0})
    for name in ("x", "y"):
        assert again.gradients[name] == pytest.approx(result.gradients[name], rel=1e-14)
    assert _ops(gradcli.parse(source)) == ["h", "mul"]


def test_user_functions_broadcast_elementwise():
    values = {"u": [0.3, -0.5, 1.2], "v": [[0.7], [-1.1]]}
    source = "f(a, b) = a*b + tanh(a - b)\nf(u, v) * u"
    result = gradcli.evaluate(source, values)
    numeric = numeric_gradients(source, values)
    for name in values:
        np.testing.assert_allclose(result.gradients[name], numeric[name], rtol=1e-6, atol=1e-8)
    inline = gradcli.evaluate("(u*v + tanh(u - v)) * u", values)
    for name in values:
        np.testing.assert_allclose(result.gradients[name], inline.gradients[name], rtol=1e-13)
    untraced = gradcli.parse(source).evaluate(values, trace=False)
    for name in values:
        np.testing.assert_allclose(untraced.gradients[name], inline.gradients[name], rtol=1e-13)


def test_an_unused_parameter_gets_gradient_zero_and_constants_work():
    result = gradcli.evaluate("f(a, b) = pi*a + 1\nf(x, y)", x=2.0, y=5.0)
    assert result.value == pytest.approx(2 * math.pi + 1)
    assert result.gradients == {"x": pytest.approx(math.pi), "y": 0.0}


def test_a_named_call_keeps_its_name_when_expanded():
    graph = gradcli.parse("s = sigmoid(z)\ns * 2", expand=True)
    assert [n.label for n in graph.nodes if n.kind == "gate"][-2:] == ["s", "s * 2"]


def test_parameters_do_not_leak_into_the_program():
    graph = gradcli.parse("f(t) = t*t\nf(x) + 1")
    assert list(graph.variables) == ["x"]


@pytest.mark.parametrize("source, message", [
    ("f(t) = f(t - 1)\nf(x)", "f calls itself: a function cannot be recursive"),
    ("f(t) = t*w\nf(x)", "the body of f(t) uses 'w', which is not one of its parameters"),
    ("f(2) = 3\nf(x)", "a parameter of f must be a name, not '2'"),
    ("f((t)) = t\nf(x)", "a parameter of f must be a name, not '(t)'"),
    ("f(t, t) = t\nf(x, x)", "f has two parameters called t"),
    ("exp(t) = t\nexp(x)", "exp is a built-in function and cannot be redefined"),
    ("f(t) = t\nf(t) = 2*t\nf(x)", "f is already defined, on line 1"),
    ("f() = 3\nf()", "f has no parameters"),
])
def test_bad_definitions_are_one_clear_error(cli, source, message):
    with pytest.raises(DefinitionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        gradcli.parse(source)
    result = cli("eval", source, "--set", "x=1")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {message}")
    assert "hint:" in result.stderr


def test_a_program_ending_with_a_definition_is_an_error(cli):
    result = cli("eval", "sig(t) = 1/(1+exp(-t))")
    assert result.exit_code == 1
    assert "ends with a function definition" in result.stderr


def test_unknown_function_suggests_user_functions():
    with pytest.raises(gradcli.UnknownFunctionError, match="did you mean 'square'"):
        gradcli.parse("square(t) = t*t\nsqure(x)")


def test_cli_expand_shows_the_primitive_gates(cli):
    args = ["eval", SIG_PROGRAM, *[a for k, v in NEURON.items() for a in ("--set", f"{k}={v:g}")]]
    grouped = cli(*args).stdout
    expanded = cli(*args, "--expand").stdout
    assert "| sig " in grouped and "| exp " not in grouped
    # the parameter t is shown as the call's argument: no inner name reads as one of the user's
    assert "sig: exp(-(w0*x0 + w1*x1 + w2))" in expanded and "| exp " in expanded
    assert "-t" not in expanded.split("\n", 1)[1]  # below the title
    assert grouped.split("f = ")[1] == expanded.split("f = ")[1]  # the same f and gradients


def test_warnings_from_inside_a_function_reach_its_gate(cli):
    nan = cli("eval", "f(t) = log(t); f(x)", "--set", "x=-1")
    assert nan.exit_code == 0
    assert "warning: gate 'f(x)' (f, line 1, column 16) produced nan from finite inputs" in nan.stderr
    kink = cli("eval", "f(t) = relu(t) + 1; f(x)", "--set", "x=0")
    assert "warning: gate 'f(x)' (f, line 1, column 21) is at its kink; using the convention of each " \
           "gate in its body (--expand shows which)" in kink.stderr
    assert cli("eval", "f(t) = relu(t) + 1; f(x)", "--set", "x=0", "--strict").exit_code == 0
    assert cli("eval", "f(t) = log(t); f(x)", "--set", "x=-1", "--strict").exit_code == 1


def test_expand_reaches_sigmoid_inside_a_user_function():
    source = "f(t) = sigmoid(t)*2 + t; s = f(x); s*s"
    expanded = gradcli.parse(source, expand=True)
    assert _ops(expanded) == ["neg", "exp", "add", "div", "mul", "add", "mul"]
    s = 2 / (1 + math.exp(-0.3)) + 0.3
    ds = 2 * (1 / (1 + math.exp(-0.3))) * (1 - 1 / (1 + math.exp(-0.3))) + 1
    for graph in (expanded, gradcli.parse(source)):
        result = graph.evaluate({"x": 0.3})
        assert result.value == pytest.approx(s * s, rel=1e-14)
        assert result.gradients["x"] == pytest.approx(2 * s * ds, rel=1e-13)


@pytest.mark.parametrize("source", ["f(t) = t*t; f(x) * f(x)", "f(t) = exp(t); f(x) * f(x) * f(x)",
                                    "f(a, b) = a*b; f(x, x) + f(x, x) * x"])
def test_repeated_calls_with_the_same_arrays_without_trace(source):
    # the engine writes into arrays it was handed (trace=False): a call must not see another's
    values = {"x": [0.5, 1.0, 2.0]}
    graph = gradcli.parse(source)
    untraced = graph.evaluate(values, trace=False).gradients["x"]
    traced = graph.evaluate(values).gradients["x"]
    np.testing.assert_allclose(untraced, traced, rtol=1e-15)
    np.testing.assert_allclose(traced, numeric_gradients(source, values)["x"], rtol=1e-6)


@pytest.mark.parametrize("trace", [True, False])
def test_an_array_changed_in_place_between_runs_is_read_again(trace):
    # the body's last run is cached by the identity of its inputs; a new run must not reuse it
    graph = gradcli.parse("sq(t) = t*t\nsq(x)")
    x = np.array([1.0, 2.0, 3.0])
    graph.evaluate({"x": x}, trace=trace)
    x[:] = [4.0, 5.0, 6.0]
    result = graph.evaluate({"x": x}, trace=trace)
    np.testing.assert_array_equal(result.value, [16.0, 25.0, 36.0])
    np.testing.assert_array_equal(result.gradients["x"], [8.0, 10.0, 12.0])
