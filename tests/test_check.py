"""`gradcli check` and gradcli.evaluation.check: centered differences, verdict bands, kinks, --expect."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

import gradcli
from gradcli.evaluation import check as chk
from gradcli.core.ops import FUNCTIONS, OPS, OVERLOADS

NEURON = "1/(1+exp(-(w0*x0+w1*x1+w2)))"
NEURON_VALUES = dict(w0=2, x0=-1, w1=-3, x1=-2, w2=-3)
# CS231n's numbers: σ(1)(1 − σ(1)) = 0.19661193324148185 times each multiplier's other input
S = 0.19661193324148185


def run_check(source, values, **options):
    return chk.check(gradcli.parse(source), values, **options)


# -- relative error and verdicts ------------------------------------------------------------------

@pytest.mark.parametrize("a, b, error", [
    (0.0, 0.0, 0.0), (1.0, 2.0, 0.5), (-1.0, 1.0, 2.0), (3.0, 3.0, 0.0), (1e-300, 0.0, 1.0)])
def test_relative_error(a, b, error):
    assert chk.relative_error(a, b) == error
    assert chk.relative_error(b, a) == error


@pytest.mark.parametrize("a, b", [(math.nan, 1.0), (1.0, math.inf), (-math.inf, -math.inf)])
def test_relative_error_of_non_finite_is_nan_and_judged_non_finite(a, b):
    assert math.isnan(chk.relative_error(a, b))
    assert chk.judge(a, b, chk.Tolerances())[1] == chk.NON_FINITE


@pytest.mark.parametrize("a, b, verdict", [
    (1.0, 1.0, "good"), (1e7, 1e7 - 1, "good"), (1.0, 1 - 2e-7, "ok with kinks"),
    (1.0, 1 - 9.9e-5, "ok with kinks"), (1e4, 1e4 - 1, "suspicious"), (1.0, 1 - 9.9e-3, "suspicious"),
    (100.0, 99.0, "wrong"), (1.0, 0.5, "wrong")])
def test_cs231n_bands(a, b, verdict):
    # the band edges are exact: 1/1e7 = 1e-7 (good), 1/1e4 = 1e-4 (suspicious), 1/100 = 1e-2 (wrong)
    assert chk.judge(a, b, chk.Tolerances(atol=0.0))[1] == verdict


def test_rtol_moves_the_start_of_the_wrong_band_and_atol_rescues_tiny_gradients():
    assert chk.judge(1.0, 0.99, chk.Tolerances(rtol=0.1))[1] == "suspicious"
    assert chk.judge(1.0, 0.9999, chk.Tolerances(rtol=1e-5))[1] == "wrong"
    assert chk.judge(1e-12, 3e-12, chk.Tolerances())[1] == "good"  # |a − n| = 2e-12 ≤ 1e-8
    assert chk.judge(1e-12, 3e-12, chk.Tolerances(atol=0.0))[1] == "wrong"
    # at a crossed kink nothing is called wrong
    assert chk.judge(0.0, 1.0, chk.Tolerances(), kink=True)[1] == "kink crossed"
    assert chk.judge(1.0, 1.0, chk.Tolerances(), kink=True)[1] == "good"


@pytest.mark.parametrize("options, message", [
    (dict(h=0), "--h must be a positive finite number"),
    (dict(h=-1e-5), "--h must be a positive finite number"),
    (dict(h=math.inf), "--h must be a positive finite number"),
    (dict(rtol=0), "--rtol must be a positive finite number"),
    (dict(atol=-1), "--atol must be a non-negative finite number"),
    (dict(h="x"), "--h must be a number"),
])
def test_bad_tolerances_are_gradcli_errors(options, message):
    with pytest.raises(gradcli.GradcliError, match=message):
        run_check("x*x", {"x": 1.0}, **options)


# -- the check itself ---------------------------------------------------------------------------

def test_sigmoid_neuron_is_good_everywhere():
    report = run_check(NEURON, NEURON_VALUES)
    expected = {"w0": -S, "x0": 2 * S, "w1": -2 * S, "x1": -3 * S, "w2": S}
    assert [e.label for e in report.entries] == list(expected)
    for entry in report.entries:
        assert entry.analytic == pytest.approx(expected[entry.variable], rel=1e-12)
        assert entry.numeric == pytest.approx(expected[entry.variable], rel=1e-8)
        assert entry.error < 1e-9 and entry.verdict == "good" and entry.kinks == ()
    assert report.passed and report.value == pytest.approx(1 / (1 + math.exp(-1)), rel=1e-15)
    assert report.summary() == "check passed: 5 gradients checked (5 good)"


def test_arrays_are_checked_element_by_element():
    report = run_check("f = x*y", {"x": [1, 2, 3], "y": [4, 5, 6]})
    assert [e.label for e in report.entries] == ["x[0]", "x[1]", "x[2]", "y[0]", "y[1]", "y[2]"]
    for entry, want in zip(report.entries, [4, 5, 6, 1, 2, 3]):
        assert entry.analytic == want and entry.numeric == pytest.approx(want, rel=1e-9)
    assert report.gradient_of == "sum(f)"


def test_a_matrix_element_is_labelled_with_both_indices():
    report = run_check("sum_sq = M*M", {"M": [[1, 2], [3, 4]]})
    assert [e.label for e in report.entries] == ["M[0,0]", "M[0,1]", "M[1,0]", "M[1,1]"]
    assert [e.index for e in report.entries] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert [round(e.numeric, 6) for e in report.entries] == [2, 4, 6, 8]


def test_a_broadcast_scalar_gets_the_sum_of_its_gradients():
    (entry,) = [e for e in run_check("x * w", {"x": [1, 2, 3], "w": 2}).entries if e.variable == "w"]
    assert entry.analytic == 6 and entry.numeric == pytest.approx(6, rel=1e-9)


def test_a_wrong_local_gradient_in_the_registry_is_caught(monkeypatch):
    # sin' written as sin instead of cos: the kind of bug a gradient check exists for (in both
    # copies of the local gradient: for arrays, and on floats for the scalar engine)
    sin = OPS["sin"]
    bad = dataclasses.replace(sin, locals=(lambda ans, x: np.sin(x),),
                              scalar=sin.scalar._replace(locals=(lambda ans, x: math.sin(x),)))
    monkeypatch.setitem(OPS, "sin", bad)
    monkeypatch.setitem(FUNCTIONS, "sin", bad)
    monkeypatch.setitem(OVERLOADS["sin"], 1, bad)  # the parser looks calls up by name and arity
    report = run_check("sin(x) * y", {"x": 0.5, "y": 2.0})
    x, y = report.entries
    assert x.analytic == pytest.approx(2 * math.sin(0.5)) and x.numeric == pytest.approx(2 * math.cos(0.5))
    assert x.verdict == "wrong" and y.verdict == "good"
    assert not report.passed and report.failures == [x]
    assert report.summary() == "check failed: 1 of 2 gradients wrong or non-finite: x (1 good, 1 wrong)"


def test_zero_gradients_on_both_sides_are_good():
    (entry,) = run_check("relu(x)", {"x": -1.0}).entries
    assert entry.analytic == 0 and entry.numeric == 0 and entry.error == 0 and entry.verdict == "good"


def test_a_gradient_that_is_zero_up_to_rounding_is_good():
    # cos(π/2) is 6e-17, not 0; the centered difference is rounding noise around 0
    (entry,) = run_check("sin(x)", {"x": math.pi / 2}).entries
    assert abs(entry.analytic) < 1e-16 and abs(entry.numeric) < 1e-9
    assert entry.verdict == "good"


def test_non_finite_gradients_are_reported_not_crashed_on():
    report = run_check("sqrt(x)", {"x": 0.0})
    (entry,) = report.entries
    assert entry.analytic == math.inf and math.isnan(entry.numeric)  # sqrt(-h) is nan
    assert math.isnan(entry.error) and entry.verdict == "non-finite" and not report.passed


# -- kinks --------------------------------------------------------------------------------------

@pytest.mark.parametrize("source, values, crossed, gate", [
    ("relu(x)", {"x": 0.0}, True, "relu(x)"),
    ("relu(x)", {"x": 4e-6}, True, "relu(x)"),  # within h = 1e-5 of the kink
    ("relu(x)", {"x": 2e-5}, False, None),  # more than h away
    ("3*abs(x - 1)", {"x": 1.0}, True, "abs(x - 1)"),
    ("max(x, 2)", {"x": 2.0 + 1e-6}, True, "max(x, 2)"),
    ("min(x, y)", {"x": 1.0, "y": 1.0}, True, "min(x, y)"),
])
def test_kinks_between_v_minus_h_and_v_plus_h_are_found(source, values, crossed, gate):
    entry = run_check(source, values).entries[0]
    assert [n.label for n in entry.kinks] == ([gate] if crossed else [])
    assert entry.verdict != "wrong"


def test_a_kink_crossed_is_not_called_wrong_and_names_the_gate():
    report = run_check("relu(x) * y", {"x": 4e-6, "y": 2.0})
    x, y = report.entries
    # f(x+h) = 2(x+h) = 2.8e-5 and f(x−h) = 0: the numeric side is 1.4, the analytic 2
    assert x.analytic == 2.0 and x.numeric == pytest.approx(1.4, rel=1e-9)
    assert x.verdict == "kink crossed" and x.kinks[0].op_name == "relu"
    assert y.kinks == () and y.verdict == "good"  # moving y does not move relu's input
    assert report.passed


def test_a_kink_crossed_twice_within_the_step_is_found():
    # |x² − 1e-12| at x = 1e-6: x² − 1e-12 is positive at x ± h but 0 at x, so the two ends alone
    # would miss the kink and call the numeric 2e-6 against the analytic 0 wrong
    (entry,) = run_check("abs(x*x - 1e-12)", {"x": 1e-6}).entries
    assert entry.analytic == 0 and entry.numeric == pytest.approx(2e-6, rel=1e-6)
    assert entry.verdict == "kink crossed" and entry.kinks[0].op_name == "abs"


def test_a_tie_that_never_splits_is_not_a_kink_crossed():
    # max(x, x) is x: moving x moves both inputs, so they never change sides
    (entry,) = run_check("max(x, x)", {"x": 1.0}).entries
    assert entry.kinks == () and entry.analytic == 1.0 and entry.verdict == "good"


def test_kinks_in_one_element_of_an_array_only():
    report = run_check("abs(x)", {"x": [-1.0, 0.0, 2.0]})
    assert [bool(e.kinks) for e in report.entries] == [False, True, False]
    assert [e.analytic for e in report.entries] == [-1.0, 0.0, 1.0]


# -- --expect -----------------------------------------------------------------------------------

def test_expected_gradient_is_judged_against_both():
    (entry,) = run_check("x**3", {"x": 2.0}, expected={"x": 12}).entries
    assert entry.expected == 12 and entry.expected_verdict == "good" and entry.expected_error < 1e-9
    (entry,) = run_check("x**3", {"x": 2.0}, expected={"x": 8}).entries
    assert entry.verdict == "good" and entry.expected_verdict == "wrong"
    assert entry.expected_error == pytest.approx(1 / 3, rel=1e-9) and not entry.passed


def test_expected_array_and_broadcast_scalar():
    report = run_check("x*x", {"x": [1.0, 2.0]}, expected={"x": [2, 5]})
    assert [e.expected_verdict for e in report.entries] == ["good", "wrong"]
    report = run_check("x*y", {"x": [1.0, 2.0], "y": 3.0}, expected={"x": 3})
    assert [e.expected for e in report.entries[:2]] == [3.0, 3.0]
    assert report.entries[2].expected is None and report.passed


@pytest.mark.parametrize("expected, message", [
    ({"z": 1}, "an expected gradient is given for 'z', which is not a variable with a value"),
    ({"x": [1, 2]}, r"the expected gradient of x has shape \(2,\), but x has shape \(\)"),
    ({"x": "[1,"}, "expected gradient of x: '\\[' is not closed"),
])
def test_bad_expected_values(expected, message):
    with pytest.raises(gradcli.GradcliError, match=message):
        run_check("x*x", {"x": 1.0}, expected=expected)


def test_nothing_to_check_is_an_error():
    with pytest.raises(gradcli.GradcliError, match="nothing to check"):
        run_check("2*3", {})


# -- the command line ---------------------------------------------------------------------------

def neuron_args():
    return [arg for name, v in NEURON_VALUES.items() for arg in ("--set", f"{name}={v}")]


def test_cli_passes_with_exit_0_and_a_summary_on_stderr(cli):
    result = cli("check", NEURON, *neuron_args())
    assert result.exit_code == 0
    assert result.stderr == "check passed: 5 gradients checked (5 good)\n"
    assert "Gradient check of" in result.stdout and result.stdout.count("| good") == 5  # piped: ASCII borders


def test_cli_fails_with_exit_1_on_a_wrong_expected_gradient(cli):
    result = cli("check", "x**3", "--set", "x=2", "--expect", "x=11")
    assert result.exit_code == 1
    assert result.stderr == ("check failed: 1 of 1 gradient wrong or non-finite: x "
                             "(1 good; expected: 1 wrong)\n")


def test_cli_json(cli):
    result = cli("check", "relu(x)*y", "--set", "x=[0,1]", "--set", "y=2", "--expect", "y=1",
                 "--format", "json", "--h", "1e-6")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["passed"] is True and doc["h"] == 1e-6 and doc["rtol"] == 0.01 and doc["atol"] == 1e-8
    assert doc["counts"] == {"good": 2, "kink crossed": 1}
    x0, x1, y = doc["checks"]
    assert x0["label"] == "x[0]" and x0["index"] == [0] and x0["verdict"] == "kink crossed"
    assert x0["kinks"] == [{"gate": "relu(x)", "op": "relu", "line": 1, "column": 1}]
    assert x0["analytic"] == 0 and x0["numeric"] == pytest.approx(1.0, rel=1e-9)
    assert x1["analytic"] == 2 and x1["expected"] is None and x1["kinks"] == []
    assert y["expected"] == 1 and y["expected_verdict"] == "good" and y["passed"] is True
    assert "warning: gate 'relu(x)'" in result.stderr  # x[0] sits exactly at the kink


def test_cli_json_non_finite_is_valid_json(cli):
    result = cli("check", "sqrt(x)", "--set", "x=0", "--format", "json")
    assert result.exit_code == 1
    (entry,) = json.loads(result.stdout)["checks"]
    assert entry["analytic"] == "Infinity" and entry["numeric"] == "NaN" and entry["error"] == "NaN"
    assert entry["verdict"] == "non-finite"


def test_cli_rtol_and_atol_change_the_verdict(cli):
    # 0.015/12.015 = 1.25e-3 apart: suspicious by default, wrong with --rtol 1e-3, good with --atol 0.1
    args = ("check", "x**3", "--set", "x=2", "--expect", "x=12.015")
    assert cli(*args).exit_code == 0
    assert cli(*args, "--rtol", "1e-3").exit_code == 1
    result = cli(*args, "--atol", "0.1", "--format", "json")
    assert json.loads(result.stdout)["checks"][0]["expected_verdict"] == "good"


@pytest.mark.parametrize("args, code, message", [
    (("--h", "0"), 2, "error: invalid value for --h: 0 is not a positive finite number (for example --h 1e-05)\n"
                      "hint: gradcli check --help describes --h\n"),
    (("--h", "-1e-5"), 2, "error: invalid value for --h: -1e-05 is not a positive finite number"),
    (("--h", "nan"), 2, "error: invalid value for --h: nan is not a positive finite number"),
    (("--h", "inf"), 2, "error: invalid value for --h: inf is not a positive finite number"),
    (("--rtol", "-1"), 2, "error: invalid value for --rtol: -1 is not a positive finite number"),
    (("--rtol", "nan"), 2, "error: invalid value for --rtol: nan is not a positive finite number"),
    (("--atol", "-1"), 2, "error: invalid value for --atol: -1 is not a non-negative finite number"),
    (("--atol", "nan"), 2, "error: invalid value for --atol: nan is not a non-negative finite number"
                           " (for example --atol 1e-08)\nhint: gradcli check --help describes --atol\n"),
    (("--expect", "x"), 1, "error: --expect 'x': expected NAME=VALUE\n"),
    (("--expect", "z=1"), 1, "error: an expected gradient is given for 'z', which is not a variable"),
    (("--expect", "x=1", "--expect", "x=2"), 1, "error: x is given a value twice: --expect x=1 and --expect x=2\n"),
    (("--expect", "x=[1,2]"), 1, "error: the expected gradient of x has shape (2,), but x has shape ()"),
    (("--set", "x=3"), 1, "error: x is given a value twice: --set x=2 and --set x=3\n"),
    (("--h", "abc"), 2, "error: invalid value for --h: 'abc' is not a valid float\n"),
    (("--expct", "x=1"), 2, "error: no such option --expct\nhint: did you mean --expect?"),
])
def test_cli_bad_input(cli, args, code, message):
    result = cli("check", "x*x", "--set", "x=2", *args)
    assert result.exit_code == code
    assert message in result.stderr and result.stdout == ""


def test_cli_missing_value_and_syntax_errors(cli):
    result = cli("check", "x*y", "--set", "x=1")
    assert result.exit_code == 1 and result.stderr.startswith("error: no value for variable y")
    result = cli("check", "3x", "--set", "x=1")
    assert result.exit_code == 1 and "hint: write 3*x to multiply" in result.stderr


def test_a_step_that_overflows_the_variable_is_reported_not_warned_by_numpy(cli):
    # v + h past float64's largest number: NumPy's "overflow encountered" must not reach stderr
    result = cli("check", "x*v", "x=1.7976931348623157e308", "v=2", "--h", "1e300")
    assert result.exit_code == 1
    assert "RuntimeWarning" not in result.stderr and "overflow encountered" not in result.stderr
    assert "non-finite" in result.stderr


def test_atol_zero_is_allowed(cli):
    assert cli("check", "x*x", "x=2", "--atol", "0").exit_code == 0


def test_check_without_an_expression_hints_with_a_check_example(cli):
    result = cli("check")
    assert result.exit_code == 2
    assert "hint: for example: gradcli check " in result.stderr and "gradcli eval" not in result.stderr
