"""Reductions, products and the transpose in the language: precedence, keywords, tables, JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

import gradcli

from conftest import numeric_gradients

A = [[1.0, 2.0], [3.0, 4.0]]
B = [[0.5, -1.0], [2.0, 1.5]]


def test_matmul_has_the_precedence_of_multiplication():
    c = np.array([[2.0, 0.0], [1.0, -1.0]])
    left = gradcli.evaluate("a @ b * c", a=A, b=B, c=c).value
    np.testing.assert_allclose(left, (np.array(A) @ np.array(B)) * c)
    right = gradcli.evaluate("a * c @ b", a=A, b=B, c=c).value
    np.testing.assert_allclose(right, (np.array(A) * c) @ np.array(B))
    summed = gradcli.evaluate("a @ b + c", a=A, b=B, c=c).value
    np.testing.assert_allclose(summed, np.array(A) @ np.array(B) + c)
    chained = gradcli.evaluate("a @ b @ c", a=A, b=B, c=c).value  # left-associative
    np.testing.assert_allclose(chained, np.array(A) @ np.array(B) @ c)


def test_matrix_product_gradients_by_hand():
    # f = sum(A @ B): ∂f/∂A = 1·Bᵀ (row sums of B in every row), ∂f/∂B = Aᵀ·1 (column sums of A)
    result = gradcli.evaluate("sum(a @ b)", a=A, b=B)
    assert result.value == pytest.approx(np.sum(np.array(A) @ np.array(B)))
    np.testing.assert_allclose(result.gradients["a"], [[-0.5, 3.5], [-0.5, 3.5]])
    np.testing.assert_allclose(result.gradients["b"], [[4.0, 4.0], [6.0, 6.0]])


def test_dot_of_vectors_and_norm():
    result = gradcli.evaluate("dot(u, v) + norm(u)", u=[3.0, 4.0], v=[1.0, -2.0])
    assert result.value == pytest.approx(3 - 8 + 5)
    np.testing.assert_allclose(result.gradients["u"], [1 + 0.6, -2 + 0.8])
    np.testing.assert_allclose(result.gradients["v"], [3.0, 4.0])


def test_axis_keyword_and_elementwise_max_are_different():
    x = [[1.0, -2.0], [-3.0, 4.0]]
    clipped = gradcli.evaluate("max(x, 0)", x=x)
    np.testing.assert_allclose(clipped.value, [[1, 0], [0, 4]])
    np.testing.assert_allclose(clipped.gradients["x"], [[1, 0], [0, 1]])
    columns = gradcli.evaluate("max(x, axis=0)", x=x)
    np.testing.assert_allclose(columns.value, [1, 4])
    np.testing.assert_allclose(columns.gradients["x"], [[1, 0], [0, 1]])
    rows = gradcli.evaluate("min(x, axis=-1) * 2", x=x)
    np.testing.assert_allclose(rows.value, [-4, -6])
    np.testing.assert_allclose(rows.gradients["x"], [[0, 2], [2, 0]])
    mean = gradcli.evaluate("mean(x, axis=1)", x=x)
    np.testing.assert_allclose(mean.value, [-0.5, 0.5])
    np.testing.assert_allclose(mean.gradients["x"], np.full((2, 2), 0.5))


def test_transpose():
    result = gradcli.evaluate("sum(T(x) * w)", x=[[1.0, 2.0, 3.0]], w=[[1.0], [10.0], [100.0]])
    assert result.value == pytest.approx(321.0)
    np.testing.assert_allclose(result.gradients["x"], [[1.0, 10.0, 100.0]])
    assert gradcli.evaluate("T(x)", x=[1.0, 2.0]).value.tolist() == [1.0, 2.0]


def test_a_small_network_against_finite_differences():
    source = "h = relu(W1 @ x + b1); y = sigmoid(W2 @ h); mean((y - t)**2) + 0.01 * norm(W1)**2"
    rng = np.random.default_rng(5)
    values = {"W1": rng.normal(size=(4, 3)), "x": rng.normal(size=3), "b1": rng.normal(size=4) + 1.0,
              "W2": rng.normal(size=(2, 4)), "t": [0.2, 0.9]}
    result = gradcli.evaluate(source, values)
    numeric = numeric_gradients(source, values)
    for name in values:
        np.testing.assert_allclose(result.gradients[name], numeric[name], rtol=1e-5, atol=1e-8, err_msg=name)


def test_table_local_column_describes_the_jacobian(cli):
    result = cli("eval", "sum(x) @ T(y)", "--set", "x=[[1,2],[3,4]]", "--set", "y=[1,1]")
    assert result.exit_code == 1  # a scalar cannot be a matrix product operand
    assert "@ needs vectors or matrices" in result.stderr and "'sum(x) @ T(y)'" in result.stderr
    result = cli("eval", "dot(sum(x, axis=0), y)", "--set", "x=[[1,2],[3,4]]", "--set", "y=[1,-1]")
    assert result.exit_code == 0, result.stderr
    assert "1 for each element" in result.stdout and "vjp: g·bᵀ" in result.stdout
    assert "(2, 2) [[1, -1], [1, -1]]" in result.stdout


def test_json_local_is_the_rule_as_text(cli_json):
    doc = cli_json("eval", "sum(x * x)", "--set", "x=[1,2]")
    gate = next(n for n in doc["nodes"] if n["op"] == "sum")
    assert gate["inputs"][0]["local"] == "1 for each element"
    assert gate["inputs"][0]["result"] == [1.0, 1.0]
    assert doc["gradients"]["x"] == [2.0, 4.0]


@pytest.mark.parametrize("source, needles", [
    ("sum(x, axis=2)", ["axis 2 is out of bounds", "'sum(x, axis=2)'"]),
    ("sum(x, axis=0.5)", ["axis= needs a whole number"]),
    ("sum(x, axis=y)", ["axis= needs a whole number"]),
    ("sum(x, axis=0, axis=1)", ["axis= is given twice"]),
    ("sum(x, keepdims=1)", ["no keyword argument 'keepdims'", "axis="]),
    ("exp(x, axis=0)", ["no keyword argument 'axis'", "no keyword arguments"]),
    ("max(axis=0, x)", ["positional argument follows"]),
    ("dot(x, y)", ["do not align", "(2, 2)", "(3,)"]),
    ("max(x, y, x)", ["max takes 1 or 2 arguments"]),
])
def test_bad_array_calls(cli, source, needles):
    result = cli("eval", source, "--set", "x=[[1,2],[3,4]]", "--set", "y=[1,2,3]")
    assert result.exit_code == 1, result.stdout
    for needle in needles:
        assert needle in result.stderr, result.stderr


def test_ties_and_zero_norm_warn_with_their_convention(cli):
    result = cli("eval", "max(x) + norm(y)", "--set", "x=[2,2,1]", "--set", "y=[0,0]", "--format", "json")
    assert result.exit_code == 0
    assert "a tie splits the gradient equally" in result.stderr
    assert "the gradient of norm at 0 is 0" in result.stderr
    gradients = json.loads(result.stdout)["gradients"]
    assert gradients == {"x": [0.5, 0.5, 0.0], "y": [0.0, 0.0]}


@pytest.mark.parametrize("source", [
    "sum(X @ T(X), axis=-1) @ v + max(v) * min(X, axis=0) @ v - norm(X, axis=1) @ v + dot(v, v) * mean(X)",
    "a = X @ X; b = T(a) @ a; sum(b * a, axis=0) @ v",
])
def test_array_programs_print_back_to_the_same_graph(source):
    from gradcli.language.printer import to_source

    values = {"X": [[0.5, -1.0], [2.0, 0.25]], "v": [1.5, -0.5]}
    graph = gradcli.parse(source)
    printed = to_source(graph)
    again = gradcli.parse(printed)
    assert [n.op_name for n in again.nodes] == [n.op_name for n in graph.nodes]
    assert [n.params for n in again.nodes] == [n.params for n in graph.nodes]
    first, second = graph.evaluate(values), again.evaluate(values)
    assert second.value == pytest.approx(first.value, rel=1e-15)
    for name in values:
        np.testing.assert_allclose(second.gradients[name], first.gradients[name], rtol=1e-15)


@pytest.mark.parametrize("source, value, words", [
    ("mean(x)", "[]", "mean of no elements has no value"),
    ("max(x)", "[]", "max of no elements has no value"),
    ("min(x, axis=1)", "[[],[]]", "min of no elements along axis 1 has no value"),
    ("logsumexp(x)", "[]", "logsumexp of no elements has no value"),
])
@pytest.mark.parametrize("fmt", ["table", "json", "plain", "csv"])
def test_a_reduction_without_identity_over_no_elements_is_an_error_of_its_gate(cli, source, value, words, fmt):
    # NumPy warns "Mean of empty slice" (mean) or raises its own message (max): neither reaches the user
    result = cli("eval", source, f"x={value}", "--format", fmt)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {words} at gate '{source}'"), result.stderr
    assert "Warning" not in result.stderr
    with pytest.raises(gradcli.GradcliError, match=words):
        gradcli.evaluate(source, x=json.loads(value))


@pytest.mark.parametrize("source, value, f", [("sum(x)", "[]", 0.0), ("norm(x)", "[]", 0.0),
                                              ("max(x, axis=0)", "[[],[]]", [])])
def test_reductions_with_an_identity_or_nothing_to_reduce_accept_no_elements(cli_json, source, value, f):
    document = cli_json("eval", source, f"x={value}")
    assert document["value"] == f
