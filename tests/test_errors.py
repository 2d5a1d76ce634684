"""Bad input: the exit code, one clear message on stderr, never a traceback.

Exit codes: 0 success (warnings allowed); 1 bad input, or a nan/inf under --strict; 2 a usage
error of the command line itself.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

import gradcli

REPO = Path(__file__).resolve().parent.parent

# (id, arguments after `gradcli`, exit code, texts that stderr must contain)
ROWS = [
    # syntax errors: what, where, and a caret
    ("unclosed-paren", ["eval", "(x + "], 1,
     ["error:", "unexpected end of input", "line 1, column 5", "^", "the '(' at column 1 is not closed"]),
    ("double-operator", ["eval", "x ** * 2"], 1, ["error:", "unexpected '*'", "line 1, column 6", "^"]),
    ("juxtaposition", ["eval", "3x"], 1, ["error:", "line 1, column 2", "3*x"]),
    ("second-line", ["eval", "a = 1\nb = (a + "], 1, ["error:", "line 2, column 9"]),
    ("bad-character", ["eval", "x $ y"], 1, ["error:", "'$'", "line 1, column 3"]),
    # names without values: all of them, and how to give them
    ("missing-variables", ["eval", "x * y"], 1, ["error:", "x, y", "--set x=", "--set y="]),
    ("missing-some", ["eval", "x * y * z", "--set", "y=1"], 1, ["error:", "x, z", "--set x=", "--set z="]),
    # values that are not values: the message names the flag
    ("value-not-a-number", ["eval", "x", "--set", "x=abc"], 1, ["error:", "--set x=abc", "'abc'"]),
    ("value-without-equals", ["eval", "x", "--set", "x"], 1, ["error:", "--set", "NAME=VALUE"]),
    ("value-unclosed-list", ["eval", "x", "--set", "x=[1,2"], 1, ["error:", "--set x=[1,2", "not closed"]),
    ("value-ragged", ["eval", "x", "--set", "x=[[1,2],[3]]"], 1, ["error:", "--set", "rectangular"]),
    ("value-empty", ["eval", "x", "--set", "x="], 1, ["error:", "--set", "no value"]),
    ("value-bad-name", ["eval", "x", "--set", "1x=2"], 1, ["error:", "--set", "not a variable name"]),
    ("value-twice", ["eval", "x", "--set", "x=1", "--set", "x=2"], 1, ["error:", "--set x", "twice"]),
    # unknown functions and argument counts
    ("unknown-function", ["eval", "exq(x)", "--set", "x=1"], 1,
     ["error:", "unknown function 'exq'", "did you mean 'exp'", "line 1, column 1"]),
    ("unknown-function-sqr", ["eval", "sqr(x)", "--set", "x=1"], 1, ["error:", "did you mean 'sqrt'"]),
    ("too-few-arguments", ["eval", "pow(x)", "--set", "x=1"], 1, ["error:", "pow", "2 arguments", "got 1"]),
    ("too-many-for-overloads", ["eval", "max(x, x, x)", "--set", "x=1"], 1,
     ["error:", "max takes 1 or 2 arguments", "got 3", "max(x) or max(x, y)"]),
    ("too-many-arguments", ["eval", "exp(x, x)", "--set", "x=1"], 1, ["error:", "exp", "1 argument", "got 2"]),
    # arrays that do not broadcast: the gate and both shapes
    ("shapes", ["eval", "x + y", "--set", "x=[1,2,3]", "--set", "y=[1,2]"], 1,
     ["error:", "(3,)", "(2,)", "'x + y' (+)", "do not broadcast"]),
    ("shapes-2d", ["eval", "z * (x * y)", "--set", "x=[1,2,3]", "--set", "y=[[1,2],[3,4]]",
                   "--set", "z=1"], 1, ["error:", "(3,)", "(2, 2)", "'x * y' (*)"]),
    # empty programs
    ("empty", ["eval", ""], 1, ["error:", "nothing to evaluate"]),
    ("blank", ["eval", "   \n  "], 1, ["error:", "nothing to evaluate"]),
    ("only-comment", ["eval", "# nothing here"], 1, ["error:", "nothing to evaluate"]),
]


@pytest.mark.parametrize("args, code, needles", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_bad_input_row(cli, args, code, needles):
    result = cli(*args)
    assert result.exit_code == code, (result.stdout, result.stderr)
    for needle in needles:
        assert needle in result.stderr, f"{needle!r} not in stderr:\n{result.stderr}"
    assert result.stdout == "", "errors go to stderr; nothing is printed on stdout"
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("error:") == 1


@pytest.mark.parametrize("expression, column", [("(x + ", 5), ("x ** * 2", 6), ("3x", 2), ("x $ y", 3)])
def test_syntax_error_caret_points_at_the_column(cli, expression, column):
    lines = cli("eval", expression).stderr.splitlines()
    assert f"line 1, column {column}" in lines[0]
    assert lines[1] == "  " + expression
    assert lines[2].rstrip() == "  " + " " * (column - 1) + "^"


def test_juxtaposition_hint(cli):
    stderr = cli("eval", "3x + 1", "--set", "x=1").stderr
    assert "hint:" in stderr and "3*x" in stderr


def test_unused_value_is_a_warning_with_did_you_mean(cli):
    result = cli("eval", "x + 1", "--set", "x=1", "--set", "xx=2")
    assert result.exit_code == 0
    assert "warning:" in result.stderr
    assert "'xx'" in result.stderr and "did you mean 'x'" in result.stderr
    assert "error:" not in result.stderr
    assert "∂f/∂x = 1" in result.stdout
    assert "xx" not in result.stdout.split("f = ")[-1]  # no gradient for a name not used


DOMAIN_ROWS = [
    # (expression, values, gate text, op, position, what)
    ("log(-1)", [], "log(-1)", "log", "line 1, column 1", "nan"),
    ("sqrt(-1)", [], "sqrt(-1)", "sqrt", "line 1, column 1", "nan"),
    ("1/0", [], "1/0", "(/, ", "line 1, column 1", "inf"),
    ("exp(1000)", [], "exp(1000)", "(exp, ", "line 1, column 1", "inf"),
    ("y + log(x)", ["--set", "x=-1", "--set", "y=2"], "log(x)", "(log, ", "line 1, column 5", "nan"),
    # a gate bound to a name is called by its name
    ("a = 2\nb = 1 / (a - 2)", [], "b", "(1/x, ", "line 2, column 5", "inf"),
]


@pytest.mark.parametrize("expression, values, gate, op, position, what", DOMAIN_ROWS,
                         ids=[row[0].replace("\n", ";") for row in DOMAIN_ROWS])
def test_domain_problem_is_a_warning(cli, expression, values, gate, op, position, what):
    result = cli("eval", expression, *values)
    assert result.exit_code == 0, result.stderr
    assert "warning:" in result.stderr
    warning = next(line for line in result.stderr.splitlines() if line.startswith("warning:"))
    assert f"'{gate}'" in warning
    assert op in warning
    assert position in warning
    assert what in warning
    assert "error:" not in result.stderr
    assert "f = " in result.stdout


@pytest.mark.parametrize("expression, values, gate, op, position, what", DOMAIN_ROWS,
                         ids=[row[0].replace("\n", ";") for row in DOMAIN_ROWS])
def test_domain_problem_under_strict_fails(cli, expression, values, gate, op, position, what):
    result = cli("eval", expression, *values, "--strict")
    assert result.exit_code == 1
    assert "warning:" in result.stderr and f"'{gate}'" in result.stderr
    assert "error:" in result.stderr and "--strict" in result.stderr


def test_gradient_domain_problem_is_a_warning(cli):
    # sqrt(x) at 0 is fine forward, but its gradient 1/(2√x) is inf
    result = cli("eval", "sqrt(x)", "--set", "x=0")
    assert result.exit_code == 0
    assert "warning:" in result.stderr and "sqrt(x)" in result.stderr and "inf" in result.stderr
    assert cli("eval", "sqrt(x)", "--set", "x=0", "--strict").exit_code == 1


def test_non_finite_input_value(cli):
    result = cli("eval", "x * 2", "--set", "x=nan")
    assert result.exit_code == 0 and "warning:" in result.stderr and "nan" in result.stderr
    assert cli("eval", "x * 2", "--set", "x=inf", "--strict").exit_code == 1


def test_non_finite_numbers_in_json(cli):
    result = cli("eval", "1/x + y", "--set", "x=0", "--set", "y=[1, -inf]", "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout, parse_constant=lambda token: pytest.fail(f"bare {token} in JSON"))
    assert doc["value"] == ["Infinity", "NaN"]  # inf + 1, inf + -inf
    assert doc["gradients"]["x"] == "-Infinity"  # -1/x² summed over both elements
    assert doc["gradients"]["y"] == [1.0, 1.0]
    assert "warning:" in result.stderr
    nan = cli("eval", "log(x)", "--set", "x=-1", "--format", "json")
    assert json.loads(nan.stdout)["value"] == "NaN"


def test_strict_without_problems_succeeds(cli):
    result = cli("eval", "x * y", "--set", "x=2", "--set", "y=3", "--strict")
    assert result.exit_code == 0
    assert result.stderr == ""


def test_version(cli):
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"gradcli {gradcli.__version__}"


@pytest.mark.parametrize("args, needle", [
    (["eval", "x", "--set", "x=1", "--bogus"], "--bogus"),  # an unknown option
    (["eval", "x", "--set", "x=1", "--format", "xml"], "xml"),
    (["eval", "x", "--set", "x=1", "--digits", "0"], "--digits"),
    (["eval"], "EXPRESSION"),  # a missing argument
    (["evaluate", "x"], "evaluate"),  # an unknown command
])
def test_usage_errors_exit_2(cli, args, needle):
    result = cli(*args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert needle in result.stderr
    assert result.stdout == ""


def test_unknown_option_before_the_expression_is_named(cli):
    # options may come before the expression; an unknown one must be reported as such,
    # not as "unexpected extra argument (x * y)"
    result = cli("eval", "--bogus", "x * y", "--set", "x=1", "--set", "y=2")
    assert result.exit_code == 2
    assert "--bogus" in result.stderr


def test_expression_may_start_with_a_minus(cli):
    # f = -x·y at x = 2, y = 3: ∂f/∂x = -3, ∂f/∂y = -2
    result = cli("eval", "-x * y", "--set", "x=2", "--set", "y=3")
    assert result.exit_code == 0, result.stderr
    assert "f = -6" in result.stdout
    assert "∂f/∂x = -3" in result.stdout and "∂f/∂y = -2" in result.stdout


def test_help_exits_0(cli):
    result = cli("eval", "--help")
    assert result.exit_code == 0
    assert "--set" in result.stdout and "--format" in result.stdout


# -- a real process: `python -m gradcli` --------------------------------------------------------------

def run_module(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("GRADCLI_DEBUG", None)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["NO_COLOR"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    process = subprocess.run([sys.executable, "-m", "gradcli", *args], capture_output=True,
                             text=True, encoding="utf-8", env=env, timeout=60, cwd=REPO)
    assert "Traceback" not in process.stdout
    assert "Traceback" not in process.stderr
    return process


def test_subprocess_syntax_error():
    process = run_module("eval", "(x + ")
    assert process.returncode == 1
    assert process.stderr.startswith("error: unexpected end of input")
    assert "line 1, column 5" in process.stderr and "^" in process.stderr
    assert process.stdout == ""


def test_subprocess_bad_value_and_strict():
    process = run_module("eval", "x", "--set", "x=abc")
    assert process.returncode == 1
    assert "--set x=abc" in process.stderr
    process = run_module("eval", "log(x)", "--set", "x=-1", "--strict")
    assert process.returncode == 1
    assert "warning:" in process.stderr and "log(x)" in process.stderr and "error:" in process.stderr


def test_subprocess_success_json_and_usage_error():
    process = run_module("eval", "(x + y) * z", "--set", "x=-2", "--set", "y=5", "--set", "z=-4",
                         "--format", "json")
    assert process.returncode == 0, process.stderr
    doc = json.loads(process.stdout)
    assert doc["gradients"] == {"x": -4.0, "y": -4.0, "z": 3.0}
    assert run_module("eval", "x", "--set", "x=1", "--bogus").returncode == 2
    version = run_module("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"gradcli {gradcli.__version__}"


# -- the Python API raises the GradcliError family ----------------------------------------------------

def test_error_classes_are_one_family():
    for cls in (gradcli.GradcliSyntaxError, gradcli.UnknownFunctionError, gradcli.MissingValueError,
                gradcli.ValueFormatError, gradcli.ShapeError, gradcli.DomainError):
        assert issubclass(cls, gradcli.GradcliError)
    assert issubclass(gradcli.GradcliError, Exception)


def test_api_syntax_error():
    with pytest.raises(gradcli.GradcliSyntaxError) as info:
        gradcli.parse("(x + ")
    error = info.value
    assert (error.line, error.column) == (1, 5)
    assert error.hint and "not closed" in error.hint
    assert error.span is not None
    text = error.render()
    assert "line 1, column 5" in text and "^" in text and "hint:" in text
    assert str(error) == text


def test_api_syntax_error_positions():
    with pytest.raises(gradcli.GradcliSyntaxError) as info:
        gradcli.parse("a = 1\nb = (a + ")
    assert (info.value.line, info.value.column) == (2, 9)
    with pytest.raises(gradcli.GradcliSyntaxError) as info:
        gradcli.parse("3x")
    assert (info.value.line, info.value.column) == (1, 2)
    assert "3*x" in info.value.hint
    with pytest.raises(gradcli.GradcliSyntaxError):
        gradcli.parse("")


def test_api_missing_values():
    with pytest.raises(gradcli.MissingValueError) as info:
        gradcli.evaluate("x * y + z", y=1)
    assert info.value.names == ["x", "z"]
    assert "--set x=VALUE" in info.value.hint and "--set z=VALUE" in info.value.hint


@pytest.mark.parametrize("bad", ["abc", "[1,2", [[1, 2], [3]], 1 + 2j, "1 2", None])
def test_api_bad_values(bad):
    with pytest.raises(gradcli.ValueFormatError) as info:
        gradcli.evaluate("x * 2", x=bad)
    assert "x" in info.value.message


def test_api_unknown_function():
    with pytest.raises(gradcli.UnknownFunctionError) as info:
        gradcli.parse("exq(x)")
    assert "exp" in info.value.hint
    assert (info.value.line, info.value.column) == (1, 1)
    with pytest.raises(gradcli.UnknownFunctionError) as info:
        gradcli.parse("1 + pow(x)")
    assert info.value.column == 5


def test_api_shape_error():
    with pytest.raises(gradcli.ShapeError) as info:
        gradcli.evaluate("x + y", x=[1, 2, 3], y=[1, 2])
    assert "(3,)" in info.value.message and "(2,)" in info.value.message
    assert info.value.span is not None and info.value.span.text == "x + y"


def test_api_domain_problems_are_diagnostics_not_exceptions():
    result = gradcli.evaluate("log(x)", x=-1)
    assert math.isnan(result.value)
    (diagnostic,) = [d for d in result.diagnostics if d.kind == "domain"]
    assert diagnostic.node is not None and diagnostic.node.op_name == "log"
    result = gradcli.evaluate("1/x", x=0)
    assert result.value == math.inf
    assert any(d.kind == "domain" for d in result.diagnostics)
    assert gradcli.evaluate("x * 2", x=1).diagnostics == []


def test_api_unused_value_is_a_diagnostic():
    result = gradcli.evaluate("x + 1", x=1, xx=2)
    (diagnostic,) = result.diagnostics
    assert diagnostic.kind == "input" and "did you mean 'x'" in diagnostic.message


def test_parse_needs_a_string():
    with pytest.raises(TypeError):
        gradcli.parse(3)


@pytest.mark.parametrize("command", [
    ["jacobian", "x*y", "x=1", "y=2", "-t", "x=1"],  # jacobian has no --tangent
    ["eval", "x*y", "x=1", "y=2", "-tx=1"],
    ["jvp", "x*y", "x=1", "y=2", "-t", "x=1", "-m", "forward"],  # jvp has no --mode
])
def test_an_unknown_short_option_after_the_expression_is_a_usage_error(command):
    # not "argument '-t': expected NAME=VALUE" (exit 1): the option is named, exit 2
    done = run_module(*command)
    assert done.returncode == 2
    assert done.stderr.splitlines()[0].startswith("error: no such option -")
    assert "Traceback" not in done.stderr


def test_a_leading_minus_is_still_an_expression():
    done = run_module("eval", "-x", "x=2", "-f", "plain")
    assert done.returncode == 0 and done.stdout.split("\n")[:2] == ["f -2.0", "x -1.0"]


def test_a_jacobian_bigger_than_the_machine_is_a_resource_error_in_the_api():
    # 10^5 × 10^5 float64 entries are 80 GB: NumPy's MemoryError becomes gradcli's ResourceError
    import numpy as np

    with pytest.raises(gradcli.ResourceError, match="more memory than this machine can give"):
        gradcli.jacobian("tanh(x)", x=np.zeros(100_000))


def test_forward_mode_memory_is_judged_by_what_its_pass_keeps():
    # tanh(x), x of 2000 elements, forward mode: 2 nodes × 2000 elements × (2000 columns + the
    # value) × 8 bytes ≈ 64 MB: allowed under 100 MB (it was refused at limit/n), refused under 10 MB
    import numpy as np

    from gradcli.evaluation.jacobian import jacobian

    x = np.linspace(-1, 1, 2000)
    graphs = {"f": gradcli.parse("tanh(x)")}
    j = jacobian(graphs, {"x": x}, mode="forward", max_memory=100 * 10**6)
    np.testing.assert_allclose(np.diag(j.matrix), 1 - np.tanh(x) ** 2, rtol=1e-12)
    with pytest.raises(gradcli.ResourceError):
        jacobian(graphs, {"x": x}, mode="forward", max_memory=10 * 10**6)


def test_a_jacobians_zeros_are_written_without_a_sign():
    # ∂(-x)[i]/∂x[j] = -1 on the diagonal, 0 elsewhere (not -0.0) in both modes
    for mode in ("forward", "reverse"):
        j = gradcli.jacobian("-x", x=[1.0, 2.0], mode=mode)
        assert [[str(v) for v in row] for row in j.matrix.tolist()] == [["-1.0", "0.0"], ["0.0", "-1.0"]]
