"""Forward mode (gradcli.jvp, gradcli.evaluation.forward): f and ∂f·t gate by gate.

Checked by hand on the lecture's circuits, over every op of the registry against central
differences along t and against the reverse engine through the adjoint identity
<VJP(g), t> = <g, JVP(t)>, on broadcasting arrays, at 0·∞ and at kinks (with reverse mode's
warnings, which must be the same list), with n tangent columns at once, and on hostile input."""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest

import gradcli
from gradcli.core.ops import OPS
from gradcli.evaluation import forward
from gradcli.evaluation.forward import JVP, ForwardRecord, bind_tangents, jvp, tangent_columns

from opcalls import SKIPPED
from test_ops import _cases, _points, _vjp_cases


def run(source: str, values: dict, tangents: dict, **options) -> JVP:
    return jvp(gradcli.parse(source), values, tangents, **options)


# -- by hand ----------------------------------------------------------------------------------------

def test_add_times_by_hand():
    # f = (x + y)·z at x = -2, y = 5, z = -4 along t = (1, 0, 0): q = x + y = 3, q' = 1;
    # f' = z·q' + q·z' = -4·1 + 3·0 = -4 (= ∂f/∂x, the backward table's -4)
    r = run("(x + y) * z", {"x": -2, "y": 5, "z": -4}, {"x": 1})
    assert (r.value, r.tangent) == (-12.0, -4.0)
    q, f = r.records
    assert isinstance(q, ForwardRecord) and q.node.label == "x + y"
    assert (q.value, q.locals, q.tangents_in, q.products, q.tangent) == (3.0, (1.0, 1.0), (1.0, 0.0), (1.0, 0.0), 1.0)
    assert (f.value, f.locals, f.tangents_in, f.products, f.tangent) == (-12.0, (-4.0, 3.0), (1.0, 0.0), (-4.0, 0.0), -4.0)
    # along t = (1, 1, 1): q' = 2, f' = -4·2 + 3·1 = -5; along z alone: f' = q = 3
    assert run("(x + y) * z", {"x": -2, "y": 5, "z": -4}, {"x": 1, "y": 1, "z": 1}).tangent == -5.0
    assert run("(x + y) * z", {"x": -2, "y": 5, "z": -4}, {"z": 1}).tangent == 3.0
    assert r.seeds == {"x": 1.0, "y": 0.0, "z": 0.0} and r.variables == {"x": (), "y": (), "z": ()}
    assert r.warnings == [] and r.diagnostics == []


NEURON = "1/(1+exp(-(w0*x0+w1*x1+w2)))"
LECTURE = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}


def test_sigmoid_neuron_of_the_lecture():
    # ../shared/reference/backprop.md: ∂f/∂w0 = -0.19661193…, ∂f/∂x0 = 0.39322386…, ∂f/∂w1 =
    # -0.39322386…, ∂f/∂x1 = -0.58983579…, ∂f/∂w2 = 0.19661193…; a JVP along each axis is one of them
    s = 1 / (1 + math.exp(-1.0))  # the neuron's value: w·x + b = 1
    slope = s * (1 - s)
    expected = {"w0": -slope, "x0": 2 * slope, "w1": -2 * slope, "x1": -3 * slope, "w2": slope}
    assert expected["x1"] == pytest.approx(-0.58983579, abs=1e-8)
    for name, derivative in expected.items():
        value, tangent = run(NEURON, LECTURE, {name: 1.0})
        assert value == pytest.approx(s, rel=1e-15)
        assert tangent == pytest.approx(derivative, rel=1e-14)
    # gate by gate along w0, forward: w0·x0 = -2 (its tangent x0·1 = -1), w1·x1 = 6 (none:
    # 0.0), sum 4 (-1), plus w2 1 (-1), negate -1 (1), exp e^-1 (e^-1·1), plus 1 (e^-1),
    # reciprocal 1/(1 + e^-1) (-1/(1 + e^-1)²·e^-1 = -s(1 - s))
    r = run(NEURON, LECTURE, {"w0": 1.0})
    e = math.exp(-1.0)
    table = [number for rec in r.records for number in (rec.value, rec.tangent)]
    assert table == pytest.approx([-2.0, -1.0, 6.0, 0.0, 4.0, -1.0, 1.0, -1.0, -1.0, 1.0,
                                   e, e, 1 + e, e, s, -slope], rel=1e-15)
    mul, _, _, _, neg, exp, _, div = r.records
    assert mul.locals == (-1.0, 2.0) and mul.tangents_in == (1.0, 0.0) and mul.products == (-1.0, 0.0)
    assert neg.locals == (-1.0,) and exp.locals == pytest.approx((e,))
    assert div.locals[1] == pytest.approx(-1 / (1 + e) ** 2) and div.tangents_in == pytest.approx((0.0, e))
    assert [rec.node.label for rec in r.records][-1] == NEURON


def test_records_of_gates_with_a_vjp_show_the_rule():
    # sum(x·W) along W = I: the product gate's tangent is x·I, and sum's is its sum, 1 + 2
    r = run("sum(x * W)", {"x": [1.0, 2.0], "W": [[1.0, 2.0], [3.0, 4.0]]}, {"W": [[1.0, 0.0], [0.0, 1.0]]})
    product, total = r.records
    assert product.products[0] == 0.0 and product.products[1].tolist() == [[1.0, 0.0], [0.0, 2.0]]
    assert product.locals[0].tolist() == [[1.0, 2.0], [3.0, 4.0]] and product.locals[1].tolist() == [[1.0, 2.0], [1.0, 2.0]]
    assert total.locals == OPS["sum"].formulas and total.tangent == 3.0 and total.products == (3.0,)
    assert (r.value, r.tangent) == (16.0, 3.0)


def test_the_docstring_example():
    import doctest

    runner = doctest.DocTestRunner()
    for test in doctest.DocTestFinder().find(gradcli.jvp, globs={"gradcli": gradcli}):
        runner.run(test)
    assert runner.summarize().failed == 0 and runner.summarize().attempted >= 3


def test_api_shapes_unpacking_and_keywords():
    r = gradcli.jvp("x * y", {"x": [1.0, 2.0, 3.0]}, {"x": [1, 0, 0], "y": 1}, y=2)
    f, df = r
    assert len(r) == 2 and r[0] is f and r[1] is df
    assert f.tolist() == [2.0, 4.0, 6.0] and df.tolist() == [3.0, 2.0, 3.0]  # y·t_x + x·t_y
    assert isinstance(r, gradcli.JVP) and "tangent=" in repr(r)
    assert r.variables == {"x": (3,), "y": ()}
    assert r.seeds["y"] == 1.0 and r.seeds["x"].tolist() == [1.0, 0.0, 0.0]
    # no tangent at all: ∂f·0 = 0, of f's shape
    assert gradcli.jvp("x * 2", {"x": [1.0, 2.0]}).tangent.tolist() == [0.0, 0.0]
    assert gradcli.jvp("x * 2", {"x": 1.0}).tangent == 0.0
    # the output is a variable: its tangent is the seed (a copy, not the caller's array)
    t = np.array([1.0, 2.0])
    got = gradcli.jvp("x", {"x": [3.0, 4.0]}, {"x": t}).tangent
    assert got.tolist() == [1.0, 2.0] and got is not t
    assert "jvp" in gradcli.__all__ and "JVP" in gradcli.__all__
    # through diff(…) in the language: d/dx x³ = 3x², its tangent 6x·t
    assert gradcli.jvp("diff(x**3, x)", {"x": 2.0}, {"x": 1.0})[:] == (12.0, 12.0)


# -- every op: central differences along t, and the adjoint identity against the reverse engine ---

BINARY = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}


def _program(op, params: dict) -> str:
    names = "xyw"[:op.arity]
    if op.name in BINARY:
        return f"x {BINARY[op.name]} y"
    if op.name == "neg":
        return "-x"
    if op.name == "matmul":
        return "x @ y"
    keywords = "".join(f", {k}={v}" for k, v in params.items())
    return f"{op.call_name}({', '.join(names)}{keywords})"


def _op_cases():
    for param in _cases():
        name, shapes = param.values
        if name not in SKIPPED:
            yield pytest.param(name, shapes, {}, id=param.id)
    for param in _vjp_cases():
        name, shapes, params = param.values
        if name not in SKIPPED:
            yield pytest.param(name, shapes, params, id=param.id)


def _check_jvp(source: str, values: dict, rng, rtol=2e-6, atol=1e-8) -> None:
    graph = gradcli.parse(source)
    tangents = {name: rng.uniform(-1.0, 1.0, np.shape(v)) for name, v in values.items()}
    careful = jvp(graph, values, tangents, trace=True)
    lean = jvp(graph, values, tangents, trace=False)
    # the two passes: the same numbers (the lean one scales by factors in another order)
    np.testing.assert_allclose(lean.value, careful.value, rtol=1e-13, atol=0)
    np.testing.assert_allclose(lean.tangent, careful.tangent, rtol=1e-12, atol=1e-300)
    assert lean.warnings == careful.warnings == []
    # central differences of f along t
    h = 1e-6

    def at(sign):
        return np.asarray(graph.evaluate({k: np.asarray(v) + sign * h * tangents[k] for k, v in values.items()},
                                         trace=False).value)

    numeric = (at(1) - at(-1)) / (2 * h)
    np.testing.assert_allclose(careful.tangent, numeric, rtol=rtol, atol=atol, err_msg=source)
    # <VJP(g), t> = <g, JVP(t)>: the reverse engine's gradient of sum(g·f)
    g = rng.uniform(-1.0, 1.0, np.shape(careful.value))
    names = list(values)
    cotangent = "cot_"
    *definitions, last = source.split("\n")
    program = "\n".join([*definitions, f"sum({cotangent} * ({last}))"])
    reverse = gradcli.parse(program).evaluate({**values, cotangent: g}, trace=False)
    left = sum(float(np.sum(np.asarray(reverse.gradients[n]) * tangents[n])) for n in names)
    right = float(np.sum(g * careful.tangent))
    assert left == pytest.approx(right, rel=1e-10, abs=1e-12), source


@pytest.mark.parametrize("name, shapes, params", list(_op_cases()))
def test_every_op_against_differences_and_the_adjoint(name, shapes, params):
    op = OPS[name]
    rng = np.random.default_rng(zlib.crc32(f"jvp{name}{shapes}{params}".encode()))
    source = _program(op, params)
    for inputs in list(_points(name, shapes))[:2]:
        values = {n: np.asarray(x, dtype=np.float64) for n, x in zip("xyw", inputs)}
        _check_jvp(source, values, rng)


def test_derivative_ops_take_their_tangents_from_the_registry():
    # matmul_vjp_a(g, a, b) = g·bᵀ is linear in g and in b; max_weights has no rule (0)
    rng = np.random.default_rng(7)
    g, a, b = rng.normal(size=(2, 4)), rng.normal(size=(2, 3)), rng.normal(size=(3, 4))
    tg, tb = rng.normal(size=(2, 4)), rng.normal(size=(3, 4))
    graph = gradcli.parse("x")
    node = graph.nodes[0]
    from gradcli.core.graph import Node

    gate = Node("gate", node.span, OPS["matmul_vjp_a"], (node, node, node))
    ans = OPS["matmul_vjp_a"].forward(g, a, b)
    got = forward.gate_tangent(gate, ans, [g, a, b], [tg, None, tb])
    np.testing.assert_allclose(got, tg @ b.T + g @ tb.T, rtol=1e-13)
    weights = Node("gate", node.span, OPS["max_weights"], (node,))
    x = rng.normal(size=5)
    assert forward.gate_tangent(weights, OPS["max_weights"].forward(x), [x], [np.ones(5)]) is None


@pytest.mark.parametrize("source, values", [
    ("sum(x * W, axis=0) + b", {"x": np.linspace(-1, 1, 3).reshape(3, 1), "W": np.arange(12.0).reshape(3, 4) / 7,
                                "b": np.array([0.5, -0.5, 1.0, 2.0])}),
    ("tanh(X @ W + b) * y", {"X": np.arange(6.0).reshape(2, 3) / 5, "W": np.linspace(-1, 1, 12).reshape(3, 4),
                             "b": np.array([0.1, 0.2, 0.3, 0.4]), "y": 1.5}),
    ("logsumexp(x * y, axis=1) - max(x, axis=1) + norm(x + 1, axis=1)",
     {"x": np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]), "y": np.array([1.0, 2.0, -1.0])}),
    ("mean(T(A) @ x) + min(A)", {"A": np.array([[1.0, 2.0], [3.0, -4.0], [0.5, 0.25]]), "x": np.array([1.0, -2.0, 3.0])}),
    ("sq(t) = t * t\nnrm(v) = sum(sq(v))\nnrm(x) * sq(y)", {"x": np.array([1.0, -2.0, 0.5]), "y": 1.5}),
    ("clip(x, lo, 1) + atan2(x, 2) * hypot(x, lo) + xlogy(x, 3)", {"x": np.array([0.25, 0.5, 2.0]), "lo": 0.3}),
])
def test_arrays_with_broadcasting(source, values):
    _check_jvp(source, values, np.random.default_rng(zlib.crc32(source.encode())))


def test_big_arrays_take_the_lean_pass_with_the_careful_numbers():
    rng = np.random.default_rng(1)
    values = {"w0": 0.7, "x0": rng.normal(size=100_000), "w1": -1.3, "x1": rng.normal(size=100_000), "w2": 0.2}
    tangents = {"w0": 0.5, "x0": rng.normal(size=100_000)}
    graph = gradcli.parse(NEURON)
    lean, careful = jvp(graph, values, tangents), jvp(graph, values, tangents, trace=True)
    z = 0.7 * values["x0"] - 1.3 * values["x1"] + 0.2
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(lean.tangent, s * (1 - s) * (values["x0"] * 0.5 + 0.7 * tangents["x0"]), rtol=1e-12)
    np.testing.assert_allclose(lean.tangent, careful.tangent, rtol=1e-13)
    assert lean._records is None  # (untraced: made when read)
    assert [r.node.label for r in lean.records] == [r.node.label for r in careful.records]
    np.testing.assert_allclose(lean.records[-1].tangent, lean.tangent, rtol=1e-13)
    assert values["x0"].shape == (100_000,) and not lean.warnings
    # an input changed in place before the records are read: refused, not other numbers shown
    again = jvp(graph, values, tangents, trace=False)
    values["x0"][0] += 1.0
    with pytest.raises(gradcli.GradcliError, match="changed before the records were read"):
        again.records


@pytest.mark.parametrize("x", [1.0, -1.0, 2.5, "array"])
def test_in_place_times_equal_the_op_formulas(x):
    """Op.in_place.times (the lean pass's tangent multiplied by a local in its own array) gives
    local × t, the local from the op's formula (Op.locals); None where it declines."""
    rng = np.random.default_rng(7)
    for name, op in OPS.items():
        kernel = op.in_place
        if kernel is None or kernel.times is None:
            continue
        y = rng.uniform(0.5, 2.0, 5) * rng.choice([-1.0, 1.0], 5)
        xs = rng.normal(size=5) if x == "array" else np.float64(x)
        args = [xs, y][:op.arity]
        ans = op.forward(*args)
        for index in range(op.arity):
            t = rng.normal(size=5)
            mine = t.copy()
            factor = kernel.times(index, mine, ans, *args)
            if factor is None:
                continue
            np.testing.assert_allclose(mine * factor, op.locals[index](ans, *args) * t, rtol=1e-14, err_msg=name)


@pytest.mark.parametrize("source, expected", [
    ("x * x", lambda x: 2 * x),
    ("u = exp(x)\nu * u", lambda x: 2 * np.exp(2 * x)),
    ("u = -x * 3\nv = u * u\nv / u + sin(u) * 2", lambda x: -3 + 2 * np.cos(-3 * x) * -3),
    ("u = x * 0.5\nexp(u) * u + u", lambda x: 0.5 * np.exp(x / 2) * (1 + x / 2) + 0.5),
    # a divisor's tangent that dies at the division, multiplied by its local in place
    ("1 / (x * x + 1)", lambda x: -2 * x / (x * x + 1) ** 2),
    ("-1 / (x * x + 1)", lambda x: 2 * x / (x * x + 1) ** 2),
    ("exp(x) / (x * x + 2)", lambda x: np.exp(x) / (x * x + 2) - np.exp(x) * 2 * x / (x * x + 2) ** 2),
])
def test_the_lean_pass_with_shared_and_reused_arrays(source, expected):
    # the lean pass writes into arrays that die at a gate: a node read twice must not be
    # overwritten before its second reading
    x = np.linspace(-1.0, 1.0, 6)  # (not 0: v/u)
    for trace in (False, True):
        r = run(source, {"x": x}, {"x": np.ones(6)}, trace=trace)
        np.testing.assert_allclose(r.tangent, expected(x), rtol=1e-13, err_msg=source)
        r = run(source, {"x": x}, {"x": np.full(6, 2.0)}, trace=trace)
        np.testing.assert_allclose(r.tangent, 2 * expected(x), rtol=1e-13, err_msg=source)
    assert x.tolist() == np.linspace(-1.0, 1.0, 6).tolist()  # the caller's array is untouched


def test_random_programs_lean_and_careful_agree_with_reverse_mode():
    """Random expression trees over the registry's elementwise ops (tests/exprtrees.py) on arrays
    and a broadcast scalar: the lean and careful passes give the same numbers and warnings, and
    sum(JVP(t)) = <∇sum(f), t> from the reverse engine; `any_tree` (odd constants, no domain
    care) holds the passes together where nan and inf appear."""
    import random

    from exprtrees import any_tree, safe_tree, text

    rng = random.Random(14)
    data = np.random.default_rng(14)
    for i in range(120):
        tree = safe_tree(rng, 4) if i % 2 == 0 else any_tree(rng, 3)
        source = text(tree)
        graph = gradcli.parse(source)
        values = {"x": data.uniform(-2, 2, 4), "y": float(data.uniform(-2, 2)), "z": data.uniform(-2, 2, 4)}
        values = {k: v for k, v in values.items() if k in graph.variables}
        tangents = {k: (float(data.normal()) if np.ndim(v) == 0 else data.normal(size=4)) for k, v in values.items()}
        careful = jvp(graph, values, tangents, trace=True)
        lean = jvp(graph, values, tangents, trace=False)
        assert lean.warnings == careful.warnings, source
        np.testing.assert_allclose(lean.value, careful.value, rtol=1e-13, atol=0, equal_nan=True, err_msg=source)
        finite = np.abs(careful.tangent)[np.isfinite(careful.tangent)]
        scale = max(1.0, float(np.max(finite))) if finite.size else 1.0  # (cancellation: to rounding)
        np.testing.assert_allclose(lean.tangent, careful.tangent, rtol=1e-11, atol=1e-13 * scale, equal_nan=True,
                                   err_msg=source)
        if i % 3 == 0:  # scalars: the float pass against the NumPy careful pass, gate by gate
            scalars = {k: float(np.ravel(v)[0]) for k, v in values.items()}
            ts = {k: float(np.ravel(v)[0]) for k, v in tangents.items()}
            floats = jvp(graph, scalars, ts)
            numpy_side = []
            value, tangent, records = forward._careful(
                graph, {k: np.asarray(v) for k, v in scalars.items()}, ts, numpy_side, True)
            assert floats.warnings == [d.message for d in numpy_side], source
            assert len(floats.records) == len(records)
            for mine, theirs in zip(floats.records, records):
                np.testing.assert_allclose([mine.value, mine.tangent], [theirs.value, theirs.tangent],
                                           rtol=1e-12, atol=1e-300, equal_nan=True, err_msg=source)
        reverse = graph.evaluate(values, trace=False)
        if careful.warnings or reverse.warnings or not np.all(np.abs(careful.tangent) < 1e8):
            continue  # (reverse mode's 0·inf = nan where forward mode's zero tangent counts 0)
        adjoint = sum(float(np.sum(np.asarray(reverse.gradients[k]) * tangents[k])) for k in values)
        assert float(np.sum(careful.tangent)) == pytest.approx(adjoint, rel=1e-9, abs=1e-9), source


# -- 0·∞, kinks, nan and inf --------------------------------------------------------------------------

def test_a_zero_tangent_times_an_infinite_slope_is_zero():
    # sqrt's slope at 0 is inf: along y alone (x has no tangent) f' = 1, finite, no warning
    r = run("sqrt(x) + y", {"x": 0.0, "y": 1.0}, {"y": 1.0})
    assert (r.value, r.tangent, r.warnings) == (1.0, 1.0, [])
    # a tangent of 0 given for x: still 0·inf = 0, in either pass
    for trace in (True, False):
        assert run("sqrt(x) + y", {"x": 0.0, "y": 1.0}, {"x": 0.0, "y": 1.0}, trace=trace).tangent == 1.0
        arrays = run("sqrt(x)", {"x": [0.0, 4.0]}, {"x": [0.0, 1.0]}, trace=trace)
        assert arrays.tangent.tolist() == [0.0, 0.25] and arrays.warnings == []
    # moving x at 0: the tangent is inf, and the gate is named
    moved = run("sqrt(x) + y", {"x": 0.0, "y": 1.0}, {"x": 1.0})
    assert moved.tangent == math.inf
    assert moved.warnings == ["the tangent of gate 'sqrt(x)' (sqrt, line 1, column 1) is inf"]


def test_kinks_use_reverse_modes_convention_and_warning():
    for source, values in [("relu(x) * y", {"x": 0.0, "y": 2.0}), ("abs(x - 1) + x", {"x": 1.0}),
                           ("max(x) * 2", {"x": [1.0, 3.0, 3.0]}), ("norm(x)", {"x": [0.0, 0.0]})]:
        graph = gradcli.parse(source)
        reverse = graph.evaluate(values)
        name = next(iter(values))
        unit = np.ones(np.shape(values[name]))
        for trace in (True, False):
            r = jvp(graph, values, {name: unit}, trace=trace)
            assert r.warnings == reverse.warnings and any("is at its kink" for w in r.warnings), source
            # the convention's slope: the JVP along the variable is the reverse gradient's sum
            assert np.sum(r.tangent) == pytest.approx(np.sum(reverse.gradients[name]), abs=1e-15), source
    # relu'(0) = 0: along x the tangent is 0; along y it is relu(0) = 0 too
    assert run("relu(x) * y", {"x": 0.0, "y": 2.0}, {"x": 1.0}).tangent == 0.0
    # a gate at its kink that no variable with a value reaches: no warning, as in reverse mode
    assert run("relu(0) + x", {"x": 1.0}, {"x": 1.0}).warnings == gradcli.evaluate("relu(0) + x", x=1.0).warnings


def test_kink_and_domain_warnings_equal_reverse_modes():
    """Over every op at edge values (0, ±1e-310, ±1e308, ±inf, nan, …) and the engine's composite
    cases: jvp's warnings are the reverse engine's, in order (notes, unused values, the values'
    nan/inf, the gates that produced nan/inf, the kinks), its own only added after them."""
    from test_paths_agree import COMPOSITES, _array_programs, _elementwise_programs

    def forward_part(warnings):
        return [w for w in warnings if not w.startswith(("the gradient from gate", "the gradients arriving"))]

    checked = 0
    for program, values in [*_elementwise_programs(), *_array_programs(), *COMPOSITES]:
        graph = gradcli.parse(program)
        try:
            expected = forward_part(graph.evaluate(values, trace=True).warnings)
        except gradcli.GradcliError:
            continue
        name = next(iter(graph.variables))
        tangent = {name: np.ones(np.shape(values[name]))}
        for trace in (True, False):
            got = jvp(graph, values, tangent, trace=trace)
            assert [w for w in got.warnings if not w.startswith("the tangent of gate")] == expected, program
        checked += 1
    assert checked > 300


def test_nan_inf_and_unused_values_warn_as_in_reverse_mode():
    r = run("x * 2", {"x": [math.nan, 1.0], "y": 3.0}, {"x": [1.0, 1.0]})
    assert r.warnings[:2] == gradcli.evaluate("x * 2", x=[math.nan, 1.0], y=3.0).warnings[:2]
    assert r.warnings[0] == "a value was given for 'y', which the expression does not use"
    assert r.warnings[1] == "the value of 'x' holds nan"
    # exp overflows: the domain warning, then where the tangent became inf
    big = run("exp(x)", {"x": 710.0}, {"x": 1.0})
    assert big.warnings == ["gate 'exp(x)' (exp, line 1, column 1) produced inf from finite inputs",
                            "the tangent of gate 'exp(x)' (exp, line 1, column 1) is inf"]
    # a finite f whose tangent overflows: named, and only where it starts
    t = run("x * 1e300 * 1e10 + 1", {"x": 1.0}, {"x": 1.0})
    assert t.value == math.inf or t.warnings[-1].startswith("the tangent of gate 'x * 1e300 * 1e10'")


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_a_value_and_its_tangent_checked_in_one_pass_still_warn_and_refuse(bad):
    """jvp checks a value and its tangent together (one dot product): a nan or inf in the value
    still warns as reverse mode does, whatever the tangent holds there (0 included), and one in
    the tangent is still refused."""
    x = np.linspace(-1.0, 1.0, 8)
    x[3] = bad
    for t3 in (0.0, 1.0, -1e308):
        t = np.ones(8)
        t[3] = t3
        r = run("exp(-x * x) * 2 + y", {"x": x, "y": np.arange(8.0)}, {"x": t, "y": np.ones(8)})
        expected = gradcli.evaluate("exp(-x * x) * 2 + y", x=x, y=np.arange(8.0)).warnings
        assert r.warnings[:1] == expected[:1] and expected[0] == f"the value of 'x' holds {bad}"
    t = np.ones(8)
    t[5] = bad
    with pytest.raises(gradcli.ValueFormatError, match="must be finite"):
        run("x * 2", {"x": np.linspace(-1.0, 1.0, 8)}, {"x": t})
    r = run("x * 2", {"x": np.full(8, 1e200)}, {"x": np.full(8, 1e200)})  # (the dot overflows: looked into)
    assert r.warnings == [] and r.tangent.tolist() == [2e200] * 8


# -- n columns at once ---------------------------------------------------------------------------------

def test_tangent_columns_are_single_jvps():
    source = "tanh(X @ W + b) * s + mean(X)"
    rng = np.random.default_rng(3)
    values = {"X": rng.normal(size=(4, 3)), "W": rng.normal(size=(3, 2)), "b": rng.normal(size=2), "s": 0.5}
    graph = gradcli.parse(source)
    n = 5
    seeds = {"X": rng.normal(size=(4, 3, n)), "s": rng.normal(size=(n,)), "b": rng.normal(size=(2, n))}
    value, columns, diagnostics = tangent_columns(graph, {k: np.asarray(v) for k, v in values.items()}, seeds, n)
    assert columns.shape == (4, 2, n) and diagnostics == []
    for c in range(n):
        single = jvp(graph, values, {name: seed[..., c] for name, seed in seeds.items()})
        np.testing.assert_allclose(single.value, value, rtol=0, atol=0)
        np.testing.assert_allclose(columns[..., c], single.tangent, rtol=1e-13, atol=1e-15)
    # the identity as seeds: the Jacobian's columns, against the reverse engine's rows
    eye = np.eye(3).reshape(3, 3)
    _, jac, _ = tangent_columns(gradcli.parse("sin(x) * sum(x)"), {"x": np.array([0.5, 1.0, 2.0])}, {"x": eye}, 3)
    for i in range(3):
        row = gradcli.parse("sum(e * sin(x) * sum(x))").evaluate({"x": [0.5, 1.0, 2.0], "e": np.eye(3)[i]})
        np.testing.assert_allclose(jac[i], row.gradients["x"], rtol=1e-13)
    with pytest.raises(gradcli.ShapeError):
        tangent_columns(graph, values, {"X": np.zeros((4, 3))}, n)
    with pytest.raises(gradcli.GradcliError, match="not a variable"):
        tangent_columns(graph, values, {"Z": np.zeros((n,))}, n)


_PRODUCT_SHAPES = [((3,), (3,)), ((3,), (3, 2)), ((4, 3), (3,)), ((4, 3), (3, 2)), ((1, 3), (3, 1))]


@pytest.mark.parametrize("op", ["a @ b", "dot(a, b)"])
@pytest.mark.parametrize("shapes", _PRODUCT_SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("moved", ["a", "b", "ab"])
def test_a_products_tangent_columns_in_one_call(op, shapes, moved):
    """@ and dot take all n tangent columns in one product (the column axis folded into b's
    columns, or into a's rows): column c equals the single JVP along it, which equals a central
    difference (exact up to rounding for a product, linear in each side), in every shape case and
    with the tangent on either side or both."""
    rng = np.random.default_rng(zlib.crc32(f"{op}{shapes}{moved}".encode()))
    values = {"a": rng.normal(size=shapes[0]), "b": rng.normal(size=shapes[1])}
    n = 4
    seeds = {name: rng.normal(size=values[name].shape + (n,)) for name in moved}
    graph = gradcli.parse(op)
    value, columns, diagnostics = tangent_columns(graph, values, seeds, n)
    f = graph.evaluate(values, trace=False).value
    assert diagnostics == [] and np.shape(columns) == np.shape(f) + (n,)
    np.testing.assert_allclose(value, f, rtol=0, atol=0)
    h = 1e-3
    for c in range(n):
        t = {name: seed[..., c] for name, seed in seeds.items()}
        single = jvp(graph, values, t)
        np.testing.assert_allclose(columns[..., c], single.tangent, rtol=1e-13, atol=1e-14)
        plus = graph.evaluate({k: v + h * t[k] if k in t else v for k, v in values.items()}, trace=False).value
        minus = graph.evaluate({k: v - h * t[k] if k in t else v for k, v in values.items()}, trace=False).value
        np.testing.assert_allclose(single.tangent, (np.asarray(plus) - np.asarray(minus)) / (2 * h),
                                   rtol=1e-8, atol=1e-10)


def test_a_products_columns_with_a_non_finite_other_side_keep_zero_times_inf():
    """A non-finite other input keeps the Jacobian's way: a zero tangent times inf counts 0."""
    graph = gradcli.parse("a @ b")
    values = {"a": np.array([[math.inf, 1.0], [2.0, 3.0]]), "b": np.array([1.0, 2.0])}
    seeds = {"b": np.array([[0.0, 1.0], [1.0, 0.0]])}  # columns e₂ and e₁
    _, columns, _ = tangent_columns(graph, values, seeds, 2)
    np.testing.assert_array_equal(columns, [[1.0, math.inf], [3.0, 2.0]])  # (not nan: a[1] is finite)
    # the tangent on a (a vector) against b with an inf: only b's finite column moves with a zero
    graph = gradcli.parse("dot(a, b)")
    values = {"a": np.array([1.0, 2.0]), "b": np.array([[math.inf, 1.0], [2.0, 3.0]])}
    _, columns, _ = tangent_columns(graph, values, {"a": np.array([[0.0, 1.0], [1.0, 0.0]])}, 2)
    np.testing.assert_array_equal(columns, [[2.0, math.inf], [3.0, 1.0]])
    for c in range(2):
        single = jvp(graph, values, {"a": np.array([[0.0, 1.0], [1.0, 0.0]])[:, c]})
        np.testing.assert_array_equal(single.tangent, columns[:, c])


# -- hostile input ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("tangents, error, needle", [
    ({"xx": 1.0}, gradcli.GradcliError, "tangent xx: not a variable of the expression with a value"),
    ({"x": [1.0, 2.0]}, gradcli.ShapeError, "tangent x: the tangent is shape (2,), but x is a scalar"),
    ({"y": 1.0}, gradcli.ShapeError, "tangent y: the tangent is a scalar, but y is shape (3,)"),
    ({"x": math.nan}, gradcli.ValueFormatError, "must be finite"),
    ({"y": [1.0, math.inf, 0.0]}, gradcli.ValueFormatError, "must be finite"),
    ({"x": "abc"}, gradcli.ValueFormatError, "the tangent of x"),
    ({"x": [[1.0], [2.0, 3.0]]}, gradcli.ValueFormatError, "not rectangular"),
    ({"pi": 1.0}, gradcli.GradcliError, "tangent pi: not a variable"),
])
def test_hostile_tangents(tangents, error, needle):
    with pytest.raises(error) as caught:
        gradcli.jvp("x * sum(y) * pi", {"x": 1.0, "y": [1.0, 2.0, 3.0]}, tangents)
    assert needle in str(caught.value)
    if "xx" in tangents:
        assert "x" in (caught.value.hint or "")


def test_hostile_calls():
    with pytest.raises(TypeError, match="mapping"):
        gradcli.jvp("x", {"x": 1.0}, [1.0])
    with pytest.raises(gradcli.MissingValueError):
        gradcli.jvp("x * y", {"x": 1.0}, {"x": 1.0})
    with pytest.raises(gradcli.ShapeError):
        gradcli.jvp("x + y", {"x": [1.0, 2.0], "y": [1.0, 2.0, 3.0]}, {"x": [1.0, 1.0]})
    with pytest.raises(gradcli.ValueFormatError):
        gradcli.jvp("x", {"x": "abc"}, {})
    # a named constant with a value given is a variable, and takes a tangent
    assert gradcli.jvp("pi * x", {"x": 2.0, "pi": 3.0}, {"pi": 1.0}).tangent == 2.0


def test_bind_tangents_fills_zeros():
    got = bind_tangents({"x": 2}, {"x": (), "W": (2, 2)})
    assert got["x"] == 2.0 and isinstance(got["x"], float) and got["W"].tolist() == [[0.0, 0.0], [0.0, 0.0]]
    with pytest.raises(TypeError):
        bind_tangents(["x"], {"x": ()})


def test_max_memory_bounds_the_jacobian_of_a_user_function():
    source = "f(v) = sum(v * v)\nf(x)"
    values = {"x": np.ones(2000)}
    assert run(source, values, {"x": np.ones(2000)}).tangent == pytest.approx(4000.0)
    with pytest.raises(gradcli.ResourceError):
        run(source, values, {"x": np.ones(2000)}, max_memory=10_000)


def test_the_readme_example_runs_and_shows_its_numbers():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Forward mode: `gradcli.jvp`", 1)[1]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict = {}
    exec(compile(block, "README.md", "exec"), scope)  # noqa: S102 (our own README)
    # the numbers its comments show
    assert (scope["f"], scope["df"]) == (-12.0, 2.0)
    assert repr(scope["last"].products) == "(0.0, -0.19661193324148188)"
    r = scope["r"]
    assert np.array_equal(np.round(r.tangent, 8), [0.78644773, 1.25992302])
    for line in block.splitlines():
        if line.startswith("gradcli.jvp(") and "# 1.0" in line:
            assert eval(line.split("#")[0], scope) == 1.0  # noqa: S307


def test_a_linear_non_elementwise_gate_reads_as_the_op_of_the_tangent():
    # T(A) @ v with dA = [[0,1],[0,0]], dv = [1,0]: d(T(A)) = T(dA) = [[0,0],[1,0]];
    # d(T(A) @ v) = dT @ v + T(A) @ dv = [0,1] + [1,2] = [1,3]; d sum = 4 (by hand)
    result = gradcli.jvp("sum(T(A) @ v)", {"A": [[1, 2], [3, 4]], "v": [1, 1]},
                         {"A": [[0, 1], [0, 0]], "v": [1, 0]})
    transpose, product, total = result.records
    assert transpose.locals == ("jvp: T(da)",)
    assert product.locals == ("jvp: da @ b", "jvp: a @ db")
    assert total.locals == ("1 for each element",)
    assert product.products[0].tolist() == [0.0, 1.0] and product.products[1].tolist() == [1.0, 2.0]
    assert result.tangent == 4.0
