"""gradcli jacobian and gradcli.jacobian: the whole Jacobian of one or more outputs.

Checked against numbers computed independently: by hand, and central differences of gradcli's
own values; forward mode and reverse mode agree to rounding on random programs (scalars and small
arrays, fixed seeds). HIPS autograd as an oracle: tests/test_jacobian_oracle.py. Also: labels,
--outputs, --wrt, --mode, the four formats (exact output), kinks, nan/inf, bad input."""

from __future__ import annotations

import csv
import io
import json
import math
import random

import numpy as np
import pytest

import gradcli
from gradcli.evaluation.jacobian import jacobian as jacobian_of_graphs

from exprtrees import safe_tree, text

MODES = ("forward", "reverse")


def central_differences(source: str, values: dict, outputs: list[str], wrt: list[str], h: float = 1e-6):
    """J by central differences of gradcli's values, one input element at a time."""
    graphs = [gradcli.parse(source, output=name) for name in outputs]
    base = {k: np.array(v, dtype=np.float64) for k, v in values.items()}

    def f(point):
        return np.concatenate([np.ravel(g.evaluate({k: v for k, v in point.items() if k in g.variables},
                                                   trace=False).value) for g in graphs])

    columns = []
    for name in wrt:
        for index in np.ndindex(base[name].shape):
            moved = []
            for step in (h, -h):
                point = {k: v.copy() for k, v in base.items()}
                point[name][index] += step
                moved.append(f(point))
            columns.append((moved[0] - moved[1]) / (2 * h))
    return np.array(columns).T


# -- by hand ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES + ("auto",))
def test_two_outputs_of_a_program_by_hand(mode):
    # a = x·y, b = x + y at (2, 3): ∂a/∂x = y, ∂a/∂y = x, ∂b/∂x = ∂b/∂y = 1
    j = gradcli.jacobian("a = x*y; b = x + y", x=2, y=3, outputs=["a", "b"], mode=mode)
    assert j.rows == ["a", "b"] and j.columns == ["x", "y"]
    assert j.matrix.tolist() == [[3.0, 2.0], [1.0, 1.0]]
    assert j.matrix.dtype == np.float64 and j.shape == (2, 2)
    assert j.outputs == {"a": 6.0, "b": 5.0} and j.variables == {"x": (), "y": ()}
    assert j.mode == ("reverse" if mode == "auto" else mode) and j.warnings == []


@pytest.mark.parametrize("mode", MODES)
def test_an_array_output_and_a_matrix_variable_by_hand(mode):
    # f = W @ x: ∂f_i/∂W[j,k] = δ_ij x_k, ∂f_i/∂x_k = W[i,k]
    j = gradcli.jacobian("W @ x", W=[[1, 2], [3, 4]], x=[5, 6], mode=mode)
    assert j.rows == ["f[0]", "f[1]"]
    assert j.columns == ["W[0,0]", "W[0,1]", "W[1,0]", "W[1,1]", "x[0]", "x[1]"]
    assert j.matrix.tolist() == [[5, 6, 0, 0, 1, 2], [0, 0, 5, 6, 3, 4]]
    assert j.outputs["f"].tolist() == [17.0, 39.0]
    assert j.block("f", "x").tolist() == [[1, 2], [3, 4]]
    assert j.block("f", "W").shape == (2, 2, 2) and j.block("f", "W")[1, 1].tolist() == [5, 6]


@pytest.mark.parametrize("mode", MODES)
def test_an_output_that_does_not_depend_on_a_variable_has_zeros_there(mode):
    j = gradcli.jacobian("h = x*2\ng = y**2\nh + g", x=1, y=3, outputs=["h", "g"], mode=mode)
    assert j.matrix.tolist() == [[2.0, 0.0], [0.0, 6.0]]


@pytest.mark.parametrize("mode", MODES)
def test_broadcasting_and_reductions_by_hand(mode):
    # f = x·v (x scalar, v of 3): ∂f_i/∂x = v_i, ∂f_i/∂v_k = x δ_ik
    j = gradcli.jacobian("x * v", x=2, v=[1, 2, 3], mode=mode)
    assert j.matrix.tolist() == [[1, 2, 0, 0], [2, 0, 2, 0], [3, 0, 0, 2]]
    # column sums of A (2×3): ∂s_j/∂A[i,k] = δ_jk
    j = gradcli.jacobian("s = sum(A, axis=0)", A=[[1, 2, 3], [4, 5, 6]], mode=mode)
    assert j.rows == ["s[0]", "s[1]", "s[2]"]
    assert j.matrix.tolist() == [[1, 0, 0, 1, 0, 0], [0, 1, 0, 0, 1, 0], [0, 0, 1, 0, 0, 1]]
    # a column vector times a row: (2,1) * (3,) is (2,3)
    j = gradcli.jacobian("c * r", c=[[1], [2]], r=[3, 4, 5], mode=mode)
    expected = np.zeros((6, 5))
    for i in range(2):
        for k in range(3):
            expected[3 * i + k, i] = [3, 4, 5][k]
            expected[3 * i + k, 2 + k] = [1, 2][i]
    assert j.rows[4] == "f[1,1]" and np.array_equal(j.matrix, expected)


@pytest.mark.parametrize("mode", MODES)
def test_scalar_and_array_outputs_together(mode):
    v = np.array([1.0, -2.0, 0.5])
    j = gradcli.jacobian("s = sum(v**2)\nt = v*3", v=v, outputs=["s", "t"], mode=mode)
    assert j.rows == ["s", "t[0]", "t[1]", "t[2]"]
    np.testing.assert_array_equal(j.matrix, np.vstack([2 * v, 3 * np.eye(3)]))


def test_wrt_chooses_and_orders_the_columns():
    j = gradcli.jacobian("W @ x", W=[[1, 2], [3, 4]], x=[5, 6], wrt=["x"])
    assert j.columns == ["x[0]", "x[1]"] and j.matrix.tolist() == [[1, 2], [3, 4]]
    j = gradcli.jacobian("a = x*y*z; b = z", x=1, y=2, z=3, outputs=["a", "b"], wrt=["z", "x"])
    assert j.columns == ["z", "x"] and j.matrix.tolist() == [[2.0, 6.0], [1.0, 0.0]]
    assert list(j.variables) == ["z", "x"]


def test_default_columns_are_first_use_order_across_the_outputs():
    j = gradcli.jacobian("a = y*2; b = x*y*z", x=1, y=2, z=3, outputs=["a", "b"])
    assert j.columns == ["y", "x", "z"]


def test_the_output_is_named_by_the_last_statement():
    assert gradcli.jacobian("q = x*2; g = q + 1", x=1).rows == ["g"]
    assert gradcli.jacobian("q = x*2; q + 1", x=1).rows == ["f"]
    assert gradcli.jacobian("g = v*2", v=[1, 2]).rows == ["g[0]", "g[1]"]


@pytest.mark.parametrize("source,values,outputs,wrt", [
    ("u = tanh(W @ x + b); y = sum(u**2)", {"W": [[0.1, -0.3, 0.2], [0.4, 0.5, -0.6]], "x": [1.0, -1.0, 0.5],
                                            "b": [0.1, 0.2]}, ["u", "y"], ["W", "x", "b"]),
    ("p = exp(v) / sum(exp(v))", {"v": [0.3, -1.2, 2.0]}, ["p"], ["v"]),
    ("n = norm(A, axis=1); m = mean(T(A) @ A)", {"A": [[1.0, 2.0], [0.5, -1.0], [3.0, 0.25]]}, ["n", "m"], ["A"]),
    ("r = logsumexp(v) * x; s = max(v * x)", {"v": [0.3, -1.2, 2.0], "x": 1.5}, ["r", "s"], ["v", "x"]),
])
@pytest.mark.parametrize("mode", MODES)
def test_against_central_differences(source, values, outputs, wrt, mode):
    j = gradcli.jacobian(source, values, outputs=outputs, mode=mode)
    assert j.columns == [c for name in wrt for c in gradcli.jacobian(source, values, outputs=outputs, wrt=[name]).columns]
    np.testing.assert_allclose(j.matrix, central_differences(source, values, outputs, wrt), rtol=1e-6, atol=1e-8)


def test_the_docstring_example():
    import doctest

    runner = doctest.DocTestRunner()
    for test in doctest.DocTestFinder().find(gradcli.jacobian, globs={"gradcli": gradcli}):
        runner.run(test)
    assert runner.summarize(verbose=False) == (0, 2)


# -- auto ------------------------------------------------------------------------------------------

def test_auto_takes_forward_for_few_inputs_and_reverse_for_few_outputs():
    wide = gradcli.jacobian("x * v", x=2, v=[1, 2, 3, 4, 5], wrt=["x"])
    assert wide.mode == "forward"
    assert wide.reason == "auto: 1 input element < 5 output elements: one forward pass with 1 tangent column"
    narrow = gradcli.jacobian("sum(v**2)", v=[1, 2, 3])
    assert narrow.mode == "reverse"
    assert narrow.reason == "auto: 1 output element <= 3 input elements: one backward sweep with 1 cotangent row"
    square = gradcli.jacobian("v * 2", v=[1, 2])
    assert square.mode == "reverse"
    assert gradcli.jacobian("v * 2", v=[1, 2], mode="forward").reason == \
        "asked for: one forward pass with 2 tangent columns"


def test_auto_with_a_constant_matrix_left_out_of_the_columns():
    rng = np.random.default_rng(0)
    A, x = rng.normal(size=(40, 3)), rng.normal(size=3)
    forward = gradcli.jacobian("A @ tanh(x)", A=A, x=x, wrt=["x"])
    assert forward.mode == "forward" and forward.shape == (40, 3)
    np.testing.assert_allclose(forward.matrix, A * (1 - np.tanh(x) ** 2), rtol=1e-14)
    B = rng.normal(size=(3, 40))
    x = rng.normal(size=40)
    reverse = gradcli.jacobian("B @ tanh(x)", B=B, x=x, wrt=["x"])
    assert reverse.mode == "reverse" and reverse.shape == (3, 40)
    np.testing.assert_allclose(reverse.matrix, B * (1 - np.tanh(x) ** 2), rtol=1e-14)


# -- forward mode and reverse mode agree: random programs ------------------------------------------

SHAPES = [
    {"x": (), "y": (), "z": ()},
    {"x": (2,), "y": (), "z": (2,)},
    {"x": (3, 1), "y": (2,), "z": ()},
    {"x": (2, 2), "y": (2,), "z": (1, 2)},
]
WRAPS = ["{}", "sum({})", "{} * x", "logsumexp({} + y)", "sum({}) * z"]


def random_program(seed: int):
    rng = random.Random(seed)
    shapes = rng.choice(SHAPES)
    first, second = text(safe_tree(rng, 3)), text(safe_tree(rng, 3))
    source = f"f = {first}\ng = {rng.choice(WRAPS).format(second)}\nf"
    values = {name: np.array([rng.uniform(-1.5, 1.5) for _ in range(math.prod(shape))]).reshape(shape)
              for name, shape in shapes.items()}
    return source, values


@pytest.mark.parametrize("batch", range(4))
def test_forward_and_reverse_agree_on_random_programs(batch):
    compared = 0
    for seed in range(batch * 40, (batch + 1) * 40):
        source, values = random_program(seed)
        graphs = {name: gradcli.parse(source, output=name) for name in ("f", "g")}
        used = {name: v for name, v in values.items() if any(name in g.variables for g in graphs.values())}
        if not used:
            continue
        forward = jacobian_of_graphs(graphs, used, mode="forward")
        reverse = jacobian_of_graphs(graphs, used, mode="reverse")
        assert forward.rows == reverse.rows and forward.columns == reverse.columns
        F, R = forward.matrix, reverse.matrix
        if not (np.isfinite(F).all() and np.isfinite(R).all()) or np.abs(F).max(initial=0) > 1e8:
            continue
        scale = max(1.0, float(np.abs(R).max(initial=0)))
        np.testing.assert_allclose(F, R, rtol=1e-9, atol=1e-12 * scale, err_msg=f"{source}\n{values}")
        compared += 1
    assert compared >= 30


# -- kinks, nan and inf ----------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_a_zero_cotangent_times_an_infinite_slope_counts_zero(mode):
    j = gradcli.jacobian("sqrt(v)", v=[0.0, 4.0], mode=mode)
    assert j.matrix.tolist() == [[math.inf, 0.0], [0.0, 0.25]]
    assert "the Jacobian holds inf at J[f[0],v[0]]" in j.warnings


@pytest.mark.parametrize("mode", MODES)
def test_warnings_nan_values_kinks_and_unused_values(mode):
    j = gradcli.jacobian("x*y", x=math.nan, y=1, mode=mode)
    assert "the value of 'x' holds nan" in j.warnings and "the Jacobian holds nan at J[f,y]" in j.warnings
    j = gradcli.jacobian("relu(x)*y", x=0, y=1, mode=mode)
    assert j.warnings == ["gate 'relu(x)' (relu, line 1, column 1) is at its kink; using the convention relu'(0) = 0"]
    assert j.matrix.tolist() == [[0.0, 0.0]]
    # z is used by no output: one warning; y by one of the two: none
    j = gradcli.jacobian("a = x*y; b = x*2", x=1, y=2, z=3, outputs=["a", "b"], mode=mode)
    assert j.warnings == ["a value was given for 'z', which the expression does not use"]
    j = gradcli.jacobian("a = x*y; b = x*2; c = abs(x)", x=0, y=2, outputs=["a", "b", "c", "c"], mode=mode)
    assert j.rows == ["a", "b", "c"] and len(j.warnings) == 1 and "kink" in j.warnings[0]


# -- bad input -------------------------------------------------------------------------------------

def test_bad_input_raises_gradcli_errors():
    with pytest.raises(gradcli.GradcliError, match="cannot differentiate with respect to 'q'") as info:
        gradcli.jacobian("x*y", x=1, y=2, wrt=["q"])
    with pytest.raises(gradcli.GradcliError, match="did you mean 'xs'"):
        gradcli.jacobian("xs*y", xs=1, y=2, wrt=["xz"])
    assert info.value.hint == "variables: x, y"
    with pytest.raises(gradcli.GradcliError, match="nothing to differentiate"):
        gradcli.jacobian("2*3")
    with pytest.raises(gradcli.GradcliError, match="no statement of the program assigns 'h'"):
        gradcli.jacobian("a = x*2; a", x=1, outputs=["h"])
    with pytest.raises(gradcli.MissingValueError):
        gradcli.jacobian("x*y", x=1)
    with pytest.raises(ValueError, match="mode"):
        gradcli.jacobian("x*y", x=1, y=2, mode="sideways")
    with pytest.raises(gradcli.ShapeError):
        gradcli.jacobian("a + b", a=[1, 2], b=[1, 2, 3])


def test_the_memory_limit_is_checked_before_the_work():
    graph = gradcli.parse("v * 2")
    with pytest.raises(gradcli.ResourceError, match="a Jacobian of 1000 × 1000 entries") as info:
        jacobian_of_graphs({"f": graph}, {"v": np.ones(1000)}, max_memory=4_000_000)
    assert "--" not in info.value.hint  # the API names no command-line flag
    # the matrix (8 MB) fits, the pass (a tangent or cotangent 1000 wide at v and at v*2) does not
    for mode, what in (("reverse", "backward sweep with 1000 cotangent rows"),
                       ("forward", "forward pass with 1000 tangent columns")):
        with pytest.raises(gradcli.ResourceError, match=f"the {what} over 'f' needs more memory") as info:
            jacobian_of_graphs({"f": graph}, {"v": np.ones(1000)}, mode=mode, max_memory=10_000_000)
        assert "--" not in info.value.hint


# -- the command line ------------------------------------------------------------------------------

PROGRAM = ("jacobian", "a = x*y; b = x + y", "x=2", "y=3", "--outputs", "a,b")


def test_cli_table(cli):
    result = cli(*PROGRAM)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "Jacobian of a, b\n"
        "row: an output element, column: an input element; each entry ∂row/∂column\n"
        "  | x | y\n"
        "--+---+--\n"
        "a | 3 | 2\n"
        "b | 1 | 1\n"
        "\n"
        "a = 6\n"
        "b = 5\n"
        "mode: reverse (auto: 2 output elements <= 2 input elements: one backward sweep with 2 cotangent rows)\n")
    result = cli("jacobian", "W @ x", "W=[[1,2],[3,4]]", "x=[5,6]", "--wrt", "x", "--mode", "forward")
    assert result.stdout == (
        "Jacobian of W @ x\n"
        "row: an output element, column: an input element; each entry ∂row/∂column\n"
        "     | x[0] | x[1]\n"
        "-----+------+-----\n"
        "f[0] |    1 |    2\n"
        "f[1] |    3 |    4\n"
        "\n"
        "f = (2,) [17, 39]\n"
        "mode: forward (asked for: one forward pass with 2 tangent columns)\n")


def test_cli_json(cli):
    result = cli(*PROGRAM, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        '{\n'
        '  "outputs": {"a": 6.0, "b": 5.0},\n'
        '  "rows": ["a", "b"],\n'
        '  "columns": ["x", "y"],\n'
        '  "jacobian": [\n'
        '    [3.0, 2.0],\n'
        '    [1.0, 1.0]\n'
        '  ],\n'
        '  "mode": "reverse",\n'
        '  "reason": "auto: 2 output elements <= 2 input elements: one backward sweep with 2 cotangent rows",\n'
        '  "warnings": []\n'
        '}\n')
    doc = json.loads(cli("jacobian", "g = sqrt(v)", "v=[0,4]", "-f", "json", "-q").stdout)
    assert doc["jacobian"] == [["Infinity", 0.0], [0.0, 0.25]] and doc["outputs"] == {"g": [0.0, 2.0]}
    assert doc["warnings"][-1] == "the Jacobian holds inf at J[g[0],v[0]]"


def test_cli_csv_and_plain(cli):
    result = cli(*PROGRAM, "--format", "csv")
    assert result.stdout == "output,x,y\na,3.0,2.0\nb,1.0,1.0\n"
    result = cli("jacobian", "sin(W)", "W=[[0,1]]", "-f", "csv")
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["output", "W[0,0]", "W[0,1]"] and rows[2] == ["f[0,1]", "0.0", repr(math.cos(1.0))]
    result = cli(*PROGRAM, "--format", "plain")
    assert result.stdout == "a 3.0 2.0\nb 1.0 1.0\n"


def test_cli_warnings_go_to_stderr_and_strict_fails(cli):
    result = cli("jacobian", "x*y", "x=nan", "y=1", "-f", "plain")
    assert result.exit_code == 0 and result.stdout == "f 1.0 NaN\n"
    assert result.stderr == ("warning: the value of 'x' holds nan\n"
                             "warning: the Jacobian holds nan at J[f,y]\n")
    assert cli("jacobian", "x*y", "x=nan", "y=1", "--strict").exit_code == 1
    assert cli("jacobian", "x*y", "x=nan", "y=1", "-q").stderr == ""


@pytest.mark.parametrize("args,message", [
    (("a = x*2; a", "x=1", "--outputs", "h"), "error: no statement of the program assigns 'h'"),
    (("x*y", "x=1", "y=2", "--wrt", "xx"), "error: cannot differentiate with respect to 'xx'"),
    (("2*3",), "error: nothing to differentiate"),
    (("x*y", "x=1"), "error: no value for variable y"),
    (("v*2", "v=[" + ",".join(["1"] * 100) + "]", "--max-memory", "10KB"),
     "error: a Jacobian of 100 × 100 entries needs more memory than the limit\n"
     "hint: choose fewer variables with --wrt or fewer outputs with --outputs, or raise --max-memory"),
])
def test_cli_bad_input_exits_1_with_one_message(cli, args, message):
    result = cli("jacobian", *args)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith(message) and result.stderr.count("error:") == 1


def test_cli_usage_errors_exit_2(cli):
    result = cli("jacobian", "x*y", "x=1", "y=2", "--mode", "sideways")
    assert result.exit_code == 2 and "'sideways' is not one of 'auto', 'forward', 'reverse'" in result.stderr
    assert cli("jacobian", "x*y", "x=1", "y=2", "--format", "dot").exit_code == 2
    assert cli("jacobian").exit_code == 2


def test_cli_through_a_subprocess():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "gradcli", "jacobian", "W @ x", "W=[[1,2],[3,4]]", "x=[5,6]",
                           "--wrt", "W", "-f", "csv"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ('output,"W[0,0]","W[0,1]","W[1,0]","W[1,1]"\n'
                           "f[0],5.0,6.0,0.0,0.0\n"
                           "f[1],0.0,0.0,5.0,6.0\n")


def test_cli_under_term_dumb_writes_ascii_only(cli, monkeypatch):
    monkeypatch.setenv("TERM", "dumb")
    result = cli(*PROGRAM)
    assert result.exit_code == 0 and result.stdout.isascii() and "drow/dcolumn" in result.stdout


def test_a_wide_matrix_is_split_into_column_groups_on_a_terminal():
    from rich.console import Console

    from gradcli.render.jacobian import render_table

    j = gradcli.jacobian("v * w", v=np.linspace(0.1, 2, 20), w=1.5)
    console = Console(width=80, record=True, force_terminal=True, color_system=None)
    render_table(j, console, title="demo")
    text_ = console.export_text()
    assert "columns v[0] to" in text_ and max(map(len, text_.splitlines())) <= 80
    assert "mode: reverse" in text_ and text_.count("f[19]") >= 2


def test_cli_empty_outputs_is_a_usage_error_and_files_work(cli, tmp_path):
    assert cli("jacobian", "x*y", "x=1", "y=2", "--outputs", ",").exit_code == 2
    program = tmp_path / "f.grad"
    program.write_text("q = x*y\nr = q**2 + z\n")
    values = tmp_path / "v.json"
    values.write_text('{"x": 1.0, "y": 2.0, "z": 5.0}')
    result = cli("jacobian", "--file", str(program), "--values", str(values), "--outputs", "q,r", "-f", "csv")
    assert result.exit_code == 0, result.stderr
    # q = xy: (y, x, 0); r = x²y² + z: (2xy², 2x²y, 1)
    assert result.stdout == "output,x,y,z\nq,2.0,1.0,0.0\nr,8.0,4.0,1.0\n"


def test_an_empty_name_list_is_a_usage_error(cli):
    # as for every command's --wrt and --outputs: exit 2, the flag named
    result = cli("jacobian", "x*y", "x=1", "y=2", "--wrt", ",")
    assert result.exit_code == 2 and result.stderr.startswith("error: --wrt needs at least one variable name")
    result = cli("jacobian", "x*y", "x=1", "y=2", "--outputs", "")
    assert result.exit_code == 2 and result.stderr.startswith("error: --outputs needs at least one output name")
