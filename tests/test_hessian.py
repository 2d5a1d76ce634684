"""gradcli hessian and gradcli.hessian: the matrix of second derivatives.

Checked against numbers computed independently: by hand, central differences of gradcli's own
first-order gradients, and SymPy's exact second derivatives on random expressions (like the
oracle test's). Also: symmetry, array labels, --wrt, kinks, nan/inf, every format, bad input."""

from __future__ import annotations

import csv
import io
import json
import random

import numpy as np
import pytest

import gradcli
from gradcli.evaluation.hessian import element_labels
from gradcli.evaluation.hessian import hessian as hessian_of_graph


def fd_hessian(source: str, values: dict, names: list[str] | None = None, h: float = 1e-5) -> np.ndarray:
    """Central differences of gradcli's first-order gradient, one variable element at a time."""
    graph = gradcli.parse(source)
    base = {k: np.array(v, dtype=np.float64) for k, v in values.items()}
    names = names or list(graph.evaluate(base).gradients)

    def gradient(point):
        grads = graph.evaluate(point, trace=False).gradients
        return np.concatenate([np.ravel(grads[name]) for name in names])

    columns = []
    for name in names:
        for index in np.ndindex(base[name].shape):
            moved = []
            for step in (h, -h):
                point = {k: v.copy() for k, v in base.items()}
                point[name][index] += step
                moved.append(gradient(point))
            columns.append((moved[0] - moved[1]) / (2 * h))
    return np.array(columns).T


def close(ours, theirs, rtol=1e-6):
    scale = max(float(np.max(np.abs(theirs))), 1.0)
    return np.allclose(ours, theirs, rtol=rtol, atol=rtol * scale)


# -- by hand ---------------------------------------------------------------------------------------

def test_by_hand():
    h = gradcli.hessian("x**2 * y", x=3, y=2)
    assert h.names == ["x", "y"]
    assert h.f == pytest.approx(18.0)
    np.testing.assert_allclose(h.gradient, [12.0, 9.0], rtol=1e-15)
    np.testing.assert_allclose(h.matrix, [[4.0, 6.0], [6.0, 0.0]], rtol=1e-15, atol=0)
    assert h.matrix.dtype == np.float64 and h.matrix.shape == (2, 2) and h.gradient.shape == (2,)
    assert h.symmetric


def test_values_as_mapping_and_keywords():
    a = gradcli.hessian("x*y*z", {"x": 1.0, "y": 2.0}, z=3.0)
    np.testing.assert_allclose(a.matrix, [[0, 3, 2], [3, 0, 1], [2, 1, 0]], atol=1e-15)
    b = gradcli.hessian("x*y*z", {"x": 1.0, "y": 2.0, "z": 3.0}, ["z", "x"])
    assert b.names == ["z", "x"]
    np.testing.assert_allclose(b.matrix, [[0, 2], [2, 0]], atol=1e-15)


# -- against finite differences of the first-order gradient ----------------------------------------

SCALAR_CASES = [
    ("sin(x*y) + exp(y/z) - log(1 + x**2)*z", {"x": 0.7, "y": -1.3, "z": 2.1}),
    ("sigmoid(w0*x0 + w1*x1 + w2)", {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}),
    ("tanh(x)**3 / (1 + y**2) + sqrt(x*x + y*y + 1)", {"x": 0.4, "y": 1.7}),
    ("x**y + y**3", {"x": 1.6, "y": 2.3}),
    ("softplus(x - y) * cos(y) / (x + 3)", {"x": 0.2, "y": 0.9}),
    ("q = x*y\nr = q + sin(q)\nr**2 - x", {"x": 1.1, "y": 0.6}),
    ("sig(t) = 1/(1+exp(-t)); sig(x*y) * x", {"x": 0.5, "y": -1.5}),
    ("max(x, y)**2 + min(x*y, 1)", {"x": 0.3, "y": 0.8}),
    ("abs(x - 2*y)**3 + relu(x)*y**2", {"x": 0.8, "y": 1.5}),
    ("tan(x/3) * y + pi*x", {"x": 0.4, "y": 2.0}),
]


@pytest.mark.parametrize("source,values", SCALAR_CASES, ids=[c[0][:30] for c in SCALAR_CASES])
def test_scalar_programs_against_finite_differences(source, values):
    h = gradcli.hessian(source, values)
    assert close(h.matrix, fd_hessian(source, values, h.names), rtol=1e-6), (h.matrix, fd_hessian(source, values))
    assert h.symmetric
    other = hessian_of_graph(gradcli.parse(source), values, method="graph")
    np.testing.assert_allclose(other.matrix, h.matrix, rtol=1e-12, atol=1e-14)


ARRAY_CASES = [
    ("sum(W * W * x) + dot(v, v)**2", {"W": [[1.0, -2.0, 0.5], [0.3, 1.5, -1.0]], "x": 0.7, "v": [0.2, -0.4, 1.1]}),
    ("norm(v)**3 + sum(exp(v) * x)", {"v": [0.5, -1.2, 2.0], "x": 1.3}),
    ("logsumexp(v * x)", {"v": [0.5, -1.2, 2.0], "x": 0.8}),
    ("sum(tanh(W @ v))", {"W": [[0.3, -0.2, 0.5], [0.1, 0.4, -0.6]], "v": [1.0, 2.0, -1.0]}),
    ("mean(v**3) * sum(T(W) @ u)", {"v": [0.5, 1.5], "W": [[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]], "u": [0.4, -0.3]}),
    ("max(v) * x + sum(sin(v))", {"v": [0.1, 0.9, -0.4], "x": 2.0}),
    ("sum((tanh(X @ W1 + b1) @ W2 - Y)**2) / 4",
     {"X": [[0.5, -1.0], [1.5, 0.2], [-0.3, 0.8], [1.0, 1.0]], "W1": [[0.2, -0.5, 0.1], [0.7, 0.3, -0.2]],
      "b1": [0.1, -0.1, 0.05], "W2": [[0.4], [-0.6], [0.2]], "Y": [[1.0], [0.0], [0.5], [-0.5]]}),
]


@pytest.mark.parametrize("source,values", ARRAY_CASES, ids=[c[0][:30] for c in ARRAY_CASES])
def test_array_programs_against_finite_differences(source, values):
    h = gradcli.hessian(source, values)
    assert close(h.matrix, fd_hessian(source, values, list(h.variables)), rtol=1e-6)
    assert h.symmetric


def test_network_hessian_with_respect_to_the_weights_only():
    source, values = ARRAY_CASES[-1]
    h = gradcli.hessian(source, values, ["W2", "b1"])
    assert h.names == ["W2[0,0]", "W2[1,0]", "W2[2,0]", "b1[0]", "b1[1]", "b1[2]"]
    assert close(h.matrix, fd_hessian(source, values, ["W2", "b1"]), rtol=1e-6)


# -- against SymPy on random expressions ----------------------------------------------------------

sympy = pytest.importorskip("sympy")


def to_sympy(tree):
    """The oracle test's translation, and the steps of the registry; None for an op it lacks."""
    from test_oracle import _BINARY, _UNARY, SYMBOLS

    unary = {"step": lambda a: sympy.Heaviside(a, 0), "sign": sympy.sign, "sinh": sympy.sinh,
             "cosh": sympy.cosh, **_UNARY}
    binary = {"equal": lambda a, b: sympy.Piecewise((1, sympy.Eq(a, b)), (0, True)), **_BINARY}
    kind = tree[0]
    if kind == "var":
        return SYMBOLS[tree[1]]
    if kind == "const":
        return sympy.Rational(tree[1])
    args = [to_sympy(kid) for kid in tree[1:]]
    table = unary if len(args) == 1 else binary
    if kind not in table or any(a is None for a in args):
        return None
    return table[kind](*args)


@pytest.mark.parametrize("batch", range(4))
def test_random_expressions_agree_with_sympy(batch):
    from exprtrees import VARIABLES, safe_tree, text, well_conditioned
    from test_oracle import SYMBOLS

    rng = random.Random(1000 + batch)
    compared = 0
    cases = 30
    for _ in range(cases):
        tree = safe_tree(rng, 3)
        expr = to_sympy(tree)
        values = {name: rng.uniform(-2.0, 2.0) for name in VARIABLES}
        if expr is None:
            continue
        graph = gradcli.parse(text(tree))
        used = {name: values[name] for name in graph.variables}
        if not used or not well_conditioned(graph.evaluate(used)):
            continue
        h = gradcli.hessian(text(tree), used)
        if not np.isfinite(h.matrix).all() or np.max(np.abs(h.matrix)) >= 1e4:
            continue
        # the two passes (floats without the gradient graph; the gradient graph in NumPy) agree
        other = hessian_of_graph(graph, used, method="graph").matrix
        assert np.allclose(other, h.matrix, rtol=1e-12, atol=1e-12 * np.max(np.abs(h.matrix))), text(tree)
        subs = {SYMBOLS[name]: sympy.Rational(value) for name, value in used.items()}
        scale = max(float(np.max(np.abs(h.matrix))), abs(h.f), float(np.max(np.abs(h.gradient))))
        for i, a in enumerate(h.names):
            for j, b in enumerate(h.names):
                second = sympy.diff(expr, SYMBOLS[a], SYMBOLS[b])
                # away from the kinks (well_conditioned), the jumps' derivatives are 0
                second = second.replace(sympy.DiracDelta, lambda *args: sympy.S.Zero)
                exact = float(second.evalf(30, subs=subs))
                if abs(exact) < 1e-3 * scale:  # cancellation, not gradcli, sets the error there
                    assert abs(h.matrix[i, j] - exact) <= 1e-9 * scale, (text(tree), used, a, b)
                    continue
                assert h.matrix[i, j] == pytest.approx(exact, rel=1e-9), (text(tree), used, a, b)
        compared += 1
    assert compared >= cases // 3


# -- shapes, labels, symmetry -----------------------------------------------------------------------

def test_array_variables_are_labelled_by_element_in_c_order():
    h = gradcli.hessian("sum(W**3) * x", W=[[1.0, 2.0], [3.0, 4.0]], x=2.0)
    assert h.names == ["W[0,0]", "W[0,1]", "W[1,0]", "W[1,1]", "x"]
    assert h.variables == {"W": (2, 2), "x": ()}
    W = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(h.block("W"), np.einsum("ij,ik,jl->ijkl", 6 * W * 2, np.eye(2), np.eye(2)),
                               rtol=1e-14)
    np.testing.assert_allclose(h.block("W", "x"), 3 * W**2, rtol=1e-14)
    np.testing.assert_allclose(h.gradient, [*(3 * W**2 * 2).ravel(), np.sum(W**3)], rtol=1e-14)
    assert element_labels("T", (2, 1, 2))[-1] == "T[1,0,1]"


def test_symmetric_is_true_in_the_smooth_case_and_false_at_a_crafted_matrix():
    h = gradcli.hessian("exp(x*y) + sin(x)*y**3", x=0.3, y=1.2)
    assert h.symmetric and h.asymmetry <= 1e-12
    h.matrix = np.array([[1.0, 2.0], [3.0, 1.0]])
    assert not h.symmetric


def test_repr_and_block_errors():
    h = gradcli.hessian("x*y", x=1, y=2)
    assert "Hessian(" in repr(h) and "'x'" in repr(h)
    with pytest.raises(gradcli.GradcliError, match="not a variable"):
        h.block("z")


# -- kinks and nan/inf ----------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["auto", "graph"])
def test_relu_at_its_kink_uses_the_convention_and_warns(method):
    h = hessian_of_graph(gradcli.parse("relu(x) * y"), {"x": 0.0, "y": 2.0}, method=method)
    np.testing.assert_array_equal(h.matrix, [[0.0, 0.0], [0.0, 0.0]])  # step(0) = 0: relu'(0) = 0
    kinds = [d.kind for d in h.diagnostics]
    assert kinds.count("kink") >= 2
    assert any("second derivative" in w and "step" in w for w in h.warnings)


def test_a_structural_zero_stays_zero_beside_an_infinite_second_derivative():
    # ∂²/∂x² sqrt(x) at 0 is -inf; ∂²/∂x∂y is 0 (y does not move x): not 0·inf = nan
    h = gradcli.hessian("sqrt(x) + y**2", x=0.0, y=1.0)
    assert h.matrix[0, 0] == -np.inf
    assert h.matrix[0, 1] == 0.0 and h.matrix[1, 0] == 0.0 and h.matrix[1, 1] == pytest.approx(2.0)
    assert any(d.kind == "domain" and "H[x,x]" in d.message for d in h.diagnostics)


def test_a_nan_is_reported_with_the_gate_it_came_from():
    h = gradcli.hessian("log(x) * y", x=0.0, y=2.0)
    assert not np.isfinite(h.matrix[0, 0])
    assert any("second derivative" in w and "from finite inputs" in w for w in h.warnings)


# -- bad input ------------------------------------------------------------------------------------

def test_a_non_scalar_f_is_refused():
    with pytest.raises(gradcli.ShapeError, match="scalar"):
        gradcli.hessian("v * 2", v=[1.0, 2.0])


def test_unknown_wrt_and_missing_values_and_no_variables():
    with pytest.raises(gradcli.GradcliError, match="--wrt q") as info:
        gradcli.hessian("x*y", {"x": 1, "y": 2}, ["q"])
    assert info.value.hint
    with pytest.raises(gradcli.MissingValueError):
        gradcli.hessian("x*y", x=1)
    with pytest.raises(gradcli.GradcliError, match="no variables"):
        gradcli.hessian("2*3")


# -- the command line -------------------------------------------------------------------------------

def test_cli_json(cli):
    result = cli("hessian", "x**2 * y", "x=3", "y=2", "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["variables"] == ["x", "y"] and doc["f"] == pytest.approx(18.0)
    np.testing.assert_allclose(doc["gradient"], [12.0, 9.0])
    np.testing.assert_allclose(doc["hessian"], [[4.0, 6.0], [6.0, 0.0]])
    assert doc["symmetric"] is True


def test_cli_table_marks_symmetry_and_shows_the_gradient(cli):
    result = cli("hessian", "x**2 * y + sin(x*y)", "x=1", "y=2")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "∂f/∂v" in out and "symmetric: H[v,w] = H[w,v] exactly ✓" in out and "f = 2.9093" in out
    assert "Hessian of x**2 * y + sin(x*y)" in out


def test_cli_csv_and_plain(cli):
    result = cli("hessian", "sum(W**3)", "W=[[1,2],[3,4]]", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["variable", "gradient", "W[0,0]", "W[0,1]", "W[1,0]", "W[1,1]"]
    assert [float(v) for v in rows[2][1:]] == pytest.approx([12.0, 0.0, 12.0, 0.0, 0.0])
    result = cli("hessian", "x*y", "x=1", "y=2", "-f", "plain")
    lines = result.stdout.splitlines()
    assert lines[0] == "f 2.0" and lines[1].split()[0] == "x"
    assert [float(v) for v in lines[1].split()[1:]] == pytest.approx([2.0, 0.0, 1.0])


def test_cli_wrt_subset_and_order(cli):
    full = json.loads(cli("hessian", "x*y**2*z", "x=1", "y=2", "z=3", "-f", "json").stdout)
    part = json.loads(cli("hessian", "x*y**2*z", "x=1", "y=2", "z=3", "--wrt", "z,x", "-f", "json").stdout)
    assert part["variables"] == ["z", "x"]
    H = np.array(full["hessian"])
    np.testing.assert_allclose(part["hessian"], H[np.ix_([2, 0], [2, 0])])


def test_cli_values_from_a_file(cli, tmp_path):
    path = tmp_path / "v.json"
    path.write_text('[1.0, 2.0]')
    result = cli("hessian", "dot(v, v)**2", f"v=@{path}", "-f", "json")
    assert result.exit_code == 0, result.stderr
    v = np.array([1.0, 2.0])
    np.testing.assert_allclose(json.loads(result.stdout)["hessian"], 8 * np.outer(v, v) + 4 * (v @ v) * np.eye(2))


@pytest.mark.parametrize("args,needle", [
    (("v*2", "v=[1,2]"), "scalar f"),
    (("x*y", "x=1", "y=2", "--wrt", "q"), "--wrt q"),
    (("x*y", "x=1"), "no value for variable y"),
    (("x*", "x=1"), "error"),
])
def test_cli_bad_input_exits_1_with_one_message(cli, args, needle):
    result = cli("hessian", *args)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and needle in result.stderr
    assert result.stdout == ""


def test_cli_usage_errors_exit_2(cli):
    assert cli("hessian", "x*y", "x=1", "y=2", "--format", "dot").exit_code == 2
    assert cli("hessian").exit_code == 2


def test_cli_strict_and_warnings(cli):
    result = cli("hessian", "log(x) * y", "x=0", "y=2", "--format", "json")
    assert result.exit_code == 0 and "warning:" in result.stderr
    assert cli("hessian", "log(x) * y", "x=0", "y=2", "--strict").exit_code == 1
    quiet = cli("hessian", "log(x) * y", "x=0", "y=2", "-q", "-f", "json")
    assert quiet.stderr == ""


def test_cli_under_term_dumb_writes_ascii_only(cli, monkeypatch):
    monkeypatch.setenv("TERM", "dumb")
    result = cli("hessian", "x**2 * y + sin(x*y)", "x=1", "y=2")
    assert result.exit_code == 0 and result.stdout.isascii()
    assert "symmetric: H[v,w] = H[w,v]" in result.stdout


def test_json_document_is_valid_json_with_nan_as_strings(cli):
    result = cli("hessian", "log(x) * y", "x=0", "y=2", "-f", "json", "-q")
    doc = json.loads(result.stdout)
    assert doc["hessian"][0][0] == "-Infinity" and doc["hessian"][1][1] == 0.0
    assert doc["warnings"] and result.stdout.isascii()


def test_a_wide_matrix_is_split_into_column_groups_on_a_terminal():
    from rich.console import Console

    from gradcli.render.hessian import render_table

    source = " + ".join(f"sin(x{i})*x{i + 1}" for i in range(15))
    h = gradcli.hessian(source, {f"x{i}": 0.1 * i for i in range(16)})
    console = Console(width=80, record=True, force_terminal=True, color_system=None)
    render_table(h, console, title="demo")
    text = console.export_text()
    assert "columns x0 to" in text and max(map(len, text.splitlines())) <= 80
    assert text.count("x15 ") >= 1


@pytest.mark.parametrize("method", ["auto", "graph"])
@pytest.mark.parametrize("source,values,warned", [
    ("max(v) * x", {"v": [1.0, 2.0], "x": 1.0}, False),  # equal(v, max(v)) moves with its kink
    ("max(v) * x", {"v": [2.0, 2.0], "x": 1.0}, True),  # a tie: the variables move it across
    ("max(x, y)**2", {"x": 1.0, "y": 2.0}, False),
    ("max(x, y)**2", {"x": 2.0, "y": 2.0}, True),
    ("relu(x - y) * y", {"x": 1.0, "y": 1.0}, True),
])
def test_a_second_order_kink_is_warned_only_where_the_variables_cross_it(method, source, values, warned):
    h = hessian_of_graph(gradcli.parse(source), values, method=method)
    # (a tie inside max(v) is max's own kink, warned as such, and max_weights' in its rule)
    assert any("second derivative" in w or "kink" in w for w in h.warnings) == warned, h.warnings
    assert close(h.matrix, h.matrix.T, rtol=1e-12) or warned
    if not warned:
        assert close(h.matrix, fd_hessian(source, values, list(h.variables)), rtol=1e-6)


def test_cli_program_file_and_values_file(cli, tmp_path):
    program = tmp_path / "f.grad"
    program.write_text("q = x*y\nq**2 + z\n")
    values = tmp_path / "v.json"
    values.write_text('{"x": 1.0, "y": 2.0, "z": 5.0}')
    result = cli("hessian", "--file", str(program), "--values", str(values), "-f", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    # f = x²y² + z: H = [[2y², 4xy, 0], [4xy, 2x², 0], [0, 0, 0]]
    np.testing.assert_allclose(doc["hessian"], [[8.0, 8.0, 0.0], [8.0, 2.0, 0.0], [0.0, 0.0, 0.0]])


def test_cli_refuses_a_matrix_past_the_memory_limit(cli):
    result = cli("hessian", "dot(v, v)", "v=[" + ",".join(["1"] * 40) + "]", "--max-memory", "10KB")
    assert result.exit_code == 1 and "memory" in result.stderr and result.stdout == ""


@pytest.mark.parametrize("source,values", SCALAR_CASES[:6], ids=[c[0][:30] for c in SCALAR_CASES[:6]])
def test_float_values_give_the_engines_gradient_to_the_bit(source, values):
    # Python floats: f and the gradient come from the Hessian's float pass alone (no first-order
    # engine run); they must be the engine's, and the matrix the general path's
    h = gradcli.hessian(source, values)
    r = gradcli.evaluate(source, values)
    assert h.gradient.tolist() == list(r.gradients.values()) and h.f == r.value and h.warnings == r.warnings
    other = gradcli.hessian(source, {k: np.float64(v) for k, v in values.items()})
    assert other.gradient.tolist() == h.gradient.tolist()
    np.testing.assert_allclose(other.matrix, h.matrix, rtol=1e-15, atol=1e-15)


def test_every_compiled_second_order_local_is_the_derivative_of_the_ops_local():
    # the float passes differentiate each rule's template once per op (_second_order): every op
    # with a float kernel, every input pair, against a central difference of its own local
    from gradcli.core.ops import OPS
    from gradcli.evaluation.edge_pushing import _second_order

    points = {1: (0.37,), 2: (0.37, 1.3), 3: (0.2, -0.5, 0.9)}
    checked = 0
    for op in OPS.values():
        if op.scalar is None:
            continue
        args = points[op.arity]
        for j, (pattern, phi) in enumerate(_second_order(op, (True,) * op.arity)):
            local = op.scalar.locals[j]
            if phi is None:  # a constant local (1.0 for +), or a rule that is a constant (0 for sign)
                continue
            got = phi(*args)
            for p, k in enumerate(pattern):
                up, down = list(args), list(args)
                up[k] += 1e-6
                down[k] -= 1e-6
                fd = (local(op.scalar.forward(*up), *up) - local(op.scalar.forward(*down), *down)) / 2e-6
                assert got[p] == pytest.approx(fd, rel=1e-5, abs=1e-5), (op.name, j, k)
                checked += 1
    assert checked >= 40


def test_cli_an_empty_wrt_is_a_usage_error(cli):
    result = cli("hessian", "x*y", "x=1", "y=2", "--wrt", ",")
    assert result.exit_code == 2 and result.stderr.startswith("error: --wrt needs at least one variable name")
