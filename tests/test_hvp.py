"""gradcli.hvp and `gradcli hessian --tangent`: the Hessian-vector product H·v.

Checked against the full Hessian times v (gradcli.hessian), central differences of gradcli's own
first-order gradient along v, and SymPy's exact second derivatives; the fast pass on Python
floats against the gradient graph's pass; every format; bad input."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

import gradcli
from gradcli.evaluation.hessian import hvp as hvp_of_graph
from test_hessian import ARRAY_CASES, SCALAR_CASES


def random_tangent(values: dict, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {name: rng.normal(size=np.shape(v)) for name, v in values.items()}


def fd_hvp(source: str, values: dict, tangent: dict, h: float = 1e-5) -> np.ndarray:
    """(∇f(x + h·v) − ∇f(x − h·v)) / 2h, flat in the variables' order."""
    graph = gradcli.parse(source)
    base = {k: np.array(v, dtype=np.float64) for k, v in values.items()}

    def gradient(sign):
        point = {k: v + sign * h * np.asarray(tangent.get(k, 0.0)) for k, v in base.items()}
        grads = graph.evaluate(point, trace=False).gradients
        return np.concatenate([np.ravel(grads[name]) for name in grads])

    return (gradient(1) - gradient(-1)) / (2 * h)


def close(ours, theirs, rtol):
    scale = max(float(np.max(np.abs(theirs))), 1.0)
    return np.allclose(ours, theirs, rtol=rtol, atol=rtol * scale)


def test_by_hand():
    # f = x²y: ∇f = (2xy, x²), H = [[2y, 2x], [2x, 0]]; at (3, 2) along v = (1, 0): H·v = (4, 6)
    p = gradcli.hvp("x**2 * y", {"x": 3, "y": 2}, {"x": 1})
    assert p.hvp == {"x": 4.0, "y": 6.0} and p.gradients == {"x": 12.0, "y": 9.0} and p.f == 18.0
    assert p.tangent == {"x": 1.0, "y": 0.0} and p.variables == {"x": (), "y": ()}
    assert p.names == ["x", "y"] and p.flat("hvp").tolist() == [4.0, 6.0]
    assert p.diagnostics == [] and "hvp=" in repr(p)
    # values as keywords too, and a tangent along y
    q = gradcli.hvp("x**2 * y", None, {"y": 2.0}, x=3, y=2)
    assert q.hvp == {"x": 12.0, "y": 0.0}


def test_the_docstring_example():
    import doctest

    runner = doctest.DocTestRunner()
    for test in doctest.DocTestFinder().find(gradcli.hvp, globs={"gradcli": gradcli}):
        runner.run(test)
    assert runner.summarize(verbose=False) == (0, 2)


@pytest.mark.parametrize("source,values", SCALAR_CASES + ARRAY_CASES,
                         ids=[c[0][:30] for c in SCALAR_CASES + ARRAY_CASES])
def test_against_the_hessian_times_v_and_finite_differences(source, values):
    tangent = random_tangent(values, len(source))
    p = gradcli.hvp(source, values, tangent)
    h = gradcli.hessian(source, values)
    v = np.concatenate([np.ravel(tangent[name]) for name in h.variables])
    assert list(p.variables) == list(h.variables) and p.names == h.names
    np.testing.assert_allclose(p.flat("hvp"), h.matrix @ v, rtol=1e-9, atol=1e-12 * max(1.0, np.abs(h.matrix).max()))
    np.testing.assert_allclose(p.flat("gradients"), h.gradient, rtol=1e-15)
    assert p.f == h.f
    assert close(p.flat("hvp"), fd_hvp(source, values, tangent), rtol=1e-6)
    for name, shape in p.variables.items():  # each in its variable's shape
        assert np.shape(p.hvp[name]) == shape and np.shape(p.gradients[name]) == shape
    # the fast pass on floats and the gradient graph's pass agree
    other = hvp_of_graph(gradcli.parse(source), values, tangent, method="graph")
    np.testing.assert_allclose(other.flat("hvp"), p.flat("hvp"), rtol=1e-12, atol=1e-13)


def test_a_function_of_100_variables_fast_pass_against_the_graph_pass():
    n = 100
    source = " + ".join([f"sin(x{i})*x{i + 1}" for i in range(n - 1)] + [f"log(1 + x{i}**2)" for i in range(n)])
    rng = np.random.default_rng(5)
    values = {f"x{i}": float(v) for i, v in enumerate(rng.uniform(-2, 2, n))}
    tangent = {f"x{i}": float(v) for i, v in enumerate(rng.normal(size=n))}
    graph = gradcli.parse(source)
    p = hvp_of_graph(graph, values, tangent)
    h = gradcli.hessian(source, values)
    np.testing.assert_allclose(p.flat("hvp"), h.matrix @ p.flat("tangent"), rtol=1e-12, atol=1e-12)
    # by hand: ∂²/∂xᵢ² = -sin(xᵢ)xᵢ₊₁ + 2(1 - xᵢ²)/(1 + xᵢ²)², ∂²/∂xᵢ∂xᵢ₊₁ = cos(xᵢ)
    x, v = np.array(list(values.values())), p.flat("tangent")
    diag = 2 * (1 - x**2) / (1 + x**2) ** 2
    diag[:-1] -= np.sin(x[:-1]) * x[1:]
    expected = diag * v
    expected[:-1] += np.cos(x[:-1]) * v[1:]
    expected[1:] += np.cos(x[:-1]) * v[:-1]
    np.testing.assert_allclose(p.flat("hvp"), expected, rtol=1e-12, atol=1e-13)


sympy = pytest.importorskip("sympy")


@pytest.mark.parametrize("source,expr", [
    ("exp(x*y) * sin(z) + x**3/y", "exp(x*y)*sin(z) + x**3/y"),
    ("sigmoid(x - 2*y) * tanh(z) + sqrt(x*x + z*z)", "1/(1 + exp(-(x - 2*y)))*tanh(z) + sqrt(x*x + z*z)"),
])
def test_against_sympy(source, expr):
    x, y, z = sympy.symbols("x y z")
    f = sympy.sympify(expr)
    point = {"x": 0.7, "y": 1.3, "z": -0.4}
    tangent = {"x": 0.5, "y": -1.0, "z": 2.0}
    p = gradcli.hvp(source, point, tangent)
    subs = {x: sympy.Rational("0.7"), y: sympy.Rational("1.3"), z: sympy.Rational("-0.4")}
    for a in (x, y, z):
        exact = sum(float(sympy.diff(f, a, b).evalf(30, subs=subs)) * tangent[str(b)] for b in (x, y, z))
        assert p.hvp[str(a)] == pytest.approx(exact, rel=1e-12, abs=1e-13)


def test_array_tangents_have_their_variables_shape_and_missing_names_are_zero():
    values = {"W": [[1.0, 2.0], [3.0, 4.0]], "x": 2.0}
    p = gradcli.hvp("sum(W**3) * x", values, {"W": [[1, 0], [0, 1]]})
    # ∂²f/∂W² = 6W·x on the diagonal, ∂²f/∂W∂x = 3W²
    np.testing.assert_allclose(p.hvp["W"], [[12.0, 0.0], [0.0, 48.0]], rtol=1e-15)
    assert p.hvp["x"] == pytest.approx(51.0) and isinstance(p.hvp["x"], float)
    np.testing.assert_array_equal(p.tangent["W"], np.eye(2))
    assert p.tangent["x"] == 0.0
    assert gradcli.hvp("x * y", {"x": 1, "y": 2}, {}).hvp == {"x": 0.0, "y": 0.0}


def test_a_kink_along_the_tangent_is_warned():
    p = hvp_of_graph(gradcli.parse("relu(x) * y"), {"x": 0.0, "y": 2.0}, {"x": 1.0, "y": 1.0})
    assert p.hvp == {"x": 0.0, "y": 0.0}  # step(0) = 0: relu'(0) = 0
    assert any("kink" in w for w in p.warnings)


@pytest.mark.parametrize("tangent,error,needle", [
    ({"q": 1.0}, gradcli.GradcliError, "tangent q: not a variable"),
    ({"x": [1.0, 2.0]}, gradcli.ShapeError, "the tangent is shape (2,), but x is a scalar"),
    ({"x": "abc"}, gradcli.ValueFormatError, "cannot read 'abc'"),
    ({"x": float("nan")}, gradcli.ValueFormatError, "finite"),
    ({"v": 1.0}, gradcli.ShapeError, "the tangent is a scalar, but v is shape (2,)"),
])
def test_bad_tangents(tangent, error, needle):
    with pytest.raises(error) as info:
        gradcli.hvp("x * sum(v)", {"x": 1.0, "v": [1.0, 2.0]}, tangent)
    assert needle in str(info.value)


def test_other_bad_input():
    with pytest.raises(gradcli.ShapeError, match="scalar f"):
        gradcli.hvp("v * 2", {"v": [1.0, 2.0]}, {"v": [1.0, 1.0]})
    with pytest.raises(gradcli.MissingValueError):
        gradcli.hvp("x * y", {"x": 1.0}, {"x": 1.0})
    with pytest.raises(TypeError, match="mapping"):
        gradcli.hvp("x * y", {"x": 1.0, "y": 2.0}, [1.0, 2.0])


# -- the command line -------------------------------------------------------------------------------

def test_cli_json_and_table(cli):
    result = cli("hessian", "x**2 * y + sin(x*y)", "x=1", "y=2", "--tangent", "x=1", "-t", "y=-0.5", "-f", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    h = gradcli.hessian("x**2 * y + sin(x*y)", x=1, y=2)
    assert doc["variables"] == ["x", "y"] and doc["tangent"] == [1.0, -0.5] and doc["warnings"] == []
    np.testing.assert_allclose(doc["hvp"], h.matrix @ [1.0, -0.5], rtol=1e-12)
    np.testing.assert_allclose(doc["gradient"], h.gradient, rtol=1e-15)
    table = cli("hessian", "x**2 * y", "x=3", "y=2", "--tangent", "x=1")
    assert table.exit_code == 0 and "Hessian-vector product of x**2 * y" in table.stdout
    assert [line.split() for line in table.stdout.splitlines() if line.startswith(("x ", "y "))] == \
        [["x", "|", "12", "|", "1", "|", "4"], ["y", "|", "9", "|", "0", "|", "6"]]


def test_cli_csv_and_plain_with_an_array_tangent(cli):
    args = ("hessian", "sum(W**3) * x", "W=[[1,2],[3,4]]", "x=2", "--tangent", "W=[[1,0],[0,1]]")
    rows = list(csv.reader(io.StringIO(cli(*args, "-f", "csv").stdout)))
    assert rows[0] == ["variable", "gradient", "tangent", "hvp"]
    assert rows[1] == ["W[0,0]", "6.0", "1.0", "12.0"] and rows[5] == ["x", "100.0", "0.0", "51.0"]
    lines = cli(*args, "-f", "plain").stdout.splitlines()
    assert lines[0] == "f 200.0" and lines[4] == "W[1,1] 96.0 1.0 48.0"


@pytest.mark.parametrize("args,needle", [
    (("x*y", "x=1", "y=2", "-t", "q=1"), "tangent q: not a variable"),
    (("x*y", "x=1", "y=2", "-t", "x=[1,2]"), "but x is a scalar"),
    (("x*y", "x=1", "y=2", "-t", "x=abc"), "cannot read 'abc'"),
    (("x*y", "x=1", "y=2", "-t", "x=inf"), "finite"),
    (("x*y", "x=1", "y=2", "-t", "x"), "NAME=VALUE"),
    (("x*y", "x=1", "y=2", "-t", "x=1", "-t", "x=2"), "twice"),
    (("x*y", "x=1", "y=2", "-t", "x=1", "--wrt", "x"), "--wrt and --tangent"),
    (("v*2", "v=[1,2]", "-t", "v=[1,1]"), "scalar f"),
])
def test_cli_bad_tangents_exit_1_with_one_message(cli, args, needle):
    result = cli("hessian", *args)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and needle in result.stderr, result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("args,stdin,needle", [
    (("x*y", "x=@-", "y=2", "-t", "x=@-"), "1", "x=@- and --tangent x=@- both read stdin"),
    (("-", "x=1", "y=2", "-t", "x=@-"), "x*y", "the program (-) and --tangent x=@- both read stdin"),
])
def test_cli_a_tangent_and_a_value_cannot_both_read_stdin(args, stdin, needle):
    from typer.testing import CliRunner

    from gradcli.commands.cli import app

    result = CliRunner().invoke(app, ["hessian", *args], input=stdin)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("error: ") and needle in result.stderr, result.stderr


def test_cli_strict_and_a_tangent_from_a_file(cli, tmp_path):
    path = tmp_path / "v.json"
    path.write_text("[1.0, -1.0]")
    result = cli("hessian", "dot(v, v)**2", "v=[1,2]", "-t", f"v=@{path}", "-f", "json")
    assert result.exit_code == 0, result.stderr
    v, t = np.array([1.0, 2.0]), np.array([1.0, -1.0])
    np.testing.assert_allclose(json.loads(result.stdout)["hvp"], (8 * np.outer(v, v) + 4 * (v @ v) * np.eye(2)) @ t)
    assert cli("hessian", "log(x) * y", "x=0", "y=2", "-t", "x=1", "--strict").exit_code == 1


@pytest.mark.parametrize("source,values", SCALAR_CASES[:6], ids=[c[0][:30] for c in SCALAR_CASES[:6]])
def test_float_values_give_the_engines_gradient_to_the_bit(source, values):
    # Python floats: f, the gradient and H·v come from the float pass alone (no first-order
    # engine run); they must be what the engine and the general path give
    p = gradcli.hvp(source, values, {name: 0.5 for name in values})
    r = gradcli.evaluate(source, values)
    assert p.gradients == r.gradients and p.f == r.value and p.warnings == r.warnings
    q = gradcli.hvp(source, {k: np.float64(v) for k, v in values.items()}, {name: 0.5 for name in values})
    assert q.gradients == r.gradients
    np.testing.assert_allclose(q.flat("hvp"), p.flat("hvp"), rtol=1e-15, atol=1e-15)


def test_a_network_on_arrays_against_finite_differences():
    # the linear gates (@, sums, expand/sum_as) carry the tangent through the op itself, not a
    # Jacobian built row by row: at this size that is the difference between ms and seconds
    rng = np.random.default_rng(7)
    values = {"X": rng.normal(size=(60, 6)), "W1": 0.3 * rng.normal(size=(6, 12)), "b1": 0.1 * rng.normal(size=12),
              "W2": 0.3 * rng.normal(size=(12, 1)), "Y": rng.normal(size=(60, 1))}
    source = "sum((tanh(X @ W1 + b1) @ W2 - Y)**2) / 4"
    tangent = {name: rng.normal(size=np.shape(values[name])) for name in ("W1", "b1", "W2")}
    p = gradcli.hvp(source, values, tangent)
    assert p.hvp["W1"].shape == (6, 12) and p.hvp["X"].shape == (60, 6)
    assert close(p.flat("hvp"), fd_hvp(source, values, tangent), rtol=1e-6)
