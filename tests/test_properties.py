"""Property tests (Hypothesis): gradients agree with finite differences on random expressions over
the whole registry, printing and parsing back gives the same graph, and no input string makes
gradcli raise anything but a GradcliError. Profiles: tests/conftest.py (GRADCLI_HYPOTHESIS=deep)."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, note
from hypothesis import strategies as st

import gradcli
from gradcli.evaluation.check import GOOD, KINK, OK, check
from gradcli.inputs.values import parse_value_text

from exprtrees import ALL_OPS, VARIABLES, any_tree, program, safe_tree, structure, text, well_conditioned

# each variable a scalar or a 2-element array, so broadcasting is exercised too
values_strategy = st.fixed_dictionaries({
    name: st.one_of(st.floats(-2.0, 2.0), st.lists(st.floats(-2.0, 2.0), min_size=2, max_size=2))
    for name in VARIABLES})


def test_the_trees_cover_every_function_and_operator():
    import random

    seen = set()
    rng = random.Random(0)
    for _ in range(300):
        stack = [safe_tree(rng, 4)]
        while stack:
            tree = stack.pop()
            seen.add(tree[0])
            stack.extend(tree[1:] if tree[0] not in ("var", "const") else ())
    assert set(ALL_OPS) <= seen


@given(rng=st.randoms(use_true_random=False), values=values_strategy)
def test_gradients_agree_with_finite_differences(rng, values):
    source = text(safe_tree(rng, 4))
    note(source)
    graph = gradcli.parse(source)
    values = {name: values[name] for name in graph.variables}
    assume(values)
    assume(well_conditioned(graph.evaluate(values)))
    report = check(graph, values, atol=1e-6)
    for entry in report.entries:
        assert entry.verdict in (GOOD, OK), (entry.label, entry.analytic, entry.numeric, entry.error)


# values at and within h = 1e-5 of the kinks of relu, abs, max and min (0, or a tie)
near_kinks = st.sampled_from([0.0, -0.0, 1e-6, -4e-6, 9e-6, 0.5, -1.5])


@given(rng=st.randoms(use_true_random=False),
       values=st.fixed_dictionaries({name: near_kinks for name in VARIABLES}))
def test_near_kinks_a_right_gradient_is_never_called_wrong(rng, values):
    source = text(safe_tree(rng, 3))
    note(source)
    graph = gradcli.parse(source)
    values = {name: values[name] for name in graph.variables}
    assume(values)
    assume(well_conditioned(graph.evaluate(values), kink_margin=0.0))  # no poles
    for entry in check(graph, values, atol=1e-6).entries:
        assert entry.verdict in (GOOD, OK, KINK), (entry.label, entry.analytic, entry.numeric, entry.error)
        if entry.verdict == KINK:
            assert entry.kinks


@given(rng=st.randoms(use_true_random=False))
def test_printing_and_parsing_back_gives_the_same_graph(rng):
    source = text(any_tree(rng, 5)) if rng.random() < 0.6 else program(rng)
    graph = gradcli.parse(source)
    printed = graph.to_source()
    note(printed)
    again = gradcli.parse(printed)
    assert structure(again) == structure(graph)
    assert again.to_source() == printed  # printing is a fixed point


GRAMMAR_BITS = ["x", "y", "e", "pi", "(", ")", "+", "-", "*", "/", "**", "^", ",", ";", "\n", "=",
                "+=", "*=", "1", "0", "2.5", ".5", "1e3", "1e999", "exp", "log", "max", "relu", "pow",
                "sqrt", " ", "#", "@", "é", "\t", "[", "1x"]


def _evaluates_or_raises_gradcli_error(source: str) -> None:
    try:
        graph = gradcli.parse(source)
    except gradcli.GradcliError:
        return
    values = {name: 1.5 for name in graph.required}
    try:
        graph.evaluate(values)
        check(graph, values)
    except gradcli.GradcliError:
        pass
    # whatever parses also prints and parses back to the same graph
    assert structure(gradcli.parse(graph.to_source())) == structure(graph)


@given(st.text(max_size=40))
def test_any_string_evaluates_or_raises_a_gradcli_error(source):
    _evaluates_or_raises_gradcli_error(source)


@given(st.lists(st.sampled_from(GRAMMAR_BITS), max_size=25).map("".join))
def test_any_string_of_grammar_pieces_evaluates_or_raises_a_gradcli_error(source):
    _evaluates_or_raises_gradcli_error(source)


@given(st.text(alphabet="[],.-+eE0123456789 nainfpx", max_size=20))
def test_any_value_text_is_an_array_or_a_gradcli_error(value):
    try:
        array = parse_value_text(value, "--set v")
    except gradcli.GradcliError:
        return
    assert array.dtype == np.float64


@given(st.lists(st.sampled_from(GRAMMAR_BITS), max_size=12).map("".join))
def test_the_command_line_never_shows_a_traceback(cli, source):
    result = cli("check", source, "--set", "x=0.5", "--set", "y=2")  # the fixture checks for tracebacks
    assert result.exit_code in (0, 1, 2)
