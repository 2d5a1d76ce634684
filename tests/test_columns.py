"""The parser's flat columns (core.graph.Columns) and the scalar engine's plan made from them: the
same plan, field by field, as the one made by walking the nodes, and the same results; graphs
the columns do not describe (unused statements, definitions, diff, keyword arguments, three
inputs) keep no columns and are planned from their nodes as before."""

from __future__ import annotations

import random

import pytest

import gradcli
from gradcli.evaluation import scalar_engine

import exprtrees

PROGRAMS = [
    "x",
    "x * y + sin(x) * exp(-y)",
    "2 * 3 * x",  # a gate of constants only: no gradient through it
    "exp(-1) * x + pi * x",  # a named constant not given a value
    "x * pi",
    "relu(x) + abs(y) + max(x, y) - min(x, 2)",  # kinks
    "q = x*y\nq + exp(-q)",
    "x += 1; x * y",
    "-2.5 * x ** 2 / (y - 3)",
    "tanh(x) @ y",  # an op without a scalar kernel
    "1 + 2",
]
# graphs that keep no columns
NO_COLUMNS = [
    "a = x * 2\nx + y",  # an unused statement
    "f(t) = t * 2\nf(x) + y",
    "diff(x**3 * y, x)",
    "sum(x, axis=0) * y",
    "clip(x, 0, 1) * y",
]


def fields(plan) -> dict:
    return {name: getattr(plan, name) for name in scalar_engine._Plan.__slots__}


def node_plan(graph, bound):
    columns, graph.columns = graph.columns, None
    try:
        return scalar_engine._Plan(graph, bound)
    finally:
        graph.columns = columns


def plans(graph, bound=frozenset()):
    """(the plan from the columns, the plan from the nodes), or the _NoKernel both raise."""
    try:
        ours = fields(scalar_engine._Plan(graph, bound))
    except scalar_engine._NoKernel:
        with pytest.raises(scalar_engine._NoKernel):
            node_plan(graph, bound)
        return None, None
    theirs = fields(node_plan(graph, bound))
    for plan in (ours, theirs):  # tuples and lists alike
        plan["forward"] = [list(c) for c in plan["forward"]]
        plan["backward"] = [list(c) for c in plan["backward"]]
    return ours, theirs


@pytest.mark.parametrize("text", PROGRAMS)
def test_the_plan_from_the_columns_is_the_plan_from_the_nodes(text):
    graph = gradcli.parse(text)
    assert graph.columns is not None
    assert [n.id for n in graph.nodes] == list(range(len(graph.nodes)))
    ours, theirs = plans(graph)
    assert ours == theirs
    if "pi" in graph.variables:  # given a value, pi needs a gradient: planned from the nodes
        ours, theirs = plans(graph, frozenset({"pi"}))
        assert ours == theirs
        assert list(ours["gradients"][0]) == [n for n in graph.variables if n != "e"]


@pytest.mark.parametrize("text", NO_COLUMNS)
def test_graphs_the_columns_do_not_describe_have_none(text):
    graph = gradcli.parse(text)
    assert graph.columns is None
    assert [n.id for n in graph.nodes] == list(range(len(graph.nodes)))


def test_random_programs_plan_and_evaluate_alike():
    rng = random.Random(13)
    for k in range(300):
        text = exprtrees.program(rng) if k % 2 else exprtrees.text(exprtrees.any_tree(rng, 4))
        graph = gradcli.parse(text)
        ours, theirs = plans(graph)
        assert ours == theirs, text
        values = {name: rng.uniform(0.5, 2.0) for name in graph.required}
        fresh = gradcli.parse(text)
        fresh.columns = None  # the same program planned from its nodes
        assert outcome(graph, values) == outcome(fresh, values), text


def outcome(graph, values) -> str:
    try:
        result = graph.evaluate(values, trace=False)
    except gradcli.GradcliError as error:
        return repr(error)
    return repr((result.value, result.gradients, [str(w) for w in result.warnings]))  # nan as nan


def test_the_first_evaluation_after_parsing_gives_the_numbers():
    n = 200
    text = " + ".join(f"(a{i}*b{i} + sin(a{i}))*exp(-c{i})" for i in range(n))
    rng = random.Random(0)
    values = {f"{k}{i}": rng.uniform(-1, 1) for i in range(n) for k in "abc"}
    graph = gradcli.parse(text)
    assert graph.columns is not None
    first = graph.evaluate(values, trace=False)
    slow = gradcli.parse(text).evaluate(values, trace=True)  # the traced path, planned anew
    assert first.value == pytest.approx(slow.value, rel=1e-12)
    assert first.gradients == pytest.approx(slow.gradients, rel=1e-12)
