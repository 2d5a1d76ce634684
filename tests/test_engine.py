"""The engine's fast path (trace=False) reuses dead buffers in place; it must give exactly the
numbers of the traced path, which keeps every array, on graphs full of forks and broadcasting."""

from __future__ import annotations

import random

import numpy as np
import pytest

import gradcli
from gradcli.engine import unbroadcast

UNARY = ["exp({})", "tanh({})", "sin({})", "-({})", "sigmoid({})", "relu({})", "abs({})", "sqrt(abs({}) + 1)",
         # ops with a vjp: full reductions (any shape to a scalar) and a double transpose (views)
         "sum({})", "mean({})", "max({})", "min({})", "norm({})", "T(T({}))"]
BINARY = ["({} + {})", "({} - {})", "({} * {})", "({} / (abs({}) + 1))", "max({}, {})", "min({}, {})"]
SHAPES = {"a": (3,), "b": (2, 3), "c": (1, 3), "d": (), "m": (2, 1)}


def random_expression(rng: random.Random, depth: int) -> str:
    if depth == 0 or rng.random() < 0.2:
        return rng.choice(list(SHAPES) + ["0.5", "2"])
    if rng.random() < 0.4:
        return rng.choice(UNARY).format(random_expression(rng, depth - 1))
    pattern = rng.choice(BINARY)
    return pattern.format(*(random_expression(rng, depth - 1) for _ in range(pattern.count("{}"))))


@pytest.mark.parametrize("seed", range(60))
def test_untraced_equals_traced_on_random_graphs(seed):
    rng = random.Random(seed)
    source = random_expression(rng, 5)
    # reuse intermediates (forks) through a program, too
    program = f"t = {source}\nu = t * a + t\nu"
    values_rng = np.random.default_rng(seed)
    values = {name: values_rng.uniform(-2, 2, size=shape) for name, shape in SHAPES.items()}
    graph = gradcli.parse(program)
    used = {name: value for name, value in values.items() if name in graph.variables}
    traced = graph.evaluate(used, trace=True)
    untraced = graph.evaluate(used, trace=False)
    np.testing.assert_allclose(untraced.value, traced.value, rtol=1e-12, atol=1e-12)
    for name in used:
        np.testing.assert_allclose(untraced.gradients[name], traced.gradients[name], rtol=1e-12, atol=1e-12)
        assert np.shape(untraced.gradients[name]) == np.shape(used[name])


@pytest.mark.parametrize("program", [
    "t = T(2 * M); u = exp(2 * M); sum(t @ u) + sum(T(u) * t)",    # a view of a dead buffer stays intact
    "a = M * 3; b = T(a); c = a + 1; sum(b @ c) + norm(T(c))",
    "p = M @ T(M); q = p * p; sum(q, axis=0) @ sum(p, axis=1) + max(q) - min(T(p))",
    "s = sum(M, axis=0); dot(s, s) + mean(M * s) + sum(T(M) @ M, axis=-1) @ s",
])
def test_untraced_equals_traced_with_matrix_ops(program):
    values = {"M": np.random.default_rng(7).uniform(-1, 1, size=(3, 3))}
    graph = gradcli.parse(program)
    traced = graph.evaluate(values, trace=True)
    untraced = graph.evaluate(values, trace=False)
    np.testing.assert_allclose(untraced.value, traced.value, rtol=1e-12)
    np.testing.assert_allclose(untraced.gradients["M"], traced.gradients["M"], rtol=1e-12, atol=1e-12)


def test_untraced_does_not_touch_the_callers_arrays():
    x = np.array([0.5, 1.0, 2.0])
    y = np.array([1.0, -1.0, 3.0])
    before = (x.copy(), y.copy())
    gradcli.parse("exp(x * y) + x * x - y").evaluate({"x": x, "y": y}, trace=False)
    gradcli.parse("sum(exp(T(x)) + T(y) * 2) + norm(-T(x))").evaluate({"x": x, "y": y}, trace=False)
    np.testing.assert_array_equal(x, before[0])
    np.testing.assert_array_equal(y, before[1])


def test_gradients_of_two_variables_are_separate_arrays():
    # add passes one upstream array to both inputs: neither gradient may alias the other
    result = gradcli.parse("x + y").evaluate({"x": np.ones(4), "y": np.ones(4)}, trace=False)
    result.gradients["x"][0] = 99.0
    assert result.gradients["y"][0] == 1.0


@pytest.mark.parametrize("result_shape, shape, full, expected", [
    ((), (), (), 1.0),
    ((), (3,), (3,), [1.0, 1.0, 1.0]),      # a scalar seed reaching an array input
    ((), (), (3,), 3.0),                     # a scalar local reaching a scalar input of an array gate
    ((2, 3), (3,), (2, 3), [2.0, 2.0, 2.0]),
    ((2, 3), (2, 1), (2, 3), [[3.0], [3.0]]),
    ((2, 3), (), (2, 3), 6.0),
])
def test_unbroadcast_sums_back_to_the_input_shape(result_shape, shape, full, expected):
    result = np.ones(result_shape) if result_shape else 1.0
    np.testing.assert_allclose(unbroadcast(result, shape, full), expected)
