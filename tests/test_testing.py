"""gradcli.testing and the pytest plugin's `gradcheck` fixture, run in real pytest sessions."""

from __future__ import annotations

import math
import re
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import gradcli
from gradcli.testing import GradCheck, assert_gradients, check_gradients, format_report

pytest_plugins = ["pytester"]

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def readme_example() -> str:
    marker = README.index("<!-- pytest-example")
    return README[marker:].split("```python\n", 1)[1].split("```", 1)[0]


def test_check_gradients_returns_the_report():
    report = check_gradients("x*y", {"x": 3.0, "y": -4.0})
    assert report.passed and [e.label for e in report.entries] == ["x", "y"]
    assert [e.analytic for e in report.entries] == [-4.0, 3.0]
    assert report.value == -12.0


def test_check_gradients_takes_a_parsed_graph_and_tolerances():
    graph = gradcli.parse("x**3")
    report = check_gradients(graph, {"x": 2.0}, expected={"x": 12.1}, rtol=1e-3)
    (entry,) = report.entries
    assert entry.expected_verdict == "wrong" and not report.passed  # 0.1/12.1 = 8.3e-3 ≥ 1e-3
    assert check_gradients(graph, {"x": 2.0}, expected={"x": 12.1}).passed  # suspicious by default


def test_assert_gradients_passes_quietly_and_returns_the_report():
    report = assert_gradients("x**3", {"x": 2.0}, expected={"x": 12.0}, rtol=1e-6)
    assert report.entries[0].expected_verdict == "good"


def test_assert_gradients_message_is_a_readable_table():
    with pytest.raises(AssertionError) as info:
        assert_gradients("x * sin(x)", {"x": 1.0}, expected={"x": math.cos(1.0)})
    lines = str(info.value).splitlines()
    assert lines[0] == "check failed: 1 of 1 gradient wrong or non-finite: x (1 good; expected: 1 wrong)"
    header = next(line for line in lines if line.startswith("variable"))
    assert [c.strip() for c in header.split("|")] == [
        "variable", "analytic", "numeric", "rel. error", "verdict", "expected", "rel. error", "verdict"]
    row = [c.strip() for c in next(line for line in lines if line.startswith("x ")).split("|")]
    # sin 1 + cos 1 = 1.381773291 (analytic and numeric), the expected cos 1 = 0.5403023059
    assert row[0] == "x" and row[1] == row[2] == "1.381773291" and row[4] == "good"
    assert row[5] == "0.5403023059" and row[6] == "6.1e-01" and row[7] == "wrong"
    assert "\x1b[" not in str(info.value)  # no colour codes in a failure message


def test_input_errors_are_gradcli_errors_not_assertion_errors():
    with pytest.raises(gradcli.MissingValueError):
        assert_gradients("x*y", {"x": 1.0})
    with pytest.raises(gradcli.GradcliError, match="--h must be a positive"):
        assert_gradients("x", {"x": 1.0}, h=0)
    with pytest.raises(TypeError):
        assert_gradients("x", {"x": 1.0}, rtoll=1e-3)


def test_gradcheck_defaults_and_report():
    strict = GradCheck(rtol=1e-9, atol=0.0)
    report = strict.report("x**3", {"x": 2.0}, expected={"x": 12.000001})
    assert report.tolerances.rtol == 1e-9 and not report.passed
    with pytest.raises(AssertionError, match="expected: 1 wrong"):
        strict("x**3", {"x": 2.0}, expected={"x": 12.000001})
    assert GradCheck()("x**3", {"x": 2.0}, expected={"x": 12.000001}).passed
    assert format_report(report).startswith("check failed: 1 of 1 gradient")


def test_the_plugin_is_registered_through_the_pytest11_entry_point():
    (entry,) = [e for e in entry_points(group="pytest11") if e.name == "gradcli"]
    assert entry.value == "gradcli.pytest_plugin"


def test_the_readme_example_test_file_passes(pytester):
    pytester.makepyfile(test_gradients=readme_example())
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


def test_a_failing_gradcheck_shows_the_table(pytester):
    pytester.makepyfile(test_mine="""
        import math

        def test_product_rule_forgotten(gradcheck):
            gradcheck("x * sin(x)", {"x": 1.0}, expected={"x": math.cos(1.0)})

        def test_right(gradcheck):
            report = gradcheck("x * sin(x)", {"x": 1.0}, expected={"x": math.sin(1.0) + math.cos(1.0)})
            assert report.entries[0].expected_verdict == "good"

        def test_report_only(gradcheck):
            assert not gradcheck.report("x * sin(x)", {"x": 1.0}, expected={"x": 0.0}).passed
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "*AssertionError: check failed: 1 of 1 gradient wrong or non-finite: x (1 good; expected: 1 wrong)",
        "*x * | 1.381773291 | 1.381773291 | * | good * | 0.5403023059 |    6.1e-01 | wrong",
    ])
    # the failure points at the test's own line, not inside gradcli
    assert re.search(r"test_mine.py:4: AssertionError", result.stdout.str())


def test_fixture_with_arrays(pytester):
    # a name of its own: pytester runs in this process, beside tests/test_arrays.py
    pytester.makepyfile(test_plugin_arrays="""
        import numpy as np

        def test_softmax_like(gradcheck):
            x = np.array([[0.5, -1.0], [2.0, 0.0]])
            report = gradcheck("exp(x) / (1 + exp(x))", {"x": x}, expected={"x": np.exp(x) / (1 + np.exp(x))**2})
            assert [e.label for e in report.entries] == ["x[0,0]", "x[0,1]", "x[1,0]", "x[1,1]"]
    """)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
