"""A user function means its body (issue 11, kinds 2 and 6).

Every op of the registry inside a body, with scalar, vector and matrix arguments and keyword
arguments: the call as one gate, the call expanded (--expand) and the body written out directly
give the same value, the same shape and the same gradients, traced and untraced, and finite
differences agree. And a call costs work in proportion to its body, not to the number of paths
through it: 40 levels of `g(t) = f(t) + f(t)` evaluate at once in every output path.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gradcli
from gradcli.core.ops import OPS

from conftest import numeric_gradients

# How an op that has no name in the language is written.
_OPERATORS = {"add": "({0} + {1})", "sub": "({0} - {1})", "mul": "({0} * {1})", "div": "({0} / {1})",
              "pow": "({0} ** {1})", "matmul": "({0} @ {1})", "neg": "(-{0})"}
_POSITIVE_ONLY = {"log", "sqrt", "pow", "log1p", "log2", "log10", "xlogy"}  # inputs outside their domain would give nan
_UNIT = {"asin", "acos"}  # inputs in (-1, 1)

S, V, M, C = (), (3,), (2, 3), (2, 1)


def _written(op, args: list[str], params: dict) -> str:
    if op.name in _OPERATORS:
        return _OPERATORS[op.name].format(*args)
    assert op.callable, f"op {op.name} has no name in the language: add it to _OPERATORS"
    keywords = "".join(f", {key}={value}" for key, value in params.items())
    return f"{op.call_name}({', '.join(args)}{keywords})"


def _cases(op) -> list[tuple[tuple, dict]]:
    """(argument shapes, keyword arguments) an op takes."""
    if op.name in ("dot", "matmul"):
        return [((V, V), {}), ((M, V), {}), ((V, (3, 2)), {}), ((M, (3, 2)), {})]
    if op.name == "expand_as":
        return [((S, V), {}), ((V, M), {}), ((C, M), {}), (((2,), M), {"axis": 1}), ((V, M), {"axis": 0})]
    if op.name == "sum_as":
        return [((V, S), {}), ((M, V), {}), ((M, C), {}), ((M, (2,)), {"axis": 1}), ((M, V), {"axis": 0})]
    if op.name == "size":
        return [((S,), {}), ((M,), {}), ((M,), {"axis": -1})]
    if op.name in ("matmul_vjp_a", "matmul_vjp_b"):  # (g, a, b), g in the shape of a @ b
        return [((S, V, V), {}), (((2,), M, V), {}), (((2,), V, (3, 2)), {}), (((2, 2), M, (3, 2)), {})]
    if op.params:
        assert op.params == ("axis",) and op.arity == 1, f"add cases for {op.name}'s keyword arguments"
        return [((S,), {}), ((V,), {}), ((M,), {}), ((V,), {"axis": 0}), ((M,), {"axis": 0}),
                ((M,), {"axis": -1})]
    if op.arity == 1:
        return [((S,), {}), ((V,), {}), ((M,), {})]
    if op.arity == 3:
        return [((S, S, S), {}), ((V, S, S), {}), ((S, V, S), {}), ((S, S, V), {}), ((M, V, C), {})]
    assert op.arity == 2, f"add cases for {op.name}"
    return [((S, S), {}), ((S, V), {}), ((V, S), {}), ((M, V), {}), ((C, V), {})]


def _all_cases():
    for op in OPS.values():
        if op.name in ("diff", "scalar"):  # not written in the language: diff(f, x) makes them (test_diff.py)
            continue
        for shapes, params in _cases(op):
            key = ",".join("x".join(map(str, s)) or "s" for s in shapes)
            key += "".join(f",{k}={v}" for k, v in params.items())
            yield pytest.param(op.name, shapes, params, id=f"{op.name}[{key}]")


def _values(op, shapes: tuple, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    values = {}
    for name, shape in zip("xyw", shapes):
        magnitude = rng.uniform(0.5, 1.5, shape)  # distinct: no ties, no kinks, inside every domain
        if op.name in _UNIT:
            magnitude = magnitude * 0.6
        sign = 1.0 if op.name in _POSITIVE_ONLY else rng.choice([-1.0, 1.0], shape)
        values[name] = (magnitude * sign).tolist() if shape else float(magnitude * sign)
    return values


def _programs(op, params: dict) -> list[tuple[str, str, str]]:
    """(name, program with a user function, the same written without it)."""
    names = "abd"[:op.arity]
    body = _written(op, list(names), params)
    direct = _written(op, list("xyw"[:op.arity]), params)
    head = ", ".join(names)
    call = ", ".join("xyw"[:op.arity])
    return [
        ("alone", f"f({head}) = {body}\nf({call})", direct),
        # the upstream gradient differs element by element: the body's own backward must use it
        ("inside", f"f({head}) = exp({body} * 0.5) + 1\nq = f({call})\nq * q",
         f"q = exp({direct} * 0.5) + 1\nq * q"),
        ("nested", f"g({head}) = {body}\nf({head}) = g({head}) * 0.5 + g({head})\nq = f({call})\nsin(q)",
         f"q = {direct} * 0.5 + {direct}\nsin(q)"),
        # parameters in another order than the call's, one of them unused
        ("reordered", f"f(c, {', '.join(reversed(names))}) = {body}\nf(z, {', '.join(reversed('xyw'[:op.arity]))})",
         direct),
    ]


def _run(source: str, values: dict, *, expand: bool, trace: bool):
    return gradcli.parse(source, expand=expand).evaluate(values, trace=trace)


def _assert_same(got, want, what: str) -> None:
    assert np.shape(got) == np.shape(want), f"{what}: shape {np.shape(got)} ≠ {np.shape(want)}"
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14, err_msg=what)


@pytest.mark.parametrize("op_name, shapes, params", list(_all_cases()))
def test_every_op_in_a_body_means_the_same_as_written_out(op_name, shapes, params):
    op = OPS[op_name]
    values = _values(op, shapes, seed=sum(map(ord, op_name)) + len(shapes[0]))
    for name, program, direct in _programs(op, params):
        given = dict(values, z=[0.25, -0.5]) if name == "reordered" else values
        reference = gradcli.parse(direct).evaluate(values)
        for expand in (False, True):
            for trace in (True, False):
                what = f"{name}, expand={expand}, trace={trace}: {program!r}"
                result = _run(program, given, expand=expand, trace=trace)
                _assert_same(result.value, reference.value, f"value of {what}")
                for variable in values:
                    _assert_same(result.gradients[variable], reference.gradients[variable],
                                 f"∂/∂{variable} of {what}")
                if name == "reordered":  # an unused parameter: zero, in its argument's shape
                    np.testing.assert_array_equal(result.gradients["z"], [0.0, 0.0])
        if name == "inside":
            numeric = numeric_gradients(program, values)
            grouped = gradcli.parse(program).evaluate(values)
            for variable in values:
                np.testing.assert_allclose(grouped.gradients[variable], numeric[variable],
                                           rtol=1e-5, atol=1e-6, err_msg=f"finite differences of {program!r}")


def test_the_builtin_composite_inside_a_body_expands_to_the_same():
    values = {"x": [-2.0, 0.5, 3.0]}
    program = "f(t) = sum(sigmoid(t) * t, axis=0)\nq = f(x)\nq * q"
    direct = gradcli.evaluate("q = sum(sigmoid(x) * x, axis=0)\nq * q", values)
    for expand in (False, True):
        result = gradcli.parse(program, expand=expand).evaluate(values)
        assert np.shape(result.value) == ()
        assert result.value == pytest.approx(direct.value, rel=1e-13)
        np.testing.assert_allclose(result.gradients["x"], direct.gradients["x"], rtol=1e-13)


# -- the examples of the issue, by hand -----------------------------------------------------------

def test_a_sum_in_a_body_is_one_number_with_the_gradient_of_a_sum(cli):
    for extra in ([], ["--expand"]):
        result = cli("eval", "f(v) = sum(v); f(x)", "x=[1,2]", "-f", "json", *extra)
        assert result.exit_code == 0, result.stderr
        document = json.loads(result.stdout)
        assert document["value"] == pytest.approx(3.0) and document["shape"] == []
        assert document["gradients"]["x"] == pytest.approx([1.0, 1.0])
    plain = cli("eval", "f(v) = sum(v); f(x)", "x=[1,2]", "-f", "plain")
    assert plain.stdout.splitlines() == ["f 3.0", "x [1.0,1.0]"]


@pytest.mark.parametrize("program, values, value, gradients", [
    # ∂/∂x of Σ_j (Σ_i x_ij)² = 2·(column sum), the same in every row
    ("f(v) = sum(v, axis=0); q = f(x); sum(q*q)", {"x": [[1, 2], [3, 4]]}, 16 + 36,
     {"x": [[8, 12], [8, 12]]}),
    # mean over rows: each element 1/2 of its column's upstream
    ("f(v) = mean(v, axis=-1); sum(f(x) * w)", {"x": [[1, 2], [3, 5]], "w": [2, 10]}, 1.5 * 2 + 4 * 10,
     {"x": [[1, 1], [5, 5]], "w": [1.5, 4]}),
    # a matrix-vector product in a body: value A·v, ∂/∂A = w vᵀ, ∂/∂v = Aᵀ w
    ("f(A, v) = A @ v; sum(f(M, u) * w)", {"M": [[1, 2], [3, 4]], "u": [5, 6], "w": [1, -1]},
     (5 + 12) - (15 + 24), {"M": [[5, 6], [-5, -6]], "u": [1 - 3, 2 - 4], "w": [17, 39]}),
    # a transpose: the value keeps the body's shape
    ("f(v) = T(v); sum(f(x) * c)", {"x": [[1, 2, 3]], "c": [[1], [2], [3]]}, 14,
     {"x": [[1, 2, 3]], "c": [[1], [2], [3]]}),
    # a body that ignores its argument: the body's value, not one per element
    ("f(v) = 2 + 0*sum(v); f(x)", {"x": [1, 2, 3]}, 2, {"x": [0, 0, 0]}),
    # the norm: v/‖v‖
    ("f(v) = norm(v); f(x) * 2", {"x": [3, 4]}, 10, {"x": [1.2, 1.6]}),
    # max routes to the winner inside the body
    ("f(v) = max(v) + min(v); f(x)", {"x": [1, 5, 3]}, 6, {"x": [1, 1, 0]}),
])
def test_bodies_that_combine_elements(program, values, value, gradients):
    for expand in (False, True):
        for trace in (True, False):
            result = gradcli.parse(program, expand=expand).evaluate(values, trace=trace)
            assert np.shape(result.value) == np.shape(value)
            assert result.value == pytest.approx(value, rel=1e-14)
            for name, want in gradients.items():
                np.testing.assert_allclose(result.gradients[name], want, rtol=1e-14)


def test_expand_keeps_the_keyword_arguments_of_gates_in_a_body():
    graph = gradcli.parse("f(v) = sum(v, axis=0) + mean(v, axis=-1)*0; f(x)", expand=True)
    params = [n.params for n in graph.nodes if n.kind == "gate" and n.op.name in ("sum", "mean")]
    assert params == [{"axis": 0}, {"axis": -1}]
    result = graph.evaluate({"x": [[1.0, 2.0], [3.0, 4.0]]})
    np.testing.assert_allclose(result.value, [4.0, 6.0])


def test_a_shape_error_inside_a_body_names_the_gate(cli):
    result = cli("eval", "f(v) = sum(v, axis=1); f(x)", "x=[1,2]")
    assert result.exit_code == 1
    assert "internal error" not in result.stderr
    assert "f: sum(v, axis=1)" in result.stderr
    product = cli("eval", "f(a, b) = a @ b; f(x, y)", "x=[1,2]", "y=[1,2,3]")
    assert product.exit_code == 1 and "do not align" in product.stderr


def test_many_parameters_of_mixed_shapes():
    values = {"p": 0.7, "q": [0.5, -1.5, 2.0], "r": [[1.0, 2.0, 3.0], [-1.0, 0.5, 0.25]]}
    program = "f(a, b, c, d) = sum(a * b + c, axis=0) @ b + d*d\nq2 = f(p, q, r, p)\nq2 * q2"
    direct = "q2 = sum(p * q + r, axis=0) @ q + p*p\nq2 * q2"
    want = gradcli.evaluate(direct, values)
    numeric = numeric_gradients(program, values)
    for expand in (False, True):
        for trace in (True, False):
            got = gradcli.parse(program, expand=expand).evaluate(values, trace=trace)
            assert got.value == pytest.approx(want.value, rel=1e-13)
            for name in values:
                np.testing.assert_allclose(got.gradients[name], want.gradients[name], rtol=1e-13)
                np.testing.assert_allclose(got.gradients[name], numeric[name], rtol=1e-6)


def test_scalar_arguments_give_the_same_on_every_engine():
    # all scalars: the scalar engine declines a user function, the NumPy engine runs it; either
    # way the numbers are the body's
    program = "f(a, b) = a*b + sin(a)/b; f(x, y) * f(y, x)"
    direct = "(x*y + sin(x)/y) * (y*x + sin(y)/x)"
    values = {"x": 0.3, "y": -1.7}
    want = gradcli.parse(direct).evaluate(values)
    for expand in (False, True):
        for trace in (True, False):
            got = gradcli.parse(program, expand=expand).evaluate(values, trace=trace)
            assert got.value == pytest.approx(want.value, rel=1e-14)
            for name in values:
                assert got.gradients[name] == pytest.approx(want.gradients[name], rel=1e-14)


# -- batch sees through a user function -----------------------------------------------------------

def test_batch_refuses_a_function_whose_body_mixes_rows(cli, tmp_path):
    data = tmp_path / "rows.csv"
    data.write_text("x\n1.5\n2\n")
    result = cli("batch", "f(v) = sum(v); f(x)", "--input", str(data))
    assert result.exit_code == 1
    assert "combines elements (through its gate 'f: sum(v)', sum)" in result.stderr
    nested = cli("batch", "g(v) = max(v); f(t) = g(t) * 2; f(x) + 1", "--input", str(data))
    assert nested.exit_code == 1 and "'g: max(t)', max" in nested.stderr


def test_batch_accepts_a_function_that_combines_only_constants(cli, tmp_path):
    data = tmp_path / "rows.csv"
    data.write_text("x\n1.5\n2\n")
    result = cli("batch", "f(v, w) = sum(w) * v * v; f(x, c)", "--input", str(data), "--set", "c=3")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["x,f,df/dx", "1.5,6.75,9.0", "2,12.0,12.0"]


# -- cost: the work of a call is its body's, not its paths' ---------------------------------------

def _doubling(levels: int, variable: str = "x") -> str:
    lines = ["g0(t) = t*t"] + [f"g{i}(t) = g{i - 1}(t) + g{i - 1}(t)" for i in range(1, levels + 1)]
    return "\n".join(lines + [f"g{levels}({variable})"])


def test_doubling_calls_against_sympy():
    import sympy
    t = sympy.Symbol("t")
    g = t * t
    for n in range(1, 7):
        g = g + g
        program = _doubling(n)
        for expand in (False, True):
            result = gradcli.parse(program, expand=expand).evaluate({"x": 1.3})
            assert result.value == pytest.approx(float(g.subs(t, 1.3)), rel=1e-14)
            assert result.gradients["x"] == pytest.approx(float(sympy.diff(g, t).subs(t, 1.3)), rel=1e-14)


def _gradcli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """The installed command, with a generous timeout as the hang guard."""
    command = [sys.executable, "-m", "gradcli", *args]
    return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONIOENCODING": "utf-8"})


@pytest.mark.parametrize("options", [[], ["--expand"], ["-f", "plain"], ["-f", "plain", "--expand"],
                                     ["-f", "json"], ["-f", "json", "--expand"], ["--steps"],
                                     ["-f", "csv", "--expand"], ["-f", "tree"]],
                         ids=lambda o: " ".join(o) or "table")
def test_forty_doubling_levels_evaluate_in_every_output(options):
    # g_n(t) = 2^n·t², so g40(1.5) = 2^40·2.25 and g40'(1.5) = 2^41·1.5, both exact in float64
    result = _gradcli("eval", "-", "x=1.5", *options, stdin=_doubling(40))
    assert result.returncode == 0, result.stderr
    if options[:2] == ["-f", "plain"]:
        assert result.stdout.split() == ["f", repr(2.0**40 * 2.25), "x", repr(2.0**41 * 1.5)]
    if options[:2] == ["-f", "json"]:
        document = json.loads(result.stdout)
        assert document["value"] == 2.0**40 * 2.25 and document["gradients"]["x"] == 2.0**41 * 1.5


def test_forty_doubling_levels_in_check_and_batch(tmp_path):
    check = _gradcli("check", "-", "x=1.5", stdin=_doubling(40))
    assert check.returncode == 0, check.stdout + check.stderr
    data = tmp_path / "rows.csv"
    data.write_text("x\n1.5\n-2\n")
    batch = _gradcli("batch", _doubling(40), "--input", str(data))
    assert batch.returncode == 0, batch.stderr
    rows = [line.split(",") for line in batch.stdout.splitlines()[1:]]
    for (x, f, dx) in rows:
        assert float(f) == 2.0**40 * float(x) ** 2 and float(dx) == 2.0**41 * float(x)


def test_forty_doubling_levels_with_arrays_from_the_api():
    x = np.array([0.5, -1.25, 3.0])
    for expand in (False, True):
        graph = gradcli.parse(_doubling(40), expand=expand)
        assert len(graph.nodes) < 200  # a DAG: a few nodes a level, not 2^40
        for trace in (True, False):
            result = graph.evaluate({"x": x}, trace=trace)
            np.testing.assert_array_equal(result.value, 2.0**40 * x * x)
            np.testing.assert_array_equal(result.gradients["x"], 2.0**41 * x)


def test_labels_of_an_expansion_stay_short():
    graph = gradcli.parse(_doubling(40), expand=True)
    assert max(len(n.label) for n in graph.nodes) <= 60


def test_doubling_through_two_helpers_is_shared_too():
    # g(t) = a(t) + b(t), where a and b each call the previous g once: sharing g's call on t
    # keeps this linear although the number of paths doubles at every level
    lines = ["g0(t) = t*t"]
    for i in range(1, 41):
        lines += [f"a{i}(t) = g{i - 1}(t) * 2", f"b{i}(t) = g{i - 1}(t) + 1", f"g{i}(t) = a{i}(t) - b{i}(t)"]
    program = "\n".join(lines + ["g40(x)"])
    # g_i = g_{i-1} - 1 = t² - i
    for expand in (False, True):
        result = gradcli.parse(program, expand=expand).evaluate({"x": 3.0})
        assert result.value == pytest.approx(9.0 - 40.0, rel=1e-14)
        assert result.gradients["x"] == pytest.approx(6.0, rel=1e-14)


def test_a_deep_chain_of_functions_each_calling_the_previous():
    levels = 3000  # far past Python's recursion limit, were inlining recursive
    lines = ["f0(t) = t*t"] + [f"f{i}(t) = f{i - 1}(t) + 1" for i in range(1, levels + 1)]
    program = "\n".join(lines + [f"f{levels}(x)"])
    result = _gradcli("eval", "-", "x=2", "-f", "plain", stdin=program)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["f", repr(4.0 + levels), "x", "4.0"]
    expanded = gradcli.parse(program, expand=True).evaluate({"x": 2.0}, trace=False)
    assert expanded.value == pytest.approx(4.0 + levels) and expanded.gradients["x"] == pytest.approx(4.0)


def test_a_function_used_ten_thousand_times():
    # Σ_{i<10000} f(x_i) for f(t) = t*t + sin(t), as one sum over the calls
    calls = " + ".join(f"f(x*{i % 7 + 1})" for i in range(10_000))
    program = f"f(t) = t*t + sin(t)\n{calls}"
    counts = {k: sum(1 for i in range(10_000) if i % 7 + 1 == k) for k in range(1, 8)}
    x = 0.3
    value = sum(n * ((k * x) ** 2 + math.sin(k * x)) for k, n in counts.items())
    slope = sum(n * k * (2 * k * x + math.cos(k * x)) for k, n in counts.items())
    for args in ([], ["--expand"]):
        result = _gradcli("eval", "-", f"x={x}", "-f", "plain", *args, stdin=program)
        assert result.returncode == 0, result.stderr
        f, dx = (float(w) for w in result.stdout.split()[1::2])
        assert f == pytest.approx(value, rel=1e-12) and dx == pytest.approx(slope, rel=1e-12)
    body = "\n".join(["f(t) = t*t", "g(t) = " + " + ".join(f"f(t*{i % 7 + 1})" for i in range(10_000)),
                      "g(x) * g(x)"])
    result = _gradcli("eval", "-", f"x={x}", "-f", "plain", stdin=body)
    assert result.returncode == 0, result.stderr
    g = sum(n * (k * x) ** 2 for k, n in counts.items())
    dg = sum(n * 2 * k * k * x for k, n in counts.items())
    f, dx = (float(w) for w in result.stdout.split()[1::2])
    assert f == pytest.approx(g * g, rel=1e-12) and dx == pytest.approx(2 * g * dg, rel=1e-12)


def test_a_function_that_truly_doubles_is_refused_with_a_message(cli):
    # h_i(t) = h_{i-1}(h_{i-1}(t)): the two calls have different inputs, 2^40 squarings in all
    lines = ["h0(t) = t*t"] + [f"h{i}(t) = h{i - 1}(h{i - 1}(t))" for i in range(1, 41)]
    program = "; ".join(lines + ["h40(x)"])
    for extra in ([], ["--expand"], ["-f", "plain"]):
        result = cli("eval", program, "x=1", *extra)
        assert result.exit_code == 1
        assert "stands for more than 1,000,000 primitive gates" in result.stderr
        assert "internal error" not in result.stderr
    # a few levels are fine: h_3(x) = x^(2^8)
    small = gradcli.evaluate("; ".join(lines[:4] + ["h3(x)"]), x=1.01)
    assert small.value == pytest.approx(1.01 ** 256, rel=1e-13)
    assert small.gradients["x"] == pytest.approx(256 * 1.01 ** 255, rel=1e-12)


def test_names_of_registry_gates_are_not_function_names(cli):
    for name, symbol in (("add", "+"), ("matmul", "@"), ("amax", "max")):
        result = cli("eval", f"{name}(a, b) = a*b; {name}(x, y)", "x=1", "y=2")
        assert result.exit_code == 1
        assert f"error: {name} is the name of the built-in gate {symbol}" in result.stderr


def test_a_builtin_composite_in_a_body_is_sized_without_parsing_inside_the_parser():
    # sizing a call runs while the parser holds its lock: parsing sigmoid's expansion there would
    # wait for ever (a subprocess, so that a regression fails rather than hangs the suite)
    result = _gradcli("eval", "f(t) = sigmoid(t) * 2; f(x) + f(x)", "x=0.5", "-f", "plain", "--expand")
    assert result.returncode == 0, result.stderr
    s = 1 / (1 + math.exp(-0.5))
    f, dx = (float(w) for w in result.stdout.split()[1::2])
    assert f == pytest.approx(4 * s, rel=1e-14) and dx == pytest.approx(4 * s * (1 - s), rel=1e-14)
