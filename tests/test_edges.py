"""Right numbers at the edges of float64 (issue 11, kind 4).

Every expected number is computed here independently, with mpmath at 200 bits (or by hand where
the answer is a convention, such as 0**0 = 1), and each case runs through every path that
computes gradients: the API traced and untraced (`trace=False`: on scalars the float engine
gradcli.evaluation.scalar_engine, on arrays the NumPy engine's in-place kernels) and the CLI (`--format json`,
which traces, and `--format plain`, which does not). Numbers agree to a few ulps of the right one;
nan and ±inf must match exactly.
"""

from __future__ import annotations

import json
import math

import mpmath
import numpy as np
import pytest

import gradcli

mpmath.mp.prec = 200
mp = mpmath.mpf
NAN = math.nan
INF = math.inf

ULPS = 4  # libm and NumPy's SIMD exp/log are within 1 ulp; each formula adds at most 3 roundings


def _close(got, want, ulps=ULPS) -> bool:
    got, want = float(got), float(want)
    if math.isnan(want) or math.isnan(got):
        return math.isnan(want) and math.isnan(got)
    if math.isinf(want) or math.isinf(got):
        return got == want
    # within `ulps` units in the last place of the right answer (5e-324 around 0)
    return abs(got - want) <= ulps * float(np.spacing(abs(want)))


def assert_close(got, want, what="", ulps=ULPS):
    got_a, want_a = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got_a.shape == want_a.shape, f"{what}: shape {got_a.shape}, want {want_a.shape}"
    bad = [(g, w) for g, w in zip(got_a.ravel(), want_a.ravel()) if not _close(g, w, ulps)]
    assert not bad, f"{what}: got {got_a.tolist()}, want {want_a.tolist()} (off: {bad})"


# -- independent right answers (mpmath) -----------------------------------------------------------

def f64(x) -> float:
    return float(x)


def sigmoid_slope(x):
    # σ(x)·(1 - σ(x)) with 1 - σ(x) = σ(-x), each to 200 bits of relative precision
    return f64(1 / (1 + mpmath.exp(-mp(x))) / (1 + mpmath.exp(mp(x))))


def tanh_slope(x):
    return f64(1 / mpmath.cosh(mp(x)) ** 2)


def sigmoid(x):
    return f64(1 / (1 + mpmath.exp(-mp(x))))


def softplus(x):
    return f64(mpmath.log1p(mpmath.exp(mp(x))))


def pow_slopes(x, y):
    """(x^y, y·x^(y-1), x^y·ln x) for x > 0."""
    x, y = mp(x), mp(y)
    return f64(x ** y), f64(y * x ** (y - 1)), f64(x ** y * mpmath.log(x))


def norm_and_slope(v):
    v = [mp(a) for a in v]
    n = mpmath.sqrt(mpmath.fsum(a * a for a in v))
    return f64(n), [f64(a / n) for a in v]


def logsumexp_and_slope(v):
    v = [mp(a) for a in v]
    total = mpmath.fsum(mpmath.exp(a) for a in v)
    return f64(mpmath.log(total)), [f64(mpmath.exp(a) / total) for a in v]


# -- running one case on every path ---------------------------------------------------------------

def _text(value) -> str:
    if isinstance(value, list):
        return "[" + ",".join(_text(v) for v in value) + "]"
    return repr(float(value))


def _number(value):
    """JSON and plain write nan and inf as the strings "NaN", "Infinity", "-Infinity"."""
    if isinstance(value, list):
        return [_number(v) for v in value]
    return float(value)


def _cli_args(values):
    return [f"{name}={_text(value)}" for name, value in values.items()]


def run_all_paths(cli, source, values):
    """{path: (value, {name: gradient})} for the API (traced, untraced) and the CLI (json, plain)."""
    graph = gradcli.parse(source)
    out = {}
    for trace in (True, False):
        result = graph.evaluate(values, trace=trace)
        out[f"api trace={trace}"] = (result.value, result.gradients)
    result = cli("eval", source, *_cli_args(values), "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    out["cli json"] = (_number(doc["value"]), {k: _number(v) for k, v in doc["gradients"].items()})
    result = cli("eval", source, *_cli_args(values), "--format", "plain")
    assert result.exit_code == 0, result.stderr
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    value = _number(json.loads(lines.pop("f")))
    out["cli plain"] = (value, {k: _number(json.loads(v)) for k, v in lines.items()})
    return out


def check(cli, source, values, value, gradients, ulps=ULPS):
    for path, (got_value, got_gradients) in run_all_paths(cli, source, values).items():
        assert_close(got_value, value, f"{source} at {values}, value, {path}", ulps)
        assert set(got_gradients) == set(gradients), path
        for name, want in gradients.items():
            assert_close(got_gradients[name], want, f"{source} at {values}, ∂{name}, {path}", ulps)


def warnings_of(source, values, trace=True):
    return [d.message for d in gradcli.parse(source).evaluate(values, trace=trace).diagnostics]


# -- pow at 0 and beyond the normal range -----------------------------------------------------------

# 0**0 = 1 (gradcli's convention, as IEEE pow); x**0 = 1 for every x, so its slope is 0 everywhere
POW_CASES = [
    ("x**0", {"x": 0.0}, 1.0, {"x": 0.0}),
    ("x**0", {"x": 1e-310}, 1.0, {"x": 0.0}),
    ("x**0", {"x": [0.0, 1e-310, -3.0, 2.0]}, [1.0] * 4, {"x": [0.0] * 4}),
    ("pow(x, 0)", {"x": 0.0}, 1.0, {"x": 0.0}),
    # ∂x at (0, 0) is 0; ∂y: 0^y is 0 for every y > 0 and 1 at y = 0, and ln x -> -inf as
    # x -> 0+: the slope in y is -inf there (0^0's one-sided drop), and 0 at x = 0 for y > 0
    ("x**y", {"x": 0.0, "y": 0.0}, 1.0, {"x": 0.0, "y": -INF}),
    ("x**y", {"x": [0.0, 0.0, 0.0], "y": [0.0, 1.0, 2.0]}, [1.0, 0.0, 0.0],
     {"x": [0.0, 1.0, 0.0], "y": [-INF, 0.0, 0.0]}),
    ("x**y", {"x": 0.0, "y": 2.0}, 0.0, {"x": 0.0, "y": 0.0}),
    ("x**1", {"x": 0.0}, 0.0, {"x": 1.0}),
    ("x**1", {"x": [0.0, 1e-310]}, [0.0, 1e-310], {"x": [1.0, 1.0]}),
    ("x**0.5", {"x": 0.0}, 0.0, {"x": INF}),  # the one-sided slope of √x at 0
    ("x**2", {"x": 1e-310}, 0.0, {"x": 2e-310}),  # (1e-310)² underflows; 2x does not
    ("x**2", {"x": [1e-310, -1e-310]}, [0.0, 0.0], {"x": [2e-310, -2e-310]}),
    ("x**3", {"x": -2.0}, -8.0, {"x": 12.0}),
    ("x**-2", {"x": -2.0}, 0.25, {"x": 0.25}),
    ("x**-1", {"x": [-2.0, -0.5]}, [-0.5, -2.0], {"x": [-0.25, -4.0]}),
    ("x**3", {"x": [-2.0, -1e-100]}, [-8.0, -1e-300], {"x": [12.0, 3e-200]}),
]


@pytest.mark.parametrize("source, values, value, gradients", POW_CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in POW_CASES])
def test_pow_at_zero_and_small(cli, source, values, value, gradients):
    check(cli, source, values, value, gradients)


def test_pow_slope_of_zero_power_has_no_warning():
    for trace in (True, False):
        assert warnings_of("x**0", {"x": [0.0, 1e-310]}, trace) == []
        assert warnings_of("x**0", {"x": 0.0}, trace) == []


def test_pow_negative_base_has_no_slope_in_the_exponent(cli):
    # (-2)^y is real only at integer y: no derivative in y (nan, with a warning), ∂x = y·x^(y-1)
    check(cli, "x**y", {"x": -2.0, "y": 3.0}, -8.0, {"x": 12.0, "y": NAN})
    assert any("is nan" in w for w in warnings_of("x**y", {"x": -2.0, "y": 3.0}))


# x^(y-1) or x^y out of the normal range, the slope inside it
_X_NEAR_1 = 1.0 - 360 * 2.0**-52  # ln x·2^53 ≈ -720: x^(2^53) is a subnormal e^-720


@pytest.mark.parametrize("x, y", [
    (1e-310, 1e-300),  # x^(y-1) ≈ 1e310 overflows; y·x^(y-1) ≈ 1e10
    (_X_NEAR_1, 2.0**53),  # x^(y-1) ≈ e^-720 (subnormal); y·x^(y-1) ≈ 1.5e-297, normal
    (0.5, 1080.0),  # both subnormal: right to the subnormal's spacing
    (2.0, -1000.0),
    (1.5, 1700.0),
    (1e-5, 1e-300),
    (3.0, 0.5),
    (1e-310, 1e-8),  # y - 1 rounds (to -0.99999999): x^(y-1) would carry that error times ln x
    (1e200, 1e-8),
    (1.0 + 2.0**-52, 1e17),  # y - 1 = y in float64
])
def test_pow_far_out(cli, x, y):
    value, dx, dy = pow_slopes(x, y)
    check(cli, "x**y", {"x": x, "y": y}, value, {"x": dx, "y": dy})
    check(cli, "x**y", {"x": [x, 2.0], "y": y}, [value, f64(mp(2) ** mp(y))],
          {"x": [dx, f64(mp(y) * mp(2) ** (mp(y) - 1))],
           "y": f64(mp(x) ** mp(y) * mpmath.log(x) + mp(2) ** mp(y) * mpmath.log(2))})


@pytest.mark.parametrize("c", [3.0, -2.0, 0.25, 0.3, 1e-8, 1e-300, 40.0, 0.5, 1.5, -1.0])
def test_pow_constant_exponent_far_out(cli, c):
    # the untraced engine's in-place kernel for a constant exponent, beside the general formula
    xs = [1e-310, 1e-160, 0.7, 3.0]
    slope = [f64(mp(c) * mp(x) ** (mp(c) - 1)) for x in xs]
    value = [f64(mp(x) ** mp(c)) for x in xs]
    check(cli, f"x**{c!r}", {"x": xs}, value, {"x": slope})


# -- nan in, nan out ------------------------------------------------------------------------------

NAN_CASES = [
    ("relu(x)", {"x": NAN}, NAN, {"x": NAN}),
    ("relu(x)", {"x": [NAN, 2.0, -1.0]}, [NAN, 2.0, 0.0], {"x": [NAN, 1.0, 0.0]}),
    ("abs(x)", {"x": [NAN, -2.0]}, [NAN, 2.0], {"x": [NAN, -1.0]}),
    ("max(x, y)", {"x": NAN, "y": 1.0}, NAN, {"x": NAN, "y": NAN}),
    ("max(x, y)", {"x": [NAN, 3.0], "y": 1.0}, [NAN, 3.0], {"x": [NAN, 1.0], "y": NAN}),
    ("min(x, y)", {"x": 1.0, "y": NAN}, NAN, {"x": NAN, "y": NAN}),
    ("max(x)", {"x": [NAN, 1.0]}, NAN, {"x": [NAN, NAN]}),
    ("min(x)", {"x": [1.0, NAN]}, NAN, {"x": [NAN, NAN]}),
    ("max(x, axis=1)", {"x": [[NAN, 1.0], [2.0, 3.0]]}, [NAN, 3.0], {"x": [[NAN, NAN], [0.0, 1.0]]}),
    ("x**0", {"x": NAN}, 1.0, {"x": NAN}),  # nan**0 = 1 (IEEE), its slope unknown
    ("x**y", {"x": 1.0, "y": NAN}, 1.0, {"x": NAN, "y": NAN}),  # 1**nan = 1 likewise
    ("sigmoid(x)", {"x": NAN}, NAN, {"x": NAN}),
    ("tanh(x)", {"x": [NAN, 0.0]}, [NAN, 0.0], {"x": [NAN, 1.0]}),
    ("softplus(x)", {"x": NAN}, NAN, {"x": NAN}),
    ("norm(x)", {"x": [NAN, 1.0]}, NAN, {"x": [NAN, NAN]}),
    ("logsumexp(x)", {"x": [NAN, 1.0]}, NAN, {"x": [NAN, NAN]}),
    ("relu(x - 1) * 2", {"x": NAN}, NAN, {"x": NAN}),
]


@pytest.mark.parametrize("source, values, value, gradients", NAN_CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in NAN_CASES])
def test_nan_in_nan_out(cli, source, values, value, gradients):
    check(cli, source, values, value, gradients)


# -- norm scaled as hypot -------------------------------------------------------------------------

@pytest.mark.parametrize("v", [
    [1e-200, 1e-200], [1e200, 1e200], [3e-320, 4e-320], [1e308, 1e308, 1e308], [1e-310, 0.0],
    [5e-324, 0.0], [1.0, 1e-200], [3.0, -4.0], [-1e300, 1e-300],
])
def test_norm_at_any_magnitude(cli, v):
    value, slope = norm_and_slope(v)
    check(cli, "norm(v)", {"v": v}, value, {"v": slope})
    assert warnings_of("norm(v)", {"v": v}) == []  # not "at its kink": only 0 is


def test_norm_axis_at_any_magnitude(cli):
    rows = [[1e-200, 1e-200], [1e200, -1e200], [0.0, 0.0]]
    norms, slopes = zip(*(norm_and_slope(r) if any(r) else (0.0, [0.0, 0.0]) for r in rows))
    check(cli, "norm(v, axis=1)", {"v": rows}, list(norms), {"v": [list(s) for s in slopes]})
    assert any("kink" in w for w in warnings_of("norm(v, axis=1)", {"v": rows}))  # the zero row


def test_norm_kink_is_the_exact_zero_vector():
    for trace in (True, False):
        assert any("kink" in w for w in warnings_of("norm(v)", {"v": [0.0, 0.0]}, trace))
        assert not warnings_of("norm(v)", {"v": [5e-324, 0.0]}, trace)


# -- slopes that keep their precision in both tails --------------------------------------------------

TAILS = [-745.0, -700.0, -38.0, -19.0, -5.5, -1e-8, 0.0, 1e-8, 0.75, 5.5, 19.0, 38.0, 50.0, 700.0]


def test_sigmoid_slope_named_in_the_issue(cli):
    check(cli, "sigmoid(x)", {"x": 38.0}, 1.0, {"x": 3.139132792048e-17}, ulps=2**40)  # 13 digits
    check(cli, "sigmoid(x)", {"x": 38.0}, sigmoid(38.0), {"x": sigmoid_slope(38.0)})


def test_tanh_slope_named_in_the_issue(cli):
    check(cli, "tanh(x)", {"x": 19.0}, 1.0, {"x": 1.2556531168192e-16}, ulps=2**40)
    check(cli, "tanh(x)", {"x": 19.0}, f64(mpmath.tanh(19)), {"x": tanh_slope(19.0)})


@pytest.mark.parametrize("x", TAILS)
def test_sigmoid_tails(cli, x):
    check(cli, "sigmoid(x)", {"x": x}, sigmoid(x), {"x": sigmoid_slope(x)})


@pytest.mark.parametrize("x", TAILS)
def test_tanh_tails(cli, x):
    check(cli, "tanh(x)", {"x": x}, f64(mpmath.tanh(x)), {"x": tanh_slope(x)})


@pytest.mark.parametrize("x", TAILS)
def test_softplus_tails(cli, x):
    check(cli, "softplus(x)", {"x": x}, softplus(x), {"x": sigmoid(x)})


def test_tails_on_arrays(cli):
    # arrays take the untraced engine's in-place kernels
    check(cli, "sigmoid(x) + tanh(x)", {"x": TAILS},
          [f64(mp(sigmoid(x)) + mpmath.tanh(x)) for x in TAILS],
          {"x": [f64(mp(sigmoid_slope(x)) + tanh_slope(x)) for x in TAILS]})


@pytest.mark.parametrize("xs, ys", [
    ([-19.0, -0.5, 0.0, 3.0, 19.0, 38.0, 300.0], [2.5, 1e-300, 7.0, -2.0, 1e10, 0.5, 1e250]),
    ([-400.0, -360.0, 356.0, 700.0, 1.0], [3.0, -1e300, 1e250, 1e300, 2.0]),  # cosh² overflows
])
def test_tanh_tails_with_an_upstream_array(cli, xs, ys):
    # the untraced engine divides the upstream array by cosh²x (Op.in_place.divisor); past
    # |x| = 355 cosh² overflows and the careful path takes (1/cosh x)²
    check(cli, "tanh(x) * y", {"x": xs, "y": ys}, [f64(mpmath.tanh(x) * mp(y)) for x, y in zip(xs, ys)],
          {"x": [f64(mp(tanh_slope(x)) * mp(y)) for x, y in zip(xs, ys)],
           "y": [f64(mpmath.tanh(x)) for x in xs]})


def test_tails_with_an_upstream_factor(cli):
    # a pending scalar factor (the 3) meets the in-place local
    xs = [-38.0, 19.0, 38.0]
    check(cli, "sum(3 * sigmoid(x))", {"x": xs}, f64(mpmath.fsum(3 * mp(sigmoid(x)) for x in xs)),
          {"x": [f64(3 * mp(sigmoid_slope(x))) for x in xs]})


# -- reductions exact to rounding at any magnitude ------------------------------------------------------

@pytest.mark.parametrize("v", [
    [1e308, 1e308], [1e17, 1e17], [-1e308, 1e308], [1e-320, 0.0], [1000.0, 1000.0, 999.0],
    [-800.0, -800.0], [0.5, -2.25, 3.0],
])
def test_logsumexp_at_any_magnitude(cli, v):
    value, slope = logsumexp_and_slope(v)
    check(cli, "logsumexp(v)", {"v": v}, value, {"v": slope})


def test_logsumexp_of_infinities():
    # the limits: an inf takes the whole softmax; all -inf is uniform
    result = gradcli.parse("logsumexp(v)").evaluate({"v": [INF, 1.0, INF]})
    assert result.value == INF
    assert_close(result.gradients["v"], [0.5, 0.0, 0.5], "inf")
    result = gradcli.parse("logsumexp(v)").evaluate({"v": [-INF, -INF]})
    assert result.value == -INF
    assert_close(result.gradients["v"], [0.5, 0.5], "-inf")


def test_logsumexp_axis_at_any_magnitude(cli):
    rows = [[1e17, 1e17, 1e17, 1e17], [1.0, 2.0, 3.0, 4.0]]
    values, slopes = zip(*(logsumexp_and_slope(r) for r in rows))
    check(cli, "logsumexp(v, axis=1)", {"v": rows}, list(values), {"v": [list(s) for s in slopes]})


@pytest.mark.parametrize("source, v, value", [
    ("mean(v)", [1e308, 1e308], 1e308),
    ("mean(v)", [1.5e308, 1.7e308, 1.0e308], f64((mp(1.5e308) + mp(1.7e308) + mp(1e308)) / 3)),
    ("sum(v)", [1e308, 1e308, -1e308], 1e308),
    ("sum(v)", [1e-320, 3e-320], 4e-320),
])
def test_sum_and_mean_past_an_overflowing_partial_sum(cli, source, v, value):
    exact = f64(mpmath.fsum(mp(a) for a in v) / (len(v) if source.startswith("mean") else 1))
    assert _close(value, exact)
    slope = 1.0 / len(v) if source.startswith("mean") else 1.0
    check(cli, source, {"v": v}, exact, {"v": [slope] * len(v)})
    assert warnings_of(source, {"v": v}) == []


def test_mean_axis_past_an_overflowing_sum(cli):
    rows = [[1e308, 1e308], [1e308, 1.0]]
    check(cli, "mean(v, axis=0)", {"v": rows}, [1e308, f64((mp(1e308) + 1) / 2)], {"v": [[0.5, 0.5], [0.5, 0.5]]})


def test_sum_that_truly_overflows_says_so():
    assert any("produced inf" in w for w in warnings_of("sum(v)", {"v": [1e308, 1e308]}))


@pytest.mark.parametrize("source", ["dot(x, y)", "x @ y"])
def test_product_past_an_overflowing_term(cli, source):
    x, y = [1e300, 1e300], [2e8, -1.5e8]
    exact = f64(mpmath.fsum(mp(a) * mp(b) for a, b in zip(x, y)))
    # within the product's error bound: ulps of Σ|xᵢyᵢ| (here 3.5e308, 7 times the result)
    check(cli, source, {"x": x, "y": y}, exact, {"x": y, "y": x}, ulps=16)


def test_matmul_rows_of_different_magnitude(cli):
    a = [[1e300, 1e300], [1.0, 2.0]]
    b = [[2e8, 1.0], [-1.5e8, 1.0]]
    want = [[f64(mpmath.fsum(mp(a[i][k]) * mp(b[k][j]) for k in range(2))) for j in range(2)] for i in range(2)]
    ga = [[f64(mpmath.fsum(mp(b[j][k]) for k in range(2))) for j in range(2)] for _ in range(2)]
    gb = [[f64(mpmath.fsum(mp(a[k][i]) for k in range(2))) for _ in range(2)] for i in range(2)]
    check(cli, "a @ b", {"a": a, "b": b}, want, {"a": ga, "b": gb}, ulps=16)


def test_max_ties_split_exactly(cli):
    check(cli, "max(v)", {"v": [1e308, 1e308, 1e308]}, 1e308, {"v": [1 / 3] * 3})
    check(cli, "min(v)", {"v": [-5e-324, -5e-324, 1.0]}, -5e-324, {"v": [0.5, 0.5, 0.0]})


# -- the sums of broadcasting and a quotient that went subnormal --------------------------------------

@pytest.mark.parametrize("x, shape", [(1.0, ()), ([[1.0], [2.0]], (2, 1)), ([1.0, 1.0, 1.0], (3,))])
def test_broadcast_sum_past_an_overflowing_partial_sum(cli, x, shape):
    # ∂x of sum(x * v) sums v over the broadcast axis: 1e308 + 1e308 - 1e308 overflows midway
    v = [1e308, 1e308, -1e308]
    graph_value = None if shape == (2, 1) else f64(mpmath.fsum(mp(a) * mp(b) for a, b in
                                                                  zip(np.broadcast_to(x, (3,)), v)))
    slope = {(): 1e308, (2, 1): [[1e308], [1e308]], (3,): v}[shape]
    for trace in (True, False):
        result = gradcli.parse("sum(x * v)").evaluate({"x": x, "v": v}, trace=trace)
        assert_close(result.gradients["x"], slope, f"trace={trace}")
        if graph_value is not None:
            assert_close(result.value, graph_value, f"trace={trace}")
    if shape == ():
        check(cli, "sum(x * v)", {"x": x, "v": v}, 1e308, {"x": 1e308, "v": [1.0] * 3})


def test_broadcast_product_sum_past_an_overflowing_partial_sum():
    # local and upstream both arrays of the gate's shape, summed into a smaller input
    values = {"x": [[1.0], [2.0]], "v": [709.0, 709.0, -1.0], "w": [1.0, 1.0, -1.0]}
    want = f64(mpmath.exp(709) * 2 - mpmath.exp(-1))  # Σ_j w_j·e^(v_j) for each row of x
    for trace in (True, False):
        result = gradcli.parse("sum(x * (exp(v) * w))").evaluate(values, trace=trace)
        assert_close(result.gradients["x"], [[want], [want]], f"trace={trace}")


@pytest.mark.parametrize("x, y", [(1e-320, 1e-10), (3.5e-315, -7e-9), (-2e-310, 0.3), (1e-300, 1e-3)])
def test_quotient_slope_when_the_quotient_is_subnormal(cli, x, y):
    # -x/y² from the output x/y loses the bits the subnormal x/y lost; right from x instead
    value = f64(mp(x) / mp(y))
    check(cli, "x / y", {"x": x, "y": y}, value, {"x": f64(1 / mp(y)), "y": f64(-mp(x) / mp(y) ** 2)})
    check(cli, "x / y", {"x": [x, 1.0], "y": [y, 2.0]}, [value, 0.5],
          {"x": [f64(1 / mp(y)), 0.5], "y": [f64(-mp(x) / mp(y) ** 2), -0.25]})
    check(cli, "x / y", {"x": [x, 1.0], "y": y}, [value, f64(1 / mp(y))],
          {"x": [f64(1 / mp(y))] * 2, "y": f64(-(mp(x) + 1) / mp(y) ** 2)})


# -- a sweep: every elementwise op at the edges, every API path, against mpmath --------------------

SPECIAL = [0.0, -0.0, 1e-310, -1e-310, 5e-324, 1e-200, 1e200, 1e308, -1e308, 38.0, -38.0, 710.0,
           -745.0, 1.0, -1.0, 0.5, 2.0, -2.0, 3.0, 1e-8, 19.0, NAN, INF, -INF]


def _slopes(name, x, y=None):
    """The right local gradients, or None where the op has none (a pole, a kink, outside the
    domain, a non-finite input)."""
    if not all(math.isfinite(v) for v in (x, y) if v is not None):
        return None
    X, Y = mp(x), (mp(y) if y is not None else None)
    rules = {
        "exp(x)": lambda: [mpmath.exp(X)],
        "log(x)": lambda: [1 / X] if x > 0 else None,
        "sqrt(x)": lambda: [1 / (2 * mpmath.sqrt(X))] if x > 0 else None,
        "sin(x)": lambda: [mpmath.cos(X)] if abs(x) < 1e15 else None,
        "cos(x)": lambda: [-mpmath.sin(X)] if abs(x) < 1e15 else None,
        "tan(x)": lambda: [1 / mpmath.cos(X) ** 2] if abs(x) < 1e15 else None,
        "tanh(x)": lambda: [1 / mpmath.cosh(X) ** 2],
        "sigmoid(x)": lambda: [1 / (1 + mpmath.exp(-X)) / (1 + mpmath.exp(X))],
        "softplus(x)": lambda: [1 / (1 + mpmath.exp(-X))],
        "relu(x)": lambda: [1 if x > 0 else 0] if x != 0 else None,
        "abs(x)": lambda: [1 if x > 0 else -1] if x != 0 else None,
        "x / y": lambda: [1 / Y, -X / Y ** 2] if y != 0 else None,
        "x * y": lambda: [Y, X],
        "x ** y": lambda: [Y * X ** (Y - 1), X ** Y * mpmath.log(X)] if x > 0 else None,
        "max(x, y)": lambda: [1, 0] if x > y else [0, 1] if x < y else None,
        "min(x, y)": lambda: [1, 0] if x < y else [0, 1] if x > y else None,
        # issue 12's functions
        "log1p(x)": lambda: [1 / (1 + X)] if x > -1 else None,
        "expm1(x)": lambda: [mpmath.exp(X)],
        "log2(x)": lambda: [1 / (X * mpmath.log(2))] if x > 0 else None,
        "log10(x)": lambda: [1 / (X * mpmath.log(10))] if x > 0 else None,
        "atan(x)": lambda: [1 / (1 + X ** 2)],
        "asin(x)": lambda: [1 / mpmath.sqrt(1 - X ** 2)] if abs(x) < 1 else None,
        "acos(x)": lambda: [-1 / mpmath.sqrt(1 - X ** 2)] if abs(x) < 1 else None,
        "erf(x)": lambda: [2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-X ** 2)],
        # the origin's convention: 0 (atan2's cut, x = 0 > y, has the formula's one-sided slopes)
        "atan2(x, y)": lambda: [Y / (X ** 2 + Y ** 2), -X / (X ** 2 + Y ** 2)] if x or y else [0, 0],
        "hypot(x, y)": lambda: [X / mpmath.hypot(X, Y), Y / mpmath.hypot(X, Y)] if x or y else [0, 0],
        # 0 along x = 0 (also at y = 0, where ∂x is log 0 = -inf)
        "xlogy(x, y)": lambda: [mpmath.log(Y), X / Y] if y > 0 else [-mpmath.inf, 0] if x == 0 == y else None,
    }
    return rules[name]()


def _as_float(value) -> float:
    if abs(value) >= mp(2) ** 1024 * (1 - mp(2) ** -54):
        return math.copysign(INF, value)
    return float(value)


@pytest.mark.parametrize("source", ["exp(x)", "log(x)", "sqrt(x)", "sin(x)", "cos(x)", "tan(x)",
                                    "tanh(x)", "sigmoid(x)", "softplus(x)", "relu(x)", "abs(x)",
                                    "x / y", "x * y", "x ** y", "max(x, y)", "min(x, y)",
                                    "log1p(x)", "expm1(x)", "log2(x)", "log10(x)", "atan(x)", "asin(x)",
                                    "acos(x)", "erf(x)", "atan2(x, y)", "hypot(x, y)", "xlogy(x, y)"])
def test_edge_sweep(source):
    graph = gradcli.parse(source)
    names = ["x", "y"] if "y" in source else ["x"]
    points = [(a, b) for a in SPECIAL for b in SPECIAL] if len(names) == 2 else [(a,) for a in SPECIAL]
    for point in points:
        values = dict(zip(names, point))
        got = {}
        for trace in (True, False):
            # scalars (the float engine where all is finite) and arrays (in-place kernels)
            result = graph.evaluate(values, trace=trace)
            got[f"scalar trace={trace}"] = [result.gradients[n] for n in names]
            result = graph.evaluate({n: [v, 0.75] for n, v in values.items()}, trace=trace)
            got[f"array trace={trace}"] = [result.gradients[n][0] if n == "x" or np.ndim(result.gradients[n])
                                           else None for n in names]
        first = got["scalar trace=True"]
        right = _slopes(source, *point)
        # nan in, nan out: a nan reaches every slope that reads it (the other input's, for x*y,
        # x/y, x**y), and a kink's choice of side (relu, abs, max) is unknown at nan. A slope that
        # does not read the nan stays (∂(x*y)/∂x = y, also at x = nan).
        for index, v in enumerate(point):
            if math.isnan(v):
                for j, g in enumerate(first):
                    if j != index or len(names) == 1 or source.startswith(("max", "min")):
                        assert math.isnan(g), f"{source} at {values}: nan in, ∂{names[j]} = {g} out"
        for path, slopes in got.items():
            for name, a, b in zip(names, slopes, first):
                if a is not None:
                    assert _close(a, b), f"{source} at {values}: ∂{name} {a} ({path}) ≠ {b} (traced)"
        if right is not None:
            for name, g, want in zip(names, first, right):
                assert _close(g, _as_float(want)), f"{source} at {values}: ∂{name} = {g}, want {want}"


def test_norm_with_infinite_elements_takes_the_limit():
    # ‖x‖ = inf, and x/‖x‖ tends to ±1/√k on the k infinite elements, 0 elsewhere; a nan wins
    rows = [[INF, 1.0], [-INF, INF], [3.0, 4.0], [NAN, INF]]
    for trace in (True, False):
        result = gradcli.parse("norm(v, axis=1)").evaluate({"v": rows}, trace=trace)
        assert_close(result.value, [INF, INF, 5.0, NAN], f"trace={trace}")
        assert_close(result.gradients["v"], [[1.0, 0.0], [-f64(1 / mpmath.sqrt(2)), f64(1 / mpmath.sqrt(2))],
                                             [0.6, 0.8], [NAN, NAN]], f"trace={trace}")


@pytest.mark.parametrize("fmt", ["json", "plain"])
def test_sigmoid_slope_at_the_last_subnormal_is_not_flushed_to_zero(cli, fmt):
    # σ'(-745) = e^-745/(1+e^-745)² rounds to 5e-324 (mpmath); ¼·(1/cosh)² underflowed to 0 on
    # the traced path only, (½/cosh)² does not. Found by the CLI campaign (json and plain disagreed).
    want = f64(sigmoid_slope(-745.0))
    assert want == 5e-324
    result = cli("eval", "sum(sigmoid(z))", "z=[-745,19]", "--format", fmt)
    assert result.exit_code == 0
    if fmt == "json":
        got = json.loads(result.stdout)["gradients"]["z"][0]
    else:
        got = json.loads(dict(line.split(" ", 1) for line in result.stdout.splitlines())["z"])[0]
    assert got == want  # the smallest subnormal: nothing between it and 0


# -- issue 12's functions where float64 is tight: every path, against mpmath ------------------------

def _one(f, slope, x):
    X = mp(x)
    return f"{f}(x)", {"x": x}, f64(getattr(mpmath, {"atan": "atan", "asin": "asin", "acos": "acos",
                                                    "log1p": "log1p", "expm1": "expm1", "erf": "erf"}[f])(X)), \
        {"x": _as_float(slope(X))}


_ERF_SLOPE = lambda X: 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-X ** 2)  # noqa: E731
_ASIN_SLOPE = lambda X: 1 / mpmath.sqrt(1 - X ** 2)  # noqa: E731

FUNCTION_EDGES = [
    _one("log1p", lambda X: 1 / (1 + X), -1 + 2.0**-52),  # 1 + x is exact there: 2^52
    _one("log1p", lambda X: 1 / (1 + X), 1e-300),
    _one("expm1", mpmath.exp, -40.0),  # expm1 + 1 would lose e^-40's digits: exp(x), not ans + 1
    _one("expm1", mpmath.exp, -745.0),
    _one("expm1", mpmath.exp, 1e-300),
    _one("atan", lambda X: 1 / (1 + X ** 2), 1e160),  # x² overflows, 1/x² is a subnormal
    _one("atan", lambda X: 1 / (1 + X ** 2), -3e153),
    _one("atan", lambda X: 1 / (1 + X ** 2), 7.5),
    _one("asin", _ASIN_SLOPE, 1 - 2.0**-30),  # 1 - x·x would lose half its digits
    _one("asin", _ASIN_SLOPE, -(1 - 2.0**-52)),
    _one("asin", _ASIN_SLOPE, 1e-300),
    _one("acos", lambda X: -_ASIN_SLOPE(X), 1 - 2.0**-40),
    _one("erf", _ERF_SLOPE, 26.3),  # x² rounded would cost 7e-14 here: it is split exactly
    _one("erf", _ERF_SLOPE, -5.123456789),
    _one("erf", _ERF_SLOPE, 27.2),  # a subnormal slope
    _one("erf", _ERF_SLOPE, 1e-300),
    _one("erf", _ERF_SLOPE, 1e300),  # 0, and x² is never formed
]


@pytest.mark.parametrize("source, values, value, gradients", FUNCTION_EDGES,
                         ids=[f"{c[0]}-{c[1]['x']!r}" for c in FUNCTION_EDGES])
def test_unary_function_at_the_edges(cli, source, values, value, gradients):
    check(cli, source, values, value, gradients)


def test_log2_and_log10_slopes_are_one_division(cli):
    for x in (1e-300, 3.0, 1e300, 2.0**-1070):
        X = mp(x)
        check(cli, "log2(x)", {"x": x}, f64(mpmath.log(X, 2)), {"x": _as_float(1 / (X * mpmath.log(2)))}, ulps=2)
        check(cli, "log10(x)", {"x": x}, f64(mpmath.log10(X)), {"x": _as_float(1 / (X * mpmath.log(10)))}, ulps=2)


@pytest.mark.parametrize("x, y", [(3e-320, 4e-320), (1e-160, 2e-160), (1e300, 1e300), (-1e308, 1e308),
                                  (3.0, -4.0), (1e-300, 1.0), (0.0, -2.0)])
def test_hypot_and_atan2_never_form_the_square(cli, x, y):
    # x² + y² over- or underflows in every case but the last three; the slopes do not
    X, Y = mp(x), mp(y)
    r = mpmath.hypot(X, Y)
    check(cli, "hypot(x, y)", {"x": x, "y": y}, f64(r), {"x": f64(X / r), "y": f64(Y / r)})
    check(cli, "atan2(x, y)", {"x": x, "y": y}, f64(mpmath.atan2(X, Y)),
          {"x": _as_float(Y / r ** 2), "y": _as_float(-X / r ** 2)})


def test_hypot_and_atan2_at_the_origin_and_at_infinity(cli):
    # the origin: 0 by convention, with the kink warning; at infinity the limits (as norm's)
    check(cli, "hypot(x, y)", {"x": 0.0, "y": 0.0}, 0.0, {"x": 0.0, "y": 0.0})
    check(cli, "atan2(x, y)", {"x": 0.0, "y": 0.0}, 0.0, {"x": 0.0, "y": 0.0})
    for trace in (True, False):
        assert any("kink" in w and "hypot" in w for w in warnings_of("hypot(x, y)", {"x": 0.0, "y": 0.0}, trace))
        assert any("kink" in w for w in warnings_of("atan2(x, y)", {"x": [0.0, 1.0], "y": [-1.0, 1.0]}, trace))
        result = gradcli.parse("hypot(x, y)").evaluate({"x": [INF, -INF, 3.0, NAN], "y": [1.0, INF, INF, INF]},
                                                       trace=trace)
        assert_close(result.value, [INF, INF, INF, INF])
        half = f64(1 / mpmath.sqrt(2))
        assert_close(result.gradients["x"], [1.0, -half, 0.0, NAN], f"trace={trace}")
        assert_close(result.gradients["y"], [0.0, half, 1.0, NAN], f"trace={trace}")
        result = gradcli.parse("atan2(x, y)").evaluate({"x": [INF, 1.0], "y": [2.0, -INF]}, trace=trace)
        assert_close(result.gradients["x"], [0.0, -0.0])
        assert_close(result.gradients["y"], [-0.0, 0.0])


def test_xlogy_is_zero_along_x_zero(cli):
    # SciPy's convention: xlogy(0, y) = 0 for every y (but nan), so ∂y is 0 there, also at y = 0
    check(cli, "xlogy(x, y)", {"x": 0.0, "y": 0.0}, 0.0, {"x": -INF, "y": 0.0})
    check(cli, "xlogy(x, y)", {"x": 0.0, "y": 3.0}, 0.0, {"x": f64(mpmath.log(3)), "y": 0.0})
    check(cli, "xlogy(x, y)", {"x": [0.0, 2.0, 1e-300], "y": [-1.0, 1e-300, 1e300]},
          [0.0, f64(2 * mpmath.log(mp(1e-300))), f64(mp(1e-300) * mpmath.log(mp(1e300)))],
          {"x": [NAN, f64(mpmath.log(mp(1e-300))), f64(mpmath.log(mp(1e300)))],
           "y": [0.0, f64(2 / mp(1e-300)), f64(mp(1e-300) / mp(1e300))]})
    for trace in (True, False):
        assert gradcli.parse("xlogy(x, y)").evaluate({"x": 0.0, "y": NAN}, trace=trace).value != 0.0  # nan


@pytest.mark.parametrize("values, value, gradients", [
    ({"x": 0.5, "lo": 0.0, "hi": 1.0}, 0.5, {"x": 1.0, "lo": 0.0, "hi": 0.0}),
    ({"x": -2.0, "lo": 0.0, "hi": 1.0}, 0.0, {"x": 0.0, "lo": 1.0, "hi": 0.0}),
    ({"x": 7.0, "lo": 0.0, "hi": 1.0}, 1.0, {"x": 0.0, "lo": 0.0, "hi": 1.0}),
    ({"x": 0.5, "lo": 2.0, "hi": 1.0}, 1.0, {"x": 0.0, "lo": 0.0, "hi": 1.0}),  # lo > hi: hi, as NumPy
    # ties split as min(max(x, lo), hi) splits them
    ({"x": 0.0, "lo": 0.0, "hi": 1.0}, 0.0, {"x": 0.5, "lo": 0.5, "hi": 0.0}),
    ({"x": 1.0, "lo": 0.0, "hi": 1.0}, 1.0, {"x": 0.5, "lo": 0.0, "hi": 0.5}),
    ({"x": 1.0, "lo": 1.0, "hi": 1.0}, 1.0, {"x": 0.25, "lo": 0.25, "hi": 0.5}),
    ({"x": -1e308, "lo": 1e308, "hi": 1e308}, 1e308, {"x": 0.0, "lo": 0.5, "hi": 0.5}),  # no x - lo overflow
    ({"x": [1e-310, -5e-324, 3.0], "lo": 0.0, "hi": [1.0, 1.0, 2.0]}, [1e-310, 0.0, 2.0],
     {"x": [1.0, 0.0, 0.0], "lo": 1.0, "hi": [0.0, 0.0, 1.0]}),
])
def test_clip_routes_and_splits_ties(cli, values, value, gradients):
    check(cli, "clip(x, lo, hi)", values, value, gradients)
    tie = any(w for w in warnings_of("clip(x, lo, hi)", values) if "kink" in w)
    assert tie == (0.5 in [v for g in gradients.values() for v in np.ravel(g)] or 0.25 in np.ravel(gradients["x"]))


@pytest.mark.parametrize("source, values, says", [
    ("asin(x)", "x=1.5", "gate 'asin(x)' (asin, line 1, column 1) produced nan from finite inputs"),
    ("acos(x)", "x=[0.5,-2]", "gate 'acos(x)' (acos, line 1, column 1) produced nan from finite inputs"),
    ("log1p(x)", "x=-2", "gate 'log1p(x)' (log1p, line 1, column 1) produced nan from finite inputs"),
    ("log1p(x)", "x=-1", "gate 'log1p(x)' (log1p, line 1, column 1) produced -inf from finite inputs"),
    ("log2(x)", "x=-1", "gate 'log2(x)' (log2, line 1, column 1) produced nan from finite inputs"),
    ("log10(x)", "x=[-3,1]", "gate 'log10(x)' (log10, line 1, column 1) produced nan from finite inputs"),
    ("asin(x)", "x=1", "the gradient from gate 'asin(x)' (asin, line 1, column 1) to its input 'x' is inf"),
    ("xlogy(x, y)", "x=2 y=-1", "gate 'xlogy(x, y)' (xlogy, line 1, column 1) produced nan from finite inputs"),
])
@pytest.mark.parametrize("fmt", ["table", "plain"])
def test_a_domain_error_is_said_on_every_path(cli, source, values, says, fmt):
    result = cli("eval", source, *values.split(), "--format", fmt)
    assert result.exit_code == 0
    assert f"warning: {says}" in result.stderr
    strict = cli("eval", source, *values.split(), "--format", fmt, "--strict")
    assert strict.exit_code == 1
