"""Deep and long input: 10,000 nested parentheses and 100,000-term sums are normal input.

Nothing may recurse per node: each test runs under a recursion limit only a little above the
test's own stack depth, so a recursive walk over the graph fails at once.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys

import numpy as np
import pytest

import gradcli

DEPTH = 10_000
TERMS = 100_000


def _stack_depth() -> int:
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return depth


@contextlib.contextmanager
def shallow_stack(headroom: int = 250):
    """Allow `headroom` frames above the caller: plenty for a loop, far too few for recursion."""
    gradcli.parse("x")  # load the grammar outside the limit
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(_stack_depth() + headroom)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def test_nested_parentheses():
    source = "(" * DEPTH + "x" + ")" * DEPTH
    with shallow_stack():
        result = gradcli.evaluate(source, x=2.5)
    assert result.value == pytest.approx(2.5)
    assert result.gradients == {"x": pytest.approx(1.0)}


def test_nested_negations():
    # 10,000 negations: f = x, ∂f/∂x = 1; 10,001: f = -x
    with shallow_stack():
        even = gradcli.evaluate("-(" * DEPTH + "x" + ")" * DEPTH, x=3.0)
        odd = gradcli.evaluate("-(" * (DEPTH + 1) + "x" + ")" * (DEPTH + 1), x=3.0)
    assert len(even.trace) == DEPTH + 1
    assert even.value == pytest.approx(3.0) and even.gradients["x"] == pytest.approx(1.0)
    assert odd.value == pytest.approx(-3.0) and odd.gradients["x"] == pytest.approx(-1.0)


def test_nested_right_sum_is_a_deep_fork():
    # (x + (x + (... x))) with 10,000 additions: f = 10,001 x, one fork with 10,001 arrivals
    source = "(x + " * DEPTH + "x" + ")" * DEPTH
    with shallow_stack():
        result = gradcli.evaluate(source, x=0.5)
    assert result.value == pytest.approx((DEPTH + 1) * 0.5)
    assert result.gradients["x"] == pytest.approx(DEPTH + 1)
    (fork,) = [record for record in result.trace if record.is_fork]
    assert len(fork.arrivals) == DEPTH + 1


def test_nested_functions_chain_rule():
    # f = sin(sin(...sin(x))): worked out by an independent loop, f' = Π cos(s_k)
    source = "sin(" * DEPTH + "x" + ")" * DEPTH
    s, slope = 1.2, 1.0
    for _ in range(DEPTH):
        slope *= math.cos(s)
        s = math.sin(s)
    with shallow_stack():
        result = gradcli.evaluate(source, x=1.2)
    assert result.value == pytest.approx(s, rel=1e-9)
    assert result.gradients["x"] == pytest.approx(slope, rel=1e-9)


def test_nested_arrays_without_trace():
    source = "(1 + " * DEPTH + "x" + ")" * DEPTH
    graph = gradcli.parse(source)
    with shallow_stack():
        result = graph.evaluate({"x": [1.0, 2.0]}, trace=False)
    np.testing.assert_allclose(result.value, [DEPTH + 1.0, DEPTH + 2.0])
    np.testing.assert_allclose(result.gradients["x"], [1.0, 1.0])
    assert result.trace is None


def test_sum_of_100000_terms():
    # x + x + ... + x: a chain 100,000 deep (left-associative) and a fork of 100,000
    source = " + ".join(["x"] * TERMS)
    with shallow_stack():
        result = gradcli.evaluate(source, x=0.25)
    assert len(result.graph.nodes) == TERMS  # one variable node and 99,999 additions
    assert result.value == pytest.approx(TERMS * 0.25)
    assert result.gradients["x"] == pytest.approx(TERMS)
    (fork,) = [record for record in result.trace if record.is_fork]
    assert len(fork.arrivals) == TERMS


def test_deep_input_through_the_cli(cli):
    source = "(" * DEPTH + "x * y" + ")" * DEPTH
    result = cli("eval", source, "--set", "x=3", "--set", "y=4")
    assert result.exit_code == 0, result.stderr
    assert "∂f/∂x = 4" in result.stdout and "∂f/∂y = 3" in result.stdout
    source = "-(" * DEPTH + "x" + ")" * DEPTH
    result = cli("eval", source, "--set", "x=3", "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["gradients"] == {"x": 1.0}
    assert len(doc["nodes"]) == DEPTH + 1
    # the table shows 100 rows unless --all
    table = cli("eval", source, "--set", "x=3")
    assert table.exit_code == 0
    assert sum(1 for line in table.stdout.splitlines() if " | " in line and not line.startswith("gate")) == 100
    assert "--all" in table.stdout


def test_deep_syntax_error_has_a_short_caret_line():
    source = "(" * DEPTH + "x +" + ")" * DEPTH
    with pytest.raises(gradcli.GradcliSyntaxError) as info:
        gradcli.parse(source)
    assert info.value.column == DEPTH + 4  # the first ')' after "x +"
    for line in info.value.render().splitlines():
        assert len(line) < 200
