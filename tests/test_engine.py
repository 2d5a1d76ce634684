"""The engine's fast path (trace=False) reuses dead buffers in place; it must give exactly the
numbers of the traced path, which keeps every array, on graphs full of forks and broadcasting."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest

import gradcli
from gradcli.evaluation.engine import unbroadcast

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


# -- the untraced path's reuse rules: planned buffer lifetimes, pending factors, local kernels ----

# ops whose local gradient the untraced path computes into a buffer or carries as a factor
KERNEL_UNARY = ["tanh({})", "tan({} / 4)", "sqrt(abs({}) + 1)", "log(abs({}) + 1)", "cos({})", "sin({})",
                "sigmoid({})", "({})**2", "({})**3", "pow(abs({}) + 1, 0.5)", "2 * ({})", "({}) / 3",
                "-({}) * 0.5", "0 * ({})", "mean({})", "sum({}) * 2", "exp(-({}))", "1/(1 + exp(-({})))",
                "sig({})", "sq({}) - ({})", "(-1) / (abs({}) + 1)", "1 / (({}) + 3)"]
KERNEL_BINARY = ["({} * {})", "({} / (abs({}) + 1))", "({} - {})", "(abs({}) + 1) ** ({} / 2)", "-({} + {})",
                 "max({}, {})", "({} * 2 - {} / 4)"]
FUNCTIONS = "sig(t) = 1/(1+exp(-t))\nsq(t) = t * t\n"


def kernel_expression(rng: random.Random, depth: int) -> str:
    if depth == 0 or rng.random() < 0.15:
        return rng.choice(list(SHAPES) + ["0.5", "2"])
    if rng.random() < 0.5:
        return rng.choice(KERNEL_UNARY).replace("{}", kernel_expression(rng, depth - 1))
    pattern = rng.choice(KERNEL_BINARY)
    return pattern.format(*(kernel_expression(rng, depth - 1) for _ in range(pattern.count("{}"))))


def assert_untraced_is_safe(graph, values: dict, rtol: float = 1e-11) -> None:
    """Same numbers as the traced path; the caller's arrays untouched; every returned array is
    the caller's alone (no gradient shares memory with another, with an input or with f)."""
    before = {name: np.array(value, copy=True) for name, value in values.items()}
    traced = graph.evaluate(values, trace=True)
    untraced = graph.evaluate(values, trace=False)
    np.testing.assert_allclose(untraced.value, traced.value, rtol=rtol, atol=1e-12)
    for name in values:
        np.testing.assert_allclose(untraced.gradients[name], traced.gradients[name], rtol=rtol, atol=1e-11,
                                   err_msg=name)
        assert np.shape(untraced.gradients[name]) == np.shape(values[name])
        np.testing.assert_array_equal(values[name], before[name])
    returned = [untraced.value, *untraced.gradients.values()]
    arrays = [a for a in returned if isinstance(a, np.ndarray)]
    for i, a in enumerate(arrays):
        assert a.flags.writeable
        for other in arrays[i + 1:] + [v for v in values.values() if isinstance(v, np.ndarray)]:
            assert not np.shares_memory(a, other)


@pytest.mark.parametrize("seed", range(80))
def test_untraced_equals_traced_with_kernels_factors_and_functions(seed):
    rng = random.Random(1000 + seed)
    source = kernel_expression(rng, 5)
    program = f"{FUNCTIONS}t = {source}\nu = t * a - t / 2 + sq(t)\nu"
    values_rng = np.random.default_rng(seed)
    values = {name: values_rng.uniform(-1.5, 1.5, size=shape) for name, shape in SHAPES.items()}
    for graph in (gradcli.parse(program), gradcli.parse(program, expand=True)):
        used = {name: value for name, value in values.items() if name in graph.variables}
        with np.errstate(all="ignore"):
            assert_untraced_is_safe(graph, used)


@pytest.mark.parametrize("program", [
    # a value read by the backward pass after its buffer could have been handed on (exp's output)
    "g = exp(x); h = 1 + g; s = 1/h; s * g",
    # the neuron, its --stable sigmoid and a user-function sigmoid: three big arrays' worth of reuse
    "1/(1+exp(-(w0*x0+w1*x1+w2)))",
    "sig(t) = 1/(1+exp(-t))\nsig(w0*x0 + w1*x1 + w2) * sig(x0)",
    # forks whose gradients arrive with different pending factors, 0 and a negation among them
    "a = -x; b = 2 * x; c = x / 4; a * b + c - 0 * x + (-a) * (-b)",
    "y = x * w0; z = -y; exp(z) + z * 3 + tanh(y) * w1",
    # a buffer freed in the forward pass handed to the next array of its shape, a view of it kept
    "p = x0 * w0; q = x1 * w1; r = p + q; t = T(r); sum(t * r) + sum(exp(q))",
    # the same value at both inputs, a gate whose input is also its output's only reader
    "u = x0 * x0; v = u * u; v / (u + 1) - sqrt(v + 1)",
    # full reductions pass a scalar standing for its broadcast
    "sum(x0) * mean(x1) + sum(x0 * x1) / 3 - mean(tanh(x0))**2",
    # 1/y keeps no y (its gradient is -ans²), so it is computed in y's array; y read elsewhere stays
    "h = x0 * 2 + 3; 1/h + (-1)/(h * h) + 1/x1 + 1/w0 + 1/(h + w1) * h",
])
def test_untraced_reuse_rules(program):
    rng = np.random.default_rng(3)
    values = {"x": rng.uniform(-1, 1, 50), "x0": rng.uniform(-1, 1, 50), "x1": rng.uniform(-1, 1, 50),
              "w0": 0.7, "w1": -1.3, "w2": 0.2}
    graph = gradcli.parse(program)
    used = {name: value for name, value in values.items() if name in graph.variables}
    assert_untraced_is_safe(graph, used)


def test_stable_rewrites_and_broadcast_shapes_under_reuse():
    from gradcli.language.rewrite import stabilize

    program = "z = w @ x + b; log(1 + exp(z)) * 1/(1+exp(-z)) + log(sum(exp(z), axis=0)) * c"
    rng = np.random.default_rng(4)
    values = {"w": rng.normal(size=(4, 3)), "x": rng.normal(size=(3, 6)), "b": rng.normal(size=(4, 1)),
              "c": rng.normal(size=(1, 6))}
    graph = gradcli.parse(program)
    assert_untraced_is_safe(graph, values)
    assert_untraced_is_safe(stabilize(graph), values)


@pytest.mark.parametrize("program, shapes", [
    ("x * y", {"x": (1, 5), "y": (4, 1)}),            # the product summed back by einsum
    ("tanh(x) * y + x / y", {"x": (4, 5), "y": (1, 5)}),
    ("exp(x) * y - y ** 2", {"x": (3, 4, 5), "y": (4, 1)}),
    ("sum(x * y) + x * 2", {"x": (), "y": (6,)}),         # a scalar input of an array gate
])
def test_untraced_broadcasting_under_reuse(program, shapes):
    rng = np.random.default_rng(5)
    values = {name: rng.uniform(0.5, 1.5, size=shape) for name, shape in shapes.items()}
    assert_untraced_is_safe(gradcli.parse(program), values)


def test_a_caller_that_keeps_the_result_is_not_overwritten_by_the_next_run():
    graph = gradcli.parse("y = tanh(x) * w; y * y + exp(-x)")
    x = np.linspace(-1, 1, 7)
    first = graph.evaluate({"x": x, "w": 0.5}, trace=False)
    kept = first.value.copy(), first.gradients["x"].copy()
    graph.evaluate({"x": x * 2, "w": 3.0}, trace=False)
    np.testing.assert_array_equal(first.value, kept[0])
    np.testing.assert_array_equal(first.gradients["x"], kept[1])


@pytest.mark.parametrize("program, values", [
    ("log(x) * y + sqrt(y - 2)", {"x": [1.0, -1.0, 2.0], "y": [3.0, 1.0, 4.0]}),
    # an input overwritten in place by the next gate: "from finite inputs" all the same
    ("exp(x * 1000) * 2", {"x": [1.0, 0.5]}),
    # pending factors: a negation of an infinite gradient, 0 times one, one that overflows
    ("-(1 / x)", {"x": [0.0, 1.0]}),
    ("(2 * exp(x)) * 0", {"x": [1000.0]}),
    ("x * 4 * 1e308", {"x": [1.0, 2.0]}),
    ("x / 0", {"x": [1.0, 2.0]}),
])
def test_untraced_domain_warnings_match_the_traced_ones(program, values):
    graph = gradcli.parse(program)
    values = {name: np.array(v) for name, v in values.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy RuntimeWarning escapes either path
        traced = graph.evaluate(values, trace=True)
        untraced = graph.evaluate(values, trace=False)
    assert untraced.diagnostics == traced.diagnostics and traced.diagnostics
    np.testing.assert_array_equal(untraced.value, traced.value)
    for name in values:
        np.testing.assert_array_equal(untraced.gradients[name], traced.gradients[name])


@pytest.mark.parametrize("program", [
    "sum((tanh(tanh(X @ W1 + b1) @ W2 + b2) - Y)**2)/7",      # bench/arrays.py's network
    "mean(-(X * 3) @ (W1 / 2)) + sum(dot(X, W1 * 4) * -2)",     # factors meeting a product
    "h = X @ W1; sum(h * h) / 2 - sum(T(h) @ X) * 3",
])
def test_untraced_products_with_pending_factors(program):
    rng = np.random.default_rng(6)
    values = {"X": rng.normal(size=(7, 3)), "W1": rng.normal(size=(3, 5)), "b1": rng.normal(size=5),
              "W2": rng.normal(size=(5, 2)), "b2": rng.normal(size=2), "Y": rng.normal(size=(7, 2))}
    graph = gradcli.parse(program)
    assert_untraced_is_safe(graph, {name: v for name, v in values.items() if name in graph.variables})


_M = np.random.default_rng(8).normal(size=(6, 4))


@pytest.mark.parametrize("program, values", [
    ("sum(x * y) + sum(exp(x))", {"x": np.zeros(0), "y": np.zeros(0)}),     # empty arrays
    ("x * 2 + y", {"x": np.zeros((0, 3)), "y": 1.5}),
    ("tanh(x) * y / (abs(y) + 1)", {"x": _M[::2], "y": _M[1::2]}),            # strided views
    ("sum(tanh(x) * y)", {"x": np.asfortranarray(_M), "y": _M}),             # Fortran order
    ("sum(x * w) - w * 3", {"x": _M[:, 1], "w": 0.5}),                        # a non-contiguous vector
    ("x ** 2 / 3 - -x", {"x": np.array(2.5)}),                               # a 0-d array
], ids=["empty", "empty-broadcast", "strided", "fortran", "column", "0-d"])
def test_untraced_with_unusual_arrays(program, values):
    assert_untraced_is_safe(gradcli.parse(program), values)


@pytest.mark.parametrize("program, values", [
    ("w * x", {"w": 2.0, "x": [1.0, np.nan, 3.0]}),
    ("w * x + x", {"w": 0.0, "x": [1.0, -np.inf]}),
    ("sum(w * exp(x))", {"w": 1.5, "x": [1.0, np.inf]}),
    ("relu(x) * w", {"w": 2.0, "x": [-np.inf, 1.0]}),    # the slope hides x's -inf: found all the same
    ("sum(x) + y * 0", {"x": [1.0, 2.0], "y": [np.nan, 1.0]}),
])
def test_values_with_nan_or_inf_are_reported_as_the_traced_path_does(program, values):
    # the fast pass checks the values after its run, taking an array it summed as checked
    graph = gradcli.parse(program)
    values = {name: np.array(v) for name, v in values.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        traced = graph.evaluate(values, trace=True)
        untraced = graph.evaluate(values, trace=False)
    assert untraced.diagnostics == traced.diagnostics
    assert any("holds" in d.message for d in traced.diagnostics)
    np.testing.assert_array_equal(untraced.value, traced.value)
    for name in values:
        np.testing.assert_array_equal(untraced.gradients[name], traced.gradients[name])


def test_an_array_the_fast_pass_summed_is_not_checked_again(monkeypatch):
    from gradcli.evaluation import engine

    checked = []
    real = engine._all_finite
    monkeypatch.setattr(engine, "_all_finite", lambda array: checked.append(array) or real(array))
    x = np.linspace(-1.0, 1.0, 1000)
    result = gradcli.parse("1/(1+exp(-(w0*x+w1)))").evaluate({"w0": 0.5, "w1": -1.0, "x": x}, trace=False)
    assert not any(a is x for a in checked)  # sum(x * g), w0's gradient, came out finite: so is x
    assert np.isfinite(result.gradients["w0"])
