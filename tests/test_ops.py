"""The op registry, driven by one SPEC table (JAX's op-test style).

Every op in gradcli.core.ops.OPS needs a SPEC row saying where its inputs may be drawn from; each local
gradient is then checked against central differences of the op's own forward function, at random
points (fixed seeds) for scalars, arrays and broadcast arrays. Adding an op without a SPEC row
fails `test_every_op_has_a_spec_row`.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pytest

import gradcli
from gradcli.core.ops import CONSTANTS, FUNCTIONS, OPS, OVERLOADS

from conftest import numeric_gradients

# -- where inputs are drawn from: one or more intervals -----------------------------------------
ANY = ((-3.0, 3.0),)
POSITIVE = ((0.1, 5.0),)
AWAY_FROM_0 = ((-3.0, -0.1), (0.1, 3.0))  # kinks (relu, abs) and poles (1/y) at 0


@dataclass(frozen=True)
class Spec:
    domains: tuple  # one per input: a tuple of (low, high) intervals
    distinct: bool = False  # the inputs must differ by at least 0.1 (a tie is max/min's kink)
    # ops that are not elementwise: (input shapes, keyword params) to check the vjp at
    cases: tuple = ()


# Shapes for the ops that are not elementwise: vectors, matrices, a (1, n) row, every axis.
REDUCTION_CASES = (
    (((),), {}), (((5,),), {}), (((2, 3),), {}), (((1, 4),), {}),
    (((5,),), {"axis": 0}), (((2, 3),), {"axis": 0}), (((2, 3),), {"axis": 1}),
    (((2, 3),), {"axis": -1}), (((1, 4),), {"axis": 0}), (((2, 3, 2),), {"axis": 1}),
)
PRODUCT_CASES = (
    (((3,), (3,)), {}), (((2, 3), (3,)), {}), (((3,), (3, 2)), {}), (((2, 3), (3, 4)), {}),
    (((1, 3), (3, 1)), {}), (((4, 1), (1, 3)), {}),
)
TRANSPOSE_CASES = ((((),), {}), (((4,),), {}), (((2, 3),), {}), (((1, 4),), {}))


SPEC: dict[str, Spec] = {
    "add": Spec((ANY, ANY)),
    "sub": Spec((ANY, ANY)),
    "mul": Spec((ANY, ANY)),
    "div": Spec((ANY, AWAY_FROM_0)),
    "neg": Spec((ANY,)),
    "pow": Spec((((0.2, 3.0),), ((-2.5, 2.5),))),  # base positive: x^y·ln x needs x > 0
    "exp": Spec((ANY,)),
    "log": Spec((POSITIVE,)),
    "sqrt": Spec((POSITIVE,)),
    "sin": Spec((ANY,)),
    "cos": Spec((ANY,)),
    "tan": Spec((((-1.3, 1.3),),)),  # poles at ±π/2
    "tanh": Spec((ANY,)),
    "sigmoid": Spec((((-6.0, 6.0),),)),
    "softplus": Spec((((-6.0, 6.0),),)),
    "relu": Spec((AWAY_FROM_0,)),
    "abs": Spec((AWAY_FROM_0,)),
    "max": Spec((ANY, ANY), distinct=True),
    "min": Spec((ANY, ANY), distinct=True),
    "sum": Spec((ANY,), cases=REDUCTION_CASES),
    "mean": Spec((ANY,), cases=REDUCTION_CASES),
    "amax": Spec((ANY,), cases=REDUCTION_CASES),  # continuous draws: no ties (the kink)
    "amin": Spec((ANY,), cases=REDUCTION_CASES),
    "norm": Spec((AWAY_FROM_0,), cases=REDUCTION_CASES),
    "logsumexp": Spec((ANY,), cases=REDUCTION_CASES),
    "dot": Spec((ANY, ANY), cases=PRODUCT_CASES),
    "matmul": Spec((ANY, ANY), cases=PRODUCT_CASES),
    "T": Spec((ANY,), cases=TRANSPOSE_CASES),
    "sinh": Spec((ANY,)),
    "cosh": Spec((ANY,)),
    "sign": Spec((AWAY_FROM_0,)),
    # issue 12's functions
    "atan2": Spec((ANY, AWAY_FROM_0)),  # its cut (0, negative) and the origin stay out of reach
    "hypot": Spec((AWAY_FROM_0, ANY)),  # the origin (its kink) too
    "log1p": Spec((((-0.9, 5.0),),)),
    "expm1": Spec((ANY,)),
    "log2": Spec((POSITIVE,)),
    "log10": Spec((POSITIVE,)),
    "atan": Spec((ANY,)),
    "asin": Spec((((-0.95, 0.95),),)),
    "acos": Spec((((-0.95, 0.95),),)),
    "clip": Spec((ANY, ANY, ANY), distinct=True),  # below, inside and above, and lo > hi
    "xlogy": Spec((ANY, POSITIVE)),
    "erf": Spec((ANY,)),
    "step": Spec((AWAY_FROM_0,)),
    "equal": Spec((ANY, ANY), distinct=True),
    "expand_as": Spec((ANY, ANY), cases=(
        (((), (4,)), {}), (((3,), (2, 3)), {}), (((1, 3), (2, 3)), {}), (((2, 3), (2, 3)), {}),
        (((2,), (2, 3)), {"axis": 1}), (((3,), (2, 3)), {"axis": 0}), (((), (5,)), {"axis": 0}))),
    "sum_as": Spec((ANY, ANY), cases=(
        (((4,), ()), {}), (((2, 3), (3,)), {}), (((2, 3), (1, 3)), {}), (((2, 3), (2, 3)), {}),
        (((2, 3), (2,)), {"axis": 1}), (((2, 3), (3,)), {"axis": 0}))),
    "size": Spec((ANY,), cases=REDUCTION_CASES),
    "max_weights": Spec((ANY,), cases=REDUCTION_CASES),  # continuous draws: no ties
    "min_weights": Spec((ANY,), cases=REDUCTION_CASES),
    # (the derivative, the expression): a scalar expression's derivative passes through unchanged
    "diff": Spec((ANY, ANY)),
    "scalar": Spec((ANY,), cases=((((),), {}),)),
    # (g, a, b): g has the shape of a @ b
    "matmul_vjp_a": Spec((ANY, ANY, ANY), cases=tuple(
        ((out, a, b), {}) for a, b, out in (((3,), (3,), ()), ((2, 3), (3,), (2,)), ((3,), (3, 2), (2,)),
                                           ((2, 3), (3, 4), (2, 4)), ((4, 1), (1, 3), (4, 3))))),
    "matmul_vjp_b": Spec((ANY, ANY, ANY), cases=tuple(
        ((out, a, b), {}) for a, b, out in (((3,), (3,), ()), ((2, 3), (3,), (2,)), ((3,), (3, 2), (2,)),
                                           ((2, 3), (3, 4), (2, 4)), ((4, 1), (1, 3), (4, 3))))),
}

# Input shapes tried for each arity; the binary ones include broadcasting.
SHAPES = {
    1: [((),), ((5,),), ((2, 3),), ((1, 4),)],
    2: [((), ()), ((4,), (4,)), ((), (3,)), ((3,), ()), ((3,), (2, 1)), ((2, 1, 3), (4, 1)),
        ((1, 4), (3, 4)), ((2, 3), (1, 3))],  # a (1, n) row broadcast over a matrix, both sides
    3: [((), (), ()), ((4,), (4,), (4,)), ((5,), (), ()), ((), (3,), ()), ((), (), (3,)),
        ((3,), (2, 1), ()), ((2, 3), (1, 3), (2, 1))],
}
POINTS = 4  # random points per shape
H = 1e-6
RTOL = 1e-6
ATOL = 1e-8


def test_every_op_has_a_spec_row():
    missing = sorted(set(OPS) - set(SPEC))
    assert not missing, f"ops without a SPEC row in tests/test_ops.py (add one): {missing}"


def test_every_spec_row_names_an_op():
    unknown = sorted(set(SPEC) - set(OPS))
    assert not unknown, f"SPEC rows for ops that gradcli.core.ops.OPS does not have: {unknown}"


@pytest.mark.parametrize("name", sorted(OPS))
def test_registry_entry_is_consistent(name):
    op = OPS[name]
    assert op.name == name
    assert op.arity in (1, 2, 3)
    if op.elementwise:
        assert len(op.locals) == op.arity
        assert not op.params, "keyword params are for ops with a vjp"
    else:
        assert op.locals == (), "an op with a vjp has no elementwise local gradients"
    assert len(op.formulas) == op.arity
    assert op.symbol and op.role
    if name in SPEC:
        assert len(SPEC[name].domains) == op.arity, "the SPEC row has one domain per input"
        assert bool(SPEC[name].cases) == (not op.elementwise), "ops with a vjp list their shape cases"
    if op.callable:
        assert OVERLOADS[op.call_name][op.arity] is op
        if not op.call:
            assert FUNCTIONS[name] is op
    else:
        assert name not in FUNCTIONS
    if op.kink_offset is not None:
        assert op.kink_rule, "an op with a kink states its convention"
    if op.ufunc is not None:
        assert op.arity <= 2, "the untraced engine writes a ufunc's output for one or two inputs"


def test_functions_are_callable_ops():
    for name, op in FUNCTIONS.items():
        assert OPS[name] is op and op.callable
    assert CONSTANTS["pi"] == pytest.approx(np.pi, rel=1e-15)
    assert CONSTANTS["e"] == pytest.approx(np.e, rel=1e-15)


def _draw(rng, domain, shape):
    """Uniform draws from a union of intervals (each element picks an interval at random)."""
    lows = np.array([lo for lo, _ in domain])
    highs = np.array([hi for _, hi in domain])
    which = rng.integers(0, len(domain), size=shape)
    return lows[which] + (highs[which] - lows[which]) * rng.random(shape)


def _points(name, shapes):
    spec = SPEC[name]
    rng = np.random.default_rng(zlib.crc32(f"{name}{shapes}".encode()))
    for _ in range(POINTS):
        for _attempt in range(1000):
            inputs = [_draw(rng, domain, shape) for domain, shape in zip(spec.domains, shapes)]
            if not spec.distinct or all(np.all(np.abs(np.subtract(a, b)) >= 0.1)
                                        for i, a in enumerate(inputs) for b in inputs[i + 1:]):
                break
        else:  # pragma: no cover - the domains leave plenty of room
            raise AssertionError("could not draw distinct inputs")
        yield [x if x.shape else np.float64(x) for x in inputs]


def _cases():
    for name in sorted(OPS):
        if name not in SPEC or not OPS[name].elementwise:
            continue  # reported by test_every_op_has_a_spec_row
        for shapes in SHAPES[OPS[name].arity]:
            yield pytest.param(name, shapes, id=f"{name}-{'-'.join(str(s) for s in shapes)}")


@pytest.mark.parametrize("name, shapes", list(_cases()))
def test_local_gradients_match_finite_differences(name, shapes):
    op = OPS[name]
    for inputs in _points(name, shapes):
        ans = op.forward(*inputs)
        full = np.broadcast_shapes(*(np.shape(x) for x in inputs))
        assert np.shape(ans) == full
        assert np.all(np.isfinite(ans))
        for index in range(op.arity):
            plus = list(inputs)
            minus = list(inputs)
            plus[index] = inputs[index] + H
            minus[index] = inputs[index] - H
            # elementwise ops: shifting every element at once gives each element's derivative
            numeric = (op.forward(*plus) - op.forward(*minus)) / (2 * H)
            local = op.locals[index](ans, *inputs)
            assert np.shape(local) in ((), np.shape(ans)) or \
                np.broadcast_shapes(np.shape(local), full) == full
            np.testing.assert_allclose(
                np.broadcast_to(local, full), numeric, rtol=RTOL, atol=ATOL,
                err_msg=f"{name}: local gradient {index} ({op.formulas[index]}) at inputs {inputs}")


def _vjp_cases():
    for name in sorted(OPS):
        if name in SPEC and not OPS[name].elementwise:
            for shapes, params in SPEC[name].cases:
                label = "-".join(str(s) for s in shapes) + "".join(f"-{k}={v}" for k, v in params.items())
                yield pytest.param(name, shapes, params, id=f"{name}-{label}")


@pytest.mark.parametrize("name, shapes, params", list(_vjp_cases()))
def test_vjp_matches_finite_differences(name, shapes, params):
    """vjp(g) is the gradient of sum(g · forward(inputs)): check it element by element."""
    op = OPS[name]
    rng = np.random.default_rng(zlib.crc32(f"vjp{name}{shapes}{params}".encode()))
    for inputs in _points(name, shapes):
        inputs = [np.asarray(x, dtype=np.float64) for x in inputs]
        ans = op.forward(*inputs, **params)
        assert np.all(np.isfinite(ans))
        g = rng.uniform(-2.0, 2.0, size=np.shape(ans))
        for index in range(op.arity):
            numeric = np.zeros(inputs[index].shape)
            for element in np.ndindex(inputs[index].shape):
                plus = [x.copy() for x in inputs]
                minus = [x.copy() for x in inputs]
                plus[index][element] += H
                minus[index][element] -= H
                numeric[element] = np.sum(g * (op.forward(*plus, **params) - op.forward(*minus, **params))) / (2 * H)
            analytic = op.vjp(g, ans, *inputs, index=index, **params)
            assert np.shape(analytic) == inputs[index].shape
            np.testing.assert_allclose(analytic, numeric, rtol=RTOL, atol=1e-7,
                                       err_msg=f"{name}: vjp {index} ({op.formulas[index]}) at {inputs}")


def test_reduction_ties_split_the_gradient():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 0.0]])
    assert OPS["amax"].kink(x) and OPS["amin"].kink(x, axis=1)
    assert not OPS["amax"].kink(x, axis=0) and not OPS["amin"].kink(x, axis=0)
    g = np.array([1.0, 2.0])
    np.testing.assert_allclose(OPS["amax"].vjp(g, np.max(x, axis=1), x, index=0, axis=1),
                               [[0, 0.5, 0.5], [2, 0, 0]])
    np.testing.assert_allclose(OPS["amin"].vjp(g, np.min(x, axis=1), x, index=0, axis=1),
                               [[1, 0, 0], [0, 1, 1]])
    assert OPS["norm"].kink(np.zeros(3)) and not OPS["norm"].kink(np.ones(3))
    np.testing.assert_array_equal(OPS["norm"].vjp(1.0, 0.0, np.zeros(3), index=0), [0.0, 0.0, 0.0])


# Ops whose kink is no tie of two inputs nor 0 of one: (inputs at a kink, inputs off it, and two
# points just on either side of one, below first)
KINKS = {
    "hypot": ([(0.0, 0.0), ([1.0, 0.0], [3.0, 0.0])], [(1.5, 1.5), (0.0, 2.0), (-2.0, 0.0)],
              ((-1e-5, 0.0), (1e-5, 0.0))),
    # the origin and the cut along which atan2(x, y) jumps by 2π: x = 0, y < 0
    "atan2": ([(0.0, 0.0), (0.0, -2.0), ([1.0, -0.0], [1.0, -3.0])], [(1.5, 1.5), (0.0, 2.0), (-1.0, -2.0)],
              ((-1e-5, -2.0), (1e-5, -2.0))),
    # ties of min(max(x, lo), hi): x = lo ≤ hi, max(x, lo) = hi
    "clip": ([(0.5, 0.5, 1.0), (1.0, 0.5, 1.0), (0.0, 1.0, 1.0), (3.0, 1.0, 3.0), ([0.7, 1.0], 0.5, 1.0)],
             [(0.7, 0.5, 1.0), (2.0, 1.0, 1.0), (0.2, 0.5, 0.3), (0.5, 0.5, 0.3), ([0.7, 0.9], 0.5, 1.0)],
             ((0.5 - 1e-5, 0.5, 1.0), (0.5 + 1e-5, 0.5, 1.0))),
}


@pytest.mark.parametrize("name", sorted(n for n in OPS if OPS[n].kink_offset is not None))
def test_kink_detection(name):
    op = OPS[name]
    if name in KINKS:
        at, off, (low, high) = KINKS[name]
        for inputs in at:
            assert op.at_kink(*[np.asarray(v, dtype=np.float64) for v in inputs]), inputs
        for inputs in off:
            assert not op.at_kink(*[np.asarray(v, dtype=np.float64) for v in inputs]), inputs
        below, above = op.kink_offset(*map(np.float64, low)), op.kink_offset(*map(np.float64, high))
    elif op.arity == 1:
        assert op.at_kink(np.float64(0.0))
        assert not op.at_kink(np.float64(0.5))
        assert op.at_kink(np.array([1.0, 0.0, -1.0]))
        assert not op.at_kink(np.array([1.0, -1.0]))
        # the offset's sign tells the side: it changes from just below the kink to just above
        below, above = op.kink_offset(np.float64(-1e-5)), op.kink_offset(np.float64(1e-5))
    else:
        assert op.at_kink(np.float64(1.5), np.float64(1.5))
        assert not op.at_kink(np.float64(1.5), np.float64(2.5))
        assert op.at_kink(np.array([1.0, 2.0]), np.array([3.0, 2.0]))
        below = op.kink_offset(np.float64(2.0 - 1e-5), np.float64(2.0))
        above = op.kink_offset(np.float64(2.0 + 1e-5), np.float64(2.0))
    assert np.sign(below) == -1 and np.sign(above) == 1


def test_smooth_ops_have_no_kink():
    for name in ("add", "sub", "mul", "div", "neg", "exp", "log", "sqrt", "sin", "cos", "tanh",
                 "sigmoid"):
        assert OPS[name].kink_offset is None, name
        assert not OPS[name].at_kink(*[np.float64(0.0)] * OPS[name].arity)


def test_sigmoid_is_stable_far_out():
    result = gradcli.evaluate("sigmoid(x)", x=[-1000.0, -40.0, 0.0, 40.0, 1000.0])
    np.testing.assert_allclose(result.value, [0.0, np.exp(-40.0), 0.5, 1.0, 1.0], rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(result.gradients["x"], [0.0, np.exp(-40.0), 0.25, 0.0, 0.0],
                               rtol=1e-9, atol=1e-17)
    assert result.diagnostics == []


def test_pow_exponent_gradient_at_zero_base():
    # d(x^y)/dy = x^y ln x -> 0 as x -> 0+ (y > 0); no nan from 0 · ln 0
    result = gradcli.evaluate("x ** y", x=0.0, y=2.0)
    assert result.value == 0.0
    assert result.gradients["x"] == pytest.approx(0.0, abs=1e-300)
    assert result.gradients["y"] == pytest.approx(0.0, abs=1e-300)


def test_pow_negative_base_integer_exponent():
    result = gradcli.evaluate("x ** 3", x=-2.0)
    assert result.value == pytest.approx(-8.0)
    assert result.gradients["x"] == pytest.approx(12.0)  # 3 x²


# -- end to end: evaluate()'s gradients against central differences of evaluate()'s values ------

COMPOSITES = [
    ("sigmoid(w0*x0 + w1*x1 + w2) * tanh(x0 - w1)",
     {"w0": 0.7, "x0": -1.3, "w1": 0.4, "x1": 2.1, "w2": -0.2}),
    ("log(1 + x**2) + sqrt(y*y + 1) - tan(x/4) * cos(y)", {"x": 1.1, "y": -0.7}),
    ("exp(-x/2) * sin(3*y) / (2 + abs(x))", {"x": -0.9, "y": 0.35}),
    ("relu(x - y) + max(x, y) * min(x, 2*y) - abs(y - 1) + relu(y - x)", {"x": 1.3, "y": 0.4}),
    ("pow(x, 3) - pow(2, y) + x ** y / y ^ 2 - -x", {"x": 1.7, "y": 0.6}),
    ("a = x * y\nb = a + exp(a)\nc = b / (1 + x*x)\nc -= sin(a)\nc *= sigmoid(y)\nc += c\nc",
     {"x": 0.8, "y": -0.45}),
    ("tanh(x * y) + log(1 + x*x) * y - max(x, y) / (2 + min(x, y))",
     {"x": [0.3, -0.5, 1.2], "y": [[0.7], [-1.1]]}),
    ("sqrt(x) * exp(-x) + pi * x - e ** x", {"x": [[0.5, 1.5], [2.5, 3.5]]}),
    ("w * x + b", {"w": [[0.2, -0.4, 1.1], [0.6, 0.9, -1.3]], "x": [0.5, -1.0, 2.0], "b": 0.3}),
    ("softplus(x * y) - softplus(-y) * x", {"x": [0.4, -1.7], "y": 0.9}),
    ("sum(logsumexp(X * y, axis=1)) + logsumexp(X) * y", {"X": [[0.3, -1.2, 0.8], [1.5, 0.1, -0.6]], "y": 0.7}),
    # arrays: reductions, products and the transpose, mixed with broadcasting
    ("h = tanh(W @ x + b); mean((h - y)**2) + 0.1 * norm(W) + sum(T(W) @ h)",
     {"W": [[0.2, -0.4, 1.1], [0.6, 0.9, -1.3]], "x": [0.5, -1.0, 2.0], "b": [0.1, -0.2],
      "y": [0.3, -0.7]}),
    ("sum(max(X, axis=1) + dot(r, T(X))) * sum(min(X, axis=-1)) - max(norm(X, axis=0))",
     {"X": [[0.3, -1.2, 0.8], [1.5, 0.1, -0.6]], "r": [[0.7, -0.3, 1.1]]}),
    ("sum(exp(X) * r, axis=1) @ x * dot(v, v) + min(x) * mean(X)",
     {"X": [[0.1, 0.4], [-0.3, 0.9], [0.5, -0.8]], "r": [[1.0, -2.0]], "v": [0.3, -0.4], "x": [2.0, -1.0, 0.5]}),
    # issue 12's functions
    ("atan2(y, x) * hypot(x, y) + log1p(x*x) - expm1(-y) + log2(x*x + 1) * log10(y*y + 2) + atan(x*y)",
     {"x": 0.6, "y": -1.2}),
    ("asin(x/2) + acos(y/3) * erf(x - y) + xlogy(x, y*y) + clip(x, y, 0.9) + clip(3*x, -1, y + 2)",
     {"x": [0.6, -0.3, 1.4], "y": [[-1.2], [0.2]]}),
    ("sinh(x) * cosh(y) + sign(x) * y + step(x) * x ** 2 + equal(x, y) * y", {"x": 0.6, "y": -1.2}),
    ("diff(x**3 * y, x) + diff(sin(x) * y**2, y, 2) * diff(diff(exp(x * y), x), y)", {"x": 0.6, "y": -1.2}),
    # what derivative graphs are made of
    ("sum(expand_as(sum(X, axis=1), X, axis=1) * X) + sum(sum_as(X * y, r)) / size(X) "
     "+ sum(matmul_vjp_a(v, X, w) ** 2) + sum(sin(matmul_vjp_b(v, X, w))) + sum(max_weights(X, axis=0) * X) "
     "+ sum(min_weights(X) * X)",
     {"X": [[0.1, 0.4], [-0.3, 0.9], [0.5, -0.8]], "r": [[1.0, -2.0]], "y": 0.7, "v": [0.3, -0.4, 1.1],
      "w": [2.0, -1.0]}),
]


@pytest.mark.parametrize("source, values", COMPOSITES, ids=[c[0].split("\n")[0][:30] for c in COMPOSITES])
def test_evaluate_matches_finite_differences(source, values):
    result = gradcli.evaluate(source, values)
    assert not [d for d in result.diagnostics if d.kind in ("kink", "domain")], result.warnings
    numeric = numeric_gradients(source, values)
    assert set(result.gradients) == set(values)
    for name in values:
        analytic = result.gradients[name]
        assert np.shape(analytic) == np.shape(values[name])
        np.testing.assert_allclose(analytic, numeric[name], rtol=1e-6, atol=1e-8, err_msg=name)


def test_composites_use_every_op():
    used = set()
    for source, _ in COMPOSITES:
        used |= {node.op.name for node in gradcli.parse(source).nodes if node.op is not None}
    assert set(OPS) - used == set(), "add an expression using these ops to COMPOSITES"


@pytest.mark.parametrize("source", ["exp(x + 1)", "sqrt(x * x)", "tanh(2 * x)", "sigmoid(x - 1) + x"])
def test_trace_off_keeps_array_gradients_elementwise(source):
    # trace=False frees forward values early; the gradient must still have one entry per element
    values = {"x": [0.5, 1.0, 2.0]}
    graph = gradcli.parse(source)
    traced = graph.evaluate(values).gradients["x"]
    untraced = graph.evaluate(values, trace=False).gradients["x"]
    np.testing.assert_allclose(untraced, traced, rtol=1e-15)
    np.testing.assert_allclose(traced, numeric_gradients(source, values)["x"], rtol=1e-6, atol=1e-8)


def test_trace_off_gives_the_same_numbers():
    for source, values in COMPOSITES:
        graph = gradcli.parse(source)
        traced = graph.evaluate(values, trace=True)
        untraced = graph.evaluate(values, trace=False)
        np.testing.assert_allclose(untraced.value, traced.value, rtol=1e-15)
        for name in values:
            # (a factor carried on an untraced gradient may round once more: an ulp of a sum's terms)
            np.testing.assert_allclose(untraced.gradients[name], traced.gradients[name], rtol=1e-15,
                                       atol=4e-16 * np.max(np.abs(traced.gradients[name]), initial=1.0))


def _in_place_cases():
    for param in _cases():
        name, shapes = param.values
        if OPS[name].in_place is not None:
            yield param


@pytest.mark.parametrize("name, shapes", list(_in_place_cases()))
def test_in_place_locals_equal_the_op_formulas(name, shapes):
    # Op.in_place rearranges `locals` for the untraced engine: local × factor must be the same
    # number, whatever array out() hands it (here a fresh one), and no input may be changed
    op = OPS[name]
    assert op.reads is not None and len(op.reads) == op.arity  # what each local reads is declared
    for inputs in _points(name, shapes):
        ans = op.forward(*inputs)
        full = np.broadcast_shapes(*(np.shape(x) for x in inputs))
        before = [np.copy(x) for x in inputs]
        for index in range(op.arity):
            assert set(op.reads[index]) <= {"ans", *range(op.arity)}
            got = op.in_place.local(index, lambda: np.empty(full), ans, *inputs)
            if got is None:
                continue  # the engine uses op.locals
            local, factor = got
            expected = np.broadcast_to(op.locals[index](ans, *inputs), full)
            np.testing.assert_allclose(np.broadcast_to(np.multiply(local, factor), full), expected,
                                       rtol=1e-13, atol=0, err_msg=f"{name}: input {index}")
            if op.in_place.divisor is not None:  # factor / d, where d does not overflow
                with np.errstate(over="ignore"):
                    d, factor = op.in_place.divisor(index, lambda: np.empty(full), ans, *inputs)
                    finite = np.isfinite(d)
                np.testing.assert_allclose(np.divide(factor, d[finite]), expected[finite], rtol=1e-13, atol=0,
                                           err_msg=f"{name}: divisor {index}")
        for x, saved in zip(inputs, before):
            np.testing.assert_array_equal(x, saved)
