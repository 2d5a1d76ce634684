"""Gradient checks as one line of a test: `check_gradients` returns the report,
`assert_gradients` raises AssertionError with the table when a gradient fails.

    from gradcli.testing import assert_gradients
    assert_gradients("x**3", {"x": 2.0}, expected={"x": 12.0})
"""

from __future__ import annotations

import io
from typing import Mapping

from .evaluation.check import DEFAULT_ATOL, DEFAULT_H, DEFAULT_RTOL, CheckReport, check
from .core.graph import Graph
from .language.parser import parse

__all__ = ["check_gradients", "assert_gradients", "format_report", "GradCheck", "CheckReport"]


def check_gradients(source: str | Graph, values: Mapping[str, object] | None = None, *,
                    expected: Mapping[str, object] | None = None, h: float = DEFAULT_H,
                    rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL,
                    tangent: Mapping[str, object] | None = None) -> CheckReport:
    """Check every gradient of `source` (text or a parsed Graph) at `values`, as `gradcli check` does;
    with `tangent` ({name: direction}), the directional derivative along it, as `check --tangent`
    does (forward mode against one pair of evaluations; `expected` then maps the output's name,
    "f", to your ∂f·t)."""
    graph = source if isinstance(source, Graph) else parse(source)
    return check(graph, values or {}, expected=expected, h=h, rtol=rtol, atol=atol, tangent=tangent)


def assert_gradients(source: str | Graph, values: Mapping[str, object] | None = None,
                     expected: Mapping[str, object] | None = None, **tolerances: float) -> CheckReport:
    """Like check_gradients, but raise AssertionError (summary and table) unless every entry passes."""
    __tracebackhide__ = True  # pytest shows the caller's line, not this one
    report = check_gradients(source, values, expected=expected, **tolerances)
    if not report.passed:
        raise AssertionError(format_report(report))
    return report


def format_report(report: CheckReport, digits: int = 10) -> str:
    """The summary line and the table as plain text (no colours), for a failure message."""
    from .render import checktable

    buffer = io.StringIO()
    checktable.render(report, buffer, digits=digits)  # a text stream: the plain ASCII layout
    table = "\n".join(line.rstrip() for line in buffer.getvalue().splitlines())
    return f"{report.summary()}\n{table}"


class GradCheck:
    """What the pytest fixture `gradcheck` gives: call it to assert, `.report(...)` to inspect.

    Keyword defaults given here (h, rtol, atol) apply to every call unless the call overrides them.
    """

    def __init__(self, **defaults: float) -> None:
        self.defaults = defaults

    def __call__(self, source: str | Graph, values: Mapping[str, object] | None = None,
                 expected: Mapping[str, object] | None = None, **tolerances: float) -> CheckReport:
        __tracebackhide__ = True
        return assert_gradients(source, values, expected, **{**self.defaults, **tolerances})

    def report(self, source: str | Graph, values: Mapping[str, object] | None = None,
               expected: Mapping[str, object] | None = None, **tolerances: float) -> CheckReport:
        return check_gradients(source, values, expected=expected, **{**self.defaults, **tolerances})
