"""The gradcli language: numbers, names, constants, precedence, programs, forks, broadcasting,
kinks. Expected numbers are worked out by hand in the comments, or by central differences."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradcli

from conftest import numeric_gradients


def value(source: str, **values) -> float:
    return gradcli.evaluate(source, values).value


def grads(source: str, **values) -> dict:
    return gradcli.evaluate(source, values).gradients


# -- numbers -------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("3", 3.0),
    ("-2.5", -2.5),
    (".5", 0.5),
    ("1e-3", 0.001),
    ("2E+4", 20000.0),
    ("2e4", 20000.0),
    ("1.", 1.0),
    ("0.125", 0.125),
    ("007", 7.0),
    ("1.5e0", 1.5),
])
def test_numbers(text, expected):
    result = gradcli.evaluate(text)
    assert result.value == pytest.approx(expected, rel=1e-15)
    assert result.gradients == {}
    assert result.gradient_of == "f"


def test_numbers_inside_expressions():
    # f = 1e-3 x + .5 y - 2E+4 ; ∂f/∂x = 0.001, ∂f/∂y = 0.5
    result = gradcli.evaluate("1e-3*x + .5*y - 2E+4", x=1000, y=2)
    assert result.value == pytest.approx(1 + 1 - 20000)
    assert result.gradients["x"] == pytest.approx(0.001, rel=1e-12)
    assert result.gradients["y"] == pytest.approx(0.5, rel=1e-12)


# -- names and constants ---------------------------------------------------------------------------

def test_names():
    # f = w0 + x_1 · alpha: ∂/∂w0 = 1, ∂/∂x_1 = alpha, ∂/∂alpha = x_1
    result = gradcli.evaluate("w0 + x_1 * alpha + _b", w0=1, x_1=2, alpha=3, _b=0.5)
    assert result.value == pytest.approx(7.5)
    assert result.gradients == {"w0": pytest.approx(1.0), "x_1": pytest.approx(3.0),
                                "alpha": pytest.approx(2.0), "_b": pytest.approx(1.0)}


def test_a_name_is_one_node_however_often_used():
    graph = gradcli.parse("x * y + x")
    assert list(graph.variables) == ["x", "y"]
    assert sum(1 for node in graph.nodes if node.kind == "var" and node.name == "x") == 1


def test_constants_pi_and_e():
    assert value("pi") == pytest.approx(math.pi, rel=1e-15)
    assert value("e") == pytest.approx(math.e, rel=1e-15)
    assert value("2*pi") == pytest.approx(2 * math.pi, rel=1e-15)
    result = gradcli.evaluate("e * x + pi", x=3)
    assert result.value == pytest.approx(3 * math.e + math.pi, rel=1e-14)
    assert result.gradients == {"x": pytest.approx(math.e, rel=1e-14)}  # no gradient for a constant
    assert result.diagnostics == []
    assert gradcli.parse("e * x + pi").required == ["x"]


def test_a_value_for_e_replaces_the_constant():
    # f = e·x with e = 2, x = 3: f = 6, ∂f/∂e = x = 3, ∂f/∂x = e = 2
    result = gradcli.evaluate("e * x", e=2, x=3)
    assert result.value == pytest.approx(6.0)
    assert result.gradients == {"e": pytest.approx(3.0), "x": pytest.approx(2.0)}
    assert result.diagnostics == []


def test_a_value_for_pi_replaces_the_constant():
    result = gradcli.evaluate("sin(pi * x)", pi=2.0, x=0.25)
    assert result.value == pytest.approx(math.sin(0.5))
    assert result.gradients["pi"] == pytest.approx(0.25 * math.cos(0.5))
    assert result.gradients["x"] == pytest.approx(2.0 * math.cos(0.5))


def test_set_e_on_the_command_line(cli_json):
    doc = cli_json("eval", "e * x", "--set", "e=2", "--set", "x=3")
    assert doc["value"] == pytest.approx(6.0)
    assert doc["gradients"] == {"e": pytest.approx(3.0), "x": pytest.approx(2.0)}
    doc = cli_json("eval", "e * x", "--set", "x=3")
    assert doc["value"] == pytest.approx(3 * math.e)
    assert doc["gradients"] == {"x": pytest.approx(math.e)}


def test_constants_as_values_on_the_command_line(cli_json):
    doc = cli_json("eval", "x * y", "--set", "x=pi", "--set", "y=-e")
    assert doc["value"] == pytest.approx(-math.pi * math.e)
    doc = cli_json("eval", "x", "--set", "x=[1e-3, .5, -2.5, 2E+4]")
    assert doc["value"] == pytest.approx([0.001, 0.5, -2.5, 20000.0])


# -- precedence and associativity -----------------------------------------------------------------

@pytest.mark.parametrize("source, expected", [
    ("2^3^2", 512.0),  # right-associative: 2^(3^2)
    ("2**3**2", 512.0),
    ("(2^3)^2", 64.0),
    ("-2**2", -4.0),  # -(2**2), as in Python
    ("(-2)**2", 4.0),
    ("2**-1", 0.5),
    ("2^-1", 0.5),
    ("2**-2**2", 2.0 ** -4),  # 2**(-(2**2))
    ("2*3+4", 10.0),
    ("2+3*4", 14.0),
    ("2*3**2", 18.0),
    ("10-3-2", 5.0),  # left-associative
    ("24/4/2", 3.0),
    ("24/4*2", 12.0),
    ("1-2+3", 2.0),
    ("--3", 3.0),
    ("+3", 3.0),
    ("-+-3", 3.0),
    ("2 - -3", 5.0),
    ("2*-3", -6.0),
    ("(((1)))", 1.0),
])
def test_precedence_and_associativity(source, expected):
    assert value(source) == pytest.approx(expected, rel=1e-15)


def test_unary_minus_binds_looser_than_power():
    # -x**2 = -(x**2): at x = 3 the value is -9 and the gradient -2x = -6
    a = gradcli.evaluate("-x**2", x=3)
    b = gradcli.evaluate("-(x**2)", x=3)
    c = gradcli.evaluate("(-x)**2", x=3)
    assert a.value == pytest.approx(-9.0) and b.value == pytest.approx(-9.0)
    assert a.gradients["x"] == pytest.approx(-6.0) and b.gradients["x"] == pytest.approx(-6.0)
    assert c.value == pytest.approx(9.0) and c.gradients["x"] == pytest.approx(6.0)


def test_power_with_signed_exponent():
    # f = 2**-x at x = 1: 0.5, ∂f/∂x = -ln2 · 2**-x
    result = gradcli.evaluate("2**-x", x=1)
    assert result.value == pytest.approx(0.5)
    assert result.gradients["x"] == pytest.approx(-math.log(2) * 0.5, rel=1e-12)


@pytest.mark.parametrize("x, y", [(1.5, 2.0), (2.0, -0.5), (0.7, 3.0)])
def test_double_star_and_caret_are_the_same(x, y):
    a = gradcli.evaluate("x ** y", x=x, y=y)
    b = gradcli.evaluate("x ^ y", x=x, y=y)
    c = gradcli.evaluate("pow(x, y)", x=x, y=y)
    assert a.value == pytest.approx(x ** y, rel=1e-14)
    for other in (b, c):
        assert other.value == pytest.approx(a.value, rel=1e-15)
        assert other.gradients == {k: pytest.approx(v, rel=1e-15) for k, v in a.gradients.items()}
    assert a.gradients["x"] == pytest.approx(y * x ** (y - 1), rel=1e-12)
    assert a.gradients["y"] == pytest.approx(x ** y * math.log(x), rel=1e-12)


def test_unary_signs():
    # f = -x + +y - -z: ∂ = -1, 1, 1
    result = gradcli.evaluate("-x + +y - -z", x=1, y=2, z=3)
    assert result.value == pytest.approx(4.0)
    assert result.gradients == {"x": pytest.approx(-1.0), "y": pytest.approx(1.0), "z": pytest.approx(1.0)}
    result = gradcli.evaluate("--x", x=5)
    assert result.value == pytest.approx(5.0) and result.gradients["x"] == pytest.approx(1.0)


def test_newlines_inside_parentheses():
    result = gradcli.evaluate("(x +\n  y) * (\n z\n)", x=-2, y=5, z=-4)
    assert result.value == pytest.approx(-12.0)
    assert result.gradients == {"x": pytest.approx(-4.0), "y": pytest.approx(-4.0), "z": pytest.approx(3.0)}
    result = gradcli.evaluate("max(x,\n\n     y)\n", x=1, y=2)
    assert result.value == pytest.approx(2.0)
    assert result.gradients == {"x": pytest.approx(0.0), "y": pytest.approx(1.0)}


def test_a_newline_outside_parentheses_ends_a_statement():
    # two statements; the last one, `* z`, is not an expression
    with pytest.raises(gradcli.GradcliSyntaxError) as info:
        gradcli.parse("(x + y)\n* z")
    assert info.value.line == 2


# -- programs --------------------------------------------------------------------------------------

@pytest.mark.parametrize("program", [
    "a = x * y; b = a + x; b",
    "a = x * y\nb = a + x\nb",
    "a = x * y\r\nb = a + x\r\nb\r\n",
    "\n\na = x * y\n\n;; b = a + x;\n\nb\n\n",
    "a = x * y; b = a + x",  # an assignment as the last statement is the output too
    "# a program\na = x * y  # the product\n# b is next\nb = a + x # the sum\n",
])
def test_statements(program):
    # b = x y + x at x = 2, y = 5: 12; ∂b/∂x = y + 1 = 6, ∂b/∂y = x = 2
    result = gradcli.evaluate(program, x=2, y=5)
    assert result.value == pytest.approx(12.0)
    assert result.gradients == {"x": pytest.approx(6.0), "y": pytest.approx(2.0)}


def test_last_statement_is_the_output():
    result = gradcli.evaluate("a = x * 2\nb = x * 3", x=5)
    assert result.value == pytest.approx(15.0)
    assert result.gradients["x"] == pytest.approx(3.0)
    # what the output does not depend on is not part of the graph
    graph = gradcli.parse("a = x * 2\ny * 3")
    assert list(graph.variables) == ["y"]
    assert gradcli.evaluate("a = x * 2\ny * 3", y=1).value == pytest.approx(3.0)


def test_shadowing():
    # x = 2x; x = x·x: f = 4x², ∂f/∂x = 8x = 24 at x = 3
    result = gradcli.evaluate("x = x * 2; x = x * x", x=3)
    assert result.value == pytest.approx(36.0)
    assert result.gradients == {"x": pytest.approx(24.0)}
    # a name keeps its meaning at the time of use: b uses the first a
    result = gradcli.evaluate("a = x + 1; b = a * 2; a = x * 10; a + b", x=1)
    assert result.value == pytest.approx(10 + 4)
    assert result.gradients["x"] == pytest.approx(10 + 2)


@pytest.mark.parametrize("program, expected_value, expected_grad", [
    ("a = x; a += 2", 6.0, 1.0),  # x + 2
    ("a = x; a -= 2", 2.0, 1.0),  # x - 2
    ("a = x; a *= 3", 12.0, 3.0),  # 3x
    ("a = x; a /= 8", 0.5, 0.125),  # x / 8
    ("a = x; a += x", 8.0, 2.0),  # 2x
    ("a = x; a *= a", 16.0, 8.0),  # x², 2x
    ("a = x; a /= a + 4", 0.5, 4 / 8 ** 2),  # x/(x+4): 4/(x+4)²
    ("a = x; a += 2; a *= 3; a -= x; a /= 2", 7.0, 1.0),  # ((x+2)·3 - x)/2 = x + 3
    ("x += 1", 5.0, 1.0),  # a free variable: x + 1
    ("x *= x; x", 16.0, 8.0),
])
def test_augmented_assignment(program, expected_value, expected_grad):
    result = gradcli.evaluate(program, x=4)
    assert result.value == pytest.approx(expected_value, rel=1e-14)
    assert result.gradients["x"] == pytest.approx(expected_grad, rel=1e-14)


def test_micrograd_style_program():
    # c = a + b = 5; c += c + 1  ->  c = 5 + 6 = 11 = 2(a + b) + 1: ∂/∂a = ∂/∂b = 2
    result = gradcli.evaluate("c = a + b; c += c + 1", a=2, b=3)
    assert result.value == pytest.approx(11.0)
    assert result.gradients == {"a": pytest.approx(2.0), "b": pytest.approx(2.0)}


MICROGRAD = """
c = a + b
d = a * b + b**3
c += c + 1
c += 1 + c + (-a)
d += d * 2 + relu(b + a)
d += 3 * d + relu(b - a)
e = c - d
f = e**2
g = f / 2.0
g += 10.0 / f
"""


def test_micrograd_test_more_ops():
    """micrograd's test_more_ops (its numbers were checked against PyTorch), plus differences."""
    values = {"a": -4.0, "b": 2.0}
    result = gradcli.evaluate(MICROGRAD, values)
    # by hand: c = -2 -> -3 -> -1; d = 0 -> 0 -> 6; e = -7; f = 49; g = 24.5 + 10/49
    assert result.value == pytest.approx(24.5 + 10 / 49, rel=1e-12)
    assert result.value == pytest.approx(24.70408163265306, rel=1e-12)
    assert result.gradients["a"] == pytest.approx(138.83381924198252, rel=1e-10)
    assert result.gradients["b"] == pytest.approx(645.5772594752186, rel=1e-10)
    numeric = numeric_gradients(MICROGRAD, values)
    for name in values:
        assert result.gradients[name] == pytest.approx(numeric[name], rel=1e-6)


# -- forks: gradients add up -----------------------------------------------------------------------

@pytest.mark.parametrize("x", [3.0, -1.5, 0.0])
def test_fork_gradients_add(x):
    # f = x·x + x: ∂f/∂x = 2x + 1, from three arrivals: x (from ·, twice) and 1 (from +)
    result = gradcli.evaluate("x*x + x", x=x)
    assert result.value == pytest.approx(x * x + x)
    assert result.gradients["x"] == pytest.approx(2 * x + 1)
    (record,) = [r for r in result.trace if r.node.name == "x"]
    assert record.is_fork
    assert len(record.arrivals) == 3
    assert sorted(float(edge.result) for edge in record.arrivals) == pytest.approx(sorted([x, x, 1.0]))
    assert sum(float(edge.result) for edge in record.arrivals) == pytest.approx(float(record.gradient))
    for edge in record.arrivals:
        assert edge.input is record.node
    # the other nodes are not forks
    assert [r.node.name for r in result.trace if r.is_fork] == ["x"]


def test_fork_in_json(cli_json):
    doc = cli_json("eval", "x*x + x", "--set", "x=3")
    (fork,) = doc["forks"]
    x_node = next(node for node in doc["nodes"] if node["name"] == "x")
    assert fork["id"] == x_node["id"]
    assert sorted(fork["terms"]) == [pytest.approx(1.0), pytest.approx(3.0), pytest.approx(3.0)]
    assert fork["total"] == pytest.approx(7.0)
    assert sum(fork["terms"]) == pytest.approx(fork["total"])


def test_fork_in_table(cli):
    out = cli("eval", "x*x + x", "--set", "x=3").stdout
    assert "∂f/∂x = 7" in out
    assert "1 + 3 + 3 = 7" in out or "3 + 3 + 1 = 7" in out


def test_fork_through_an_intermediate():
    # q = x + y used twice: f = q·q + q at x = 1, y = 2: q = 3, ∂f/∂q = 2q + 1 = 7
    result = gradcli.evaluate("q = x + y; q * q + q", x=1, y=2)
    assert result.gradients == {"x": pytest.approx(7.0), "y": pytest.approx(7.0)}
    (record,) = [r for r in result.trace if r.node.name == "q"]
    assert record.is_fork and float(record.gradient) == pytest.approx(7.0)


# -- broadcasting ---------------------------------------------------------------------------------

def test_broadcasting_sums_gradients_back_to_each_shape():
    x = [1.0, 2.0, 3.0]  # (3,)
    y = [[1.0], [2.0]]  # (2, 1)
    result = gradcli.evaluate("x * y", x=x, y=y)
    np.testing.assert_allclose(result.value, [[1, 2, 3], [2, 4, 6]])
    assert result.gradient_of == "sum(f)"
    # ∂ sum(x y)/∂x_j = sum_i y_i = 3; ∂/∂y_i = sum_j x_j = 6
    assert result.gradients["x"].shape == (3,)
    assert result.gradients["y"].shape == (2, 1)
    np.testing.assert_allclose(result.gradients["x"], [3.0, 3.0, 3.0])
    np.testing.assert_allclose(result.gradients["y"], [[6.0], [6.0]])


def test_broadcasting_add():
    result = gradcli.evaluate("x + y", x=[1.0, 2.0, 3.0], y=[[1.0], [2.0]])
    assert result.gradient_of == "sum(f)"
    np.testing.assert_allclose(result.gradients["x"], [2.0, 2.0, 2.0])  # each x_j is in 2 elements
    np.testing.assert_allclose(result.gradients["y"], [[3.0], [3.0]])  # each y_i is in 3


def test_broadcasting_scalar_and_array_through_a_gate():
    # f = sum(a · x), a scalar: ∂/∂a = sum(x) = 6, ∂/∂x = a
    result = gradcli.evaluate("a * x", a=2, x=[1.0, 2.0, 3.0])
    assert isinstance(result.gradients["a"], float)
    assert result.gradients["a"] == pytest.approx(6.0)
    np.testing.assert_allclose(result.gradients["x"], [2.0, 2.0, 2.0])


@pytest.mark.parametrize("source, expected_b", [
    ("x + b", 3.0),  # sum(x + b) = sum(x) + 3b
    ("b + x", 3.0),
    ("x - b", -3.0),
    ("b - x", 3.0),
    ("x + 2 * b", 6.0),  # a scalar gate at the output add: 3 · 2
    ("x + b ** 2", 3.0),  # 3 · 2b
    ("2 * (x + b)", 6.0),
])
def test_broadcast_scalar_gradient_at_the_output_gate(source, expected_b):
    result = gradcli.evaluate(source, x=[1.0, 2.0, 3.0], b=0.5)
    assert result.gradient_of == "sum(f)"
    assert result.gradients["b"] == pytest.approx(expected_b)


def test_broadcasting_matches_finite_differences():
    source = "sigmoid(w * x + b) * y"
    values = {"w": [[0.3, -0.2], [0.5, 0.1], [-0.4, 0.8]], "x": [1.5, -0.5], "b": [[0.1], [0.2], [-0.3]],
              "y": 2.0}
    result = gradcli.evaluate(source, values)
    numeric = numeric_gradients(source, values)
    for name, given in values.items():
        assert np.shape(result.gradients[name]) == np.shape(given)
        np.testing.assert_allclose(result.gradients[name], numeric[name], rtol=1e-6, atol=1e-9)


def test_numpy_arrays_as_values():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    result = gradcli.evaluate("x * x", x=x)
    np.testing.assert_allclose(result.value, x * x)
    np.testing.assert_allclose(result.gradients["x"], 2 * x)
    assert result.gradients["x"] is not x


def test_array_output_in_table(cli):
    out = cli("eval", "x * y", "--set", "x=[1,2,3]", "--set", "y=[[1],[2]]").stdout
    assert "sum(f)" in out
    assert "(2, 3)" in out


def test_array_output_in_json(cli_json):
    doc = cli_json("eval", "x * y", "--set", "x=[1,2,3]", "--set", "y=[[1],[2]]")
    assert doc["gradient_of"] == "sum(f)"
    assert doc["shape"] == [2, 3]
    assert doc["value"] == [[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]]
    assert doc["gradients"] == {"x": [3.0, 3.0, 3.0], "y": [[6.0], [6.0]]}


# -- kinks ----------------------------------------------------------------------------------------

def kink_diagnostics(result):
    return [d for d in result.diagnostics if d.kind == "kink"]


@pytest.mark.parametrize("source, gate, expected", [
    ("relu(x)", "relu", {"x": 0.0}),  # relu'(0) = 0
    ("abs(x)", "abs", {"x": 0.0}),  # abs'(0) = 0
    ("max(x, x)", "max", {"x": 1.0}),  # a tie splits: ½ + ½
    ("min(x, x)", "min", {"x": 1.0}),
    ("max(x, y)", "max", {"x": 0.5, "y": 0.5}),
    ("min(x, y)", "min", {"x": 0.5, "y": 0.5}),
])
def test_kinks(source, gate, expected):
    result = gradcli.evaluate(source, {name: 0.0 for name in expected})
    assert result.value == pytest.approx(0.0)
    assert result.gradients == {k: pytest.approx(v) for k, v in expected.items()}
    (diagnostic,) = kink_diagnostics(result)
    assert diagnostic.node is not None and diagnostic.node.op_name == gate
    assert gate in diagnostic.message
    assert diagnostic.message in result.warnings


@pytest.mark.parametrize("source, values", [
    ("relu(x)", {"x": 0.5}), ("relu(x)", {"x": -0.5}), ("abs(x)", {"x": -2.0}),
    ("max(x, y)", {"x": 1.0, "y": 2.0}), ("min(x, y)", {"x": 1.0, "y": 2.0}),
])
def test_no_kink_warning_away_from_the_kink(source, values):
    assert kink_diagnostics(gradcli.evaluate(source, values)) == []


def test_kink_in_an_array_and_the_cli(cli):
    result = gradcli.evaluate("relu(x)", x=[-1.0, 0.0, 2.0])
    np.testing.assert_allclose(result.gradients["x"], [0.0, 0.0, 1.0])
    assert len(kink_diagnostics(result)) == 1
    run = cli("eval", "abs(x)", "--set", "x=0")
    assert run.exit_code == 0
    assert "warning:" in run.stderr and "abs" in run.stderr and "kink" in run.stderr
    # a kink is not a nan/inf: --strict still succeeds
    assert cli("eval", "abs(x)", "--set", "x=0", "--strict").exit_code == 0


def test_max_routes_and_relu_gates():
    # f = relu(x) + max(x, 2) at x = 3: relu' = 1, max routes to x: ∂f/∂x = 2
    assert grads("relu(x) + max(x, 2)", x=3.0) == {"x": pytest.approx(2.0)}
    # at x = 1: max routes to the constant 2: ∂f/∂x = 1
    assert grads("relu(x) + max(x, 2)", x=1.0) == {"x": pytest.approx(1.0)}


def test_parse_output_names_the_statement_whose_value_is_the_output():
    # q = x*y = 2, g = exp(q): dg/dx = exp(2)*y, dg/dy = exp(2)*x, by hand
    source = "q = x*y; f = q + z; g = exp(q); f"
    result = gradcli.parse(source, output="g").evaluate({"x": 1.0, "y": 2.0})
    assert result.value == pytest.approx(math.exp(2.0))
    assert result.gradients["x"] == pytest.approx(2 * math.exp(2.0))
    assert result.gradients["y"] == pytest.approx(math.exp(2.0))
    # the last assignment of a name is its value: q = 2, then q = 3
    assert gradcli.parse("q = x*y; q += 1; q*2", output="q").evaluate({"x": 1, "y": 2}).value == 3.0
    with pytest.raises(gradcli.GradcliError, match="no statement of the program assigns 'h'") as caught:
        gradcli.parse(source, output="h")
    assert caught.value.hint == "the statements assign: q, f, g"
