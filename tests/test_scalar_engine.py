"""The scalar engine (big graphs of scalars on Python floats) must give what the NumPy engine gives:
the same value and gradients, the same warnings and errors. Where anything unusual happens it
declines (returns None) and Graph.evaluate runs the NumPy engine, whose diagnostics are the reference.
"""

from __future__ import annotations

import dataclasses
import math
import random
import warnings

import numpy as np
import pytest

import gradcli
from gradcli.evaluation import engine, scalar_engine
from gradcli.core.ops import OPS, Scalar
from gradcli.language.rewrite import stabilize

import exprtrees
from test_ops import SPEC, _draw

# Elementwise ops deliberately left to NumPy (none today). An op added without a scalar kernel
# must be listed here, and is then checked to make the scalar engine decline.
WITHOUT_SCALAR_KERNEL: set[str] = set()


def both(graph, values, **options):
    """(scalar engine's Result or None, NumPy engine's Result), trace=False."""
    return scalar_engine.run(graph, dict(values), **options), engine.run(graph, dict(values), trace=False, **options)


def assert_same(fast, slow, rel=1e-12):
    assert (fast.trace is None) == (slow.trace is None)
    if fast.trace is not None:
        assert_same_trace(fast.trace, slow.trace, rel)
    assert type(fast.value) is float and type(slow.value) is float
    assert fast.value == pytest.approx(slow.value, rel=rel, abs=1e-300)
    assert list(fast.gradients) == list(slow.gradients)
    for name, grad in slow.gradients.items():
        assert type(fast.gradients[name]) is float
        assert fast.gradients[name] == pytest.approx(grad, rel=rel, abs=1e-300), name
        if grad == 0:  # the sign of a zero comes from the same IEEE operations
            assert math.copysign(1, fast.gradients[name]) == math.copysign(1, grad), name
    assert [(d.kind, d.message, d.node) for d in fast.diagnostics] == \
        [(d.kind, d.message, d.node) for d in slow.diagnostics]


def _same_number(a, b, rel):
    if b is None:
        return a is None
    return type(a) is float and a == pytest.approx(float(b), rel=rel, abs=1e-300)


def assert_same_trace(fast, slow, rel=1e-12):
    """Every record and edge: same node, numbers, order (floats where the engine has NumPy scalars)."""
    assert len(fast) == len(slow)
    for mine, theirs in zip(fast, slow):
        assert mine.node is theirs.node
        assert _same_number(mine.value, theirs.value, rel), mine.node
        assert _same_number(mine.gradient, theirs.gradient, rel), mine.node
        for edges, their_edges in ((mine.edges, theirs.edges), (mine.arrivals, theirs.arrivals)):
            assert [(e.gate, e.index) for e in edges] == [(e.gate, e.index) for e in their_edges]
            for e, t in zip(edges, their_edges):
                for field in ("local", "upstream", "result"):
                    assert _same_number(getattr(e, field), getattr(t, field), rel), (mine.node, field)


def both_traced(graph, values):
    """(scalar engine's Result or None, NumPy engine's Result), trace=True."""
    return scalar_engine.run(graph, dict(values), trace=True), engine.run(graph, dict(values), trace=True)


# -- the registry: every elementwise op has a scalar kernel with the same numbers --------------------

# Ops that are not elementwise but leave a scalar as it is (derivative graphs are made of them).
PASS_THROUGH = {"expand_as", "sum_as"}


def test_every_elementwise_op_has_a_scalar_kernel_or_is_excluded():
    elementwise = {name for name, op in OPS.items() if op.elementwise}
    with_kernel = {name for name, op in OPS.items() if op.scalar is not None}
    assert with_kernel - PASS_THROUGH == elementwise - WITHOUT_SCALAR_KERNEL
    assert WITHOUT_SCALAR_KERNEL <= elementwise
    for name in with_kernel:
        kernel = OPS[name].scalar
        assert isinstance(kernel, Scalar) and len(kernel.locals) == OPS[name].arity, name
        # the scalar engine never passes params to a kernel (it declines a gate that has some)
        assert not OPS[name].params or name in PASS_THROUGH, name


@pytest.mark.parametrize("name", sorted(WITHOUT_SCALAR_KERNEL | {"sin"}))
def test_an_op_without_scalar_kernel_runs_in_numpy(name, monkeypatch):
    # every listed op, and sin with its kernel taken away, as if it were listed
    from gradcli.core.ops import FUNCTIONS, OVERLOADS

    op = dataclasses.replace(OPS[name], scalar=None)
    monkeypatch.setitem(OPS, name, op)
    monkeypatch.setitem(FUNCTIONS, name, op)
    monkeypatch.setitem(OVERLOADS[name], op.arity, op)
    args = ", ".join(["(x*x + 0.5)", "(y*y + 1.5)"][:op.arity])
    graph = gradcli.parse(f"{name}({args}) * y")
    assert any(node.op is op for node in graph.nodes)
    values = {"x": 0.3, "y": 0.7}
    assert scalar_engine.run(graph, values) is None
    result = graph.evaluate(values, trace=False)
    reference = engine.run(graph, dict(values), trace=False)
    assert result.value == reference.value and result.gradients == reference.gradients


@pytest.mark.parametrize("name", sorted(n for n in OPS if OPS[n].scalar is not None))
def test_scalar_kernel_gives_the_numpy_numbers(name):
    # To the last bit: on NumPy scalars (a gate's output), op.forward and op.locals are what the
    # NumPy engine computes; the kernel does the same operations on floats.
    op = OPS[name]
    spec = SPEC[name]
    rng = np.random.default_rng(len(name))
    for _ in range(200):
        inputs = [np.float64(_draw(rng, domain, ())) for domain in spec.domains]
        if spec.distinct and abs(inputs[0] - inputs[1]) < 0.1:
            continue
        floats = [float(x) for x in inputs]
        ans = op.forward(*inputs)
        got = op.scalar.forward(*floats)
        assert type(got) is float and got == float(ans), (name, floats)
        for index in range(op.arity):
            want = float(op.locals[index](ans, *inputs) if op.elementwise
                         else op.vjp(np.float64(1.0), ans, *inputs, index=index))
            local = op.scalar.locals[index]
            got = local if isinstance(local, float) else local(float(ans), *floats)
            assert type(got) is float and got == want, (name, index, floats)


@pytest.mark.parametrize("source, values", [
    ("log(x)", {"x": -1.0}),          # nan: NumPy warns, math raises
    ("log(x)", {"x": 0.0}),           # -inf
    ("exp(x)", {"x": 1000.0}),        # overflow
    ("exp(x) * 0", {"x": 1000.0}),    # an inf that the product hides (inf * 0 = nan)
    ("x * y", {"x": 1e200, "y": 1e200}),  # Python's * overflows silently: caught all the same
    ("exp(-x * y)", {"x": 1e200, "y": -1e200}),
    ("x / y", {"x": 1.0, "y": 0.0}),
    ("x / y", {"x": 0.0, "y": 0.0}),
    ("sqrt(x)", {"x": 0.0}),          # finite value, infinite gradient
    ("sqrt(x)", {"x": -1.0}),
    ("x ** y", {"x": -8.0, "y": 1 / 3}),  # Python's ** would give a complex number
    ("x ** y", {"x": 0.0, "y": -1.0}),
    ("x ** 2 + x ** y", {"x": -2.0, "y": 2.0}),  # a nan gradient (ln of a negative) only
    ("relu(x) * y", {"x": 0.0, "y": 2.0}),
    ("abs(x)", {"x": 0.0}),
    ("abs(x - y)", {"x": 1.5, "y": 1.5}),
    ("max(x, y)", {"x": 1.0, "y": 1.0}),
    ("min(x, 2*y)", {"x": 2.0, "y": 1.0}),
    ("x + y", {"x": float("nan"), "y": 1.0}),  # the engine notes a non-finite value
    ("x + y", {"x": float("inf"), "y": 1.0}),
    ("x * 1e999", {"x": 1.0}),        # a number too large for float64: noted at parsing, inf
    ("x", {"x": 1.0, "q": 2.0}),      # a value the expression does not use
    ("x", {"x": 1.0, "xx": 2.0}),
    ("sum(x) * 2", {"x": 3.0}),       # a reduction: no scalar kernel
    ("mean(x * y) + norm(x)", {"x": 3.0, "y": 1.0}),
    ("sq(t) = t*t\nsq(x) + 1", {"x": 3.0}),  # a user function: one gate, run by its body
    ("sigmoid(x) * 2", {"x": [1.0, 2.0]}),   # an array
    ("x * y", {"x": [[1.0]], "y": 2.0}),
    ("x * y", {"x": True, "y": 2.0}),     # a bool: NumPy converts it its own way
    ("x * y", {"x": 2**60, "y": 2.0}),
    ("x * y", {"x": "1.5", "y": 2.0}),    # value text
    # a Python-float step of the untraced NumPy engine would raise or overflow silently here
    ("x / 0", {"x": 1.0}),                # 1/0: ZeroDivisionError in Python
    ("x ** -1", {"x": 0.0}),
    ("x ** 2", {"x": 1e308}),             # the 2 of x**2 is a pending factor: 2·1e308 overflows
    ("x * 1e300 * 1e300 * 1e-300", {"x": 1.0}),
    ("(x * 1e-200) * 1e-200 * 1e300 * 1e300", {"x": 1.0}),
    ("exp(x) * 0", {"x": 710.0}),
    ("mean(x) * 1e308 * 10", {"x": 1.0}),
])
def test_unusual_runs_decline_and_the_numpy_engine_reports(source, values):
    graph = gradcli.parse(source)
    assert scalar_engine.run(graph, dict(values)) is None
    assert scalar_engine.run(graph, dict(values), trace=True) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy RuntimeWarning reaches the caller
        through_graph = graph.evaluate(values, trace=False)
        reference = engine.run(graph, dict(values), trace=True)  # the traced path's report
    np.testing.assert_array_equal(through_graph.value, reference.value)
    for name in reference.gradients:
        np.testing.assert_array_equal(through_graph.gradients[name], reference.gradients[name])
    assert [(d.kind, d.message, d.node) for d in through_graph.diagnostics] == \
        [(d.kind, d.message, d.node) for d in reference.diagnostics]


def test_a_kink_or_inf_off_the_gradient_path_is_not_unusual():
    # the NumPy engine only checks gates that need a gradient; a constant subexpression may sit at
    # a kink, and a named constant without a value gets no gradient
    graph = gradcli.parse("x * relu(0) + abs(pi - pi) + max(1, 1) * x")
    fast, slow = both(graph, {"x": 2.0})
    assert fast is not None and not slow.diagnostics
    assert_same(fast, slow)


def test_missing_values_raise_the_same_error():
    graph = gradcli.parse("x * y + pi")
    assert scalar_engine.run(graph, {"x": 1.0}) is None
    with pytest.raises(gradcli.MissingValueError, match="y"):
        graph.evaluate({"x": 1.0}, trace=False)


def test_max_memory_is_checked_as_by_the_engine():
    graph = gradcli.parse("x * y + sin(x)")
    with pytest.raises(gradcli.ResourceError):
        graph.evaluate({"x": 1.0, "y": 2.0}, trace=False, max_memory=16)
    fast, slow = both(graph, {"x": 1.0, "y": 2.0}, max_memory=4 * 2**30)
    assert fast is not None
    assert_same(fast, slow)


def test_graph_evaluate_takes_the_scalar_path(monkeypatch):
    graph = gradcli.parse("(a*b + sin(a)) * exp(-c)")
    values = {"a": 0.5, "b": np.float64(-1.5), "c": np.array(2.0)}  # Python, NumPy and 0-d values
    reference = engine.run(graph, dict(values), trace=False)

    def no_numpy(*args, **kwargs):
        raise AssertionError("the NumPy engine ran")

    traced_reference = engine.run(graph, dict(values), trace=True)
    monkeypatch.setattr(engine, "run", no_numpy)
    assert_same(graph.evaluate(values), traced_reference)
    result = graph.evaluate(values, trace=False)
    assert_same(result, reference)
    # the numbers are those of the NumPy engine to the last bit (these ops are the same IEEE
    # operations and the same NumPy functions on both paths)
    assert result.value == reference.value and result.gradients == reference.gradients


def test_notes_from_parsing_are_kept():
    graph = gradcli.parse("y * 2\nx * 3")  # a statement not assigned or used
    assert graph.notes
    fast, slow = both(graph, {"x": 1.0})
    assert fast is not None
    assert_same(fast, slow)


# -- re-evaluation: a plan per graph, reused, never stale ---------------------------------------------

def test_a_parsed_graph_evaluates_again_with_new_values():
    source = "(a*b + sin(a)) * exp(-c) + a / (b*b + 1)"
    graph = gradcli.parse(source)
    rng = np.random.default_rng(3)
    for _ in range(5):
        values = dict(zip("abc", rng.uniform(-2, 2, 3).tolist()))
        again = graph.evaluate(values, trace=False)
        fresh = gradcli.parse(source).evaluate(values, trace=False)
        traced = gradcli.parse(source).evaluate(values)
        assert again.value == fresh.value and again.gradients == fresh.gradients
        assert again.value == pytest.approx(traced.value, rel=1e-15)
        for name in "abc":
            assert again.gradients[name] == pytest.approx(traced.gradients[name], rel=1e-15)


def test_a_named_constant_given_a_value_in_one_call_and_not_the_next():
    graph = gradcli.parse("pi * x + e")
    calls = [{"x": 2.0}, {"x": 2.0, "pi": 3.0}, {"x": 5.0}, {"x": 1.0, "pi": 1.0, "e": 0.5}, {"x": 2.0}]
    for values in calls:
        fast, slow = both(graph, values)
        assert fast is not None
        assert_same(fast, slow)
        assert set(fast.gradients) == set(values)
    assert fast.value == 2 * math.pi + math.e and fast.gradients == {"x": math.pi}


def test_a_graph_that_needs_numpy_stays_with_numpy_across_calls():
    graph = gradcli.parse("sum(x) + x")
    for _ in range(2):
        assert scalar_engine.run(graph, {"x": 1.0}) is None
        assert graph.evaluate({"x": 1.0}, trace=False).gradients == {"x": 2.0}


def test_a_run_that_declines_leaves_the_next_run_intact():
    graph = gradcli.parse("log(x) * y")
    assert scalar_engine.run(graph, {"x": -1.0, "y": 2.0}) is None
    fast, slow = both(graph, {"x": 4.0, "y": 2.0})
    assert fast is not None
    assert_same(fast, slow)


# -- differential: random graphs over the whole registry --------------------------------------------

def _values(rng: np.random.Generator, graph, scale: float = 2.0) -> dict[str, float]:
    """A value for every variable of the graph (not the named constants)."""
    return {name: float(rng.uniform(-scale, scale)) for name in graph.required}


@pytest.mark.parametrize("seed", range(150))
def test_random_safe_graphs_agree_with_the_numpy_engine(seed):
    rng = random.Random(seed)
    tree = exprtrees.safe_tree(rng, 5)
    # a fork: the tree used twice, and a product that reuses it
    source = f"t = {exprtrees.text(tree)}\nt * x + t"
    graph = gradcli.parse(source)
    values = _values(np.random.default_rng(seed), graph)
    for fast, slow in (both(graph, values), both_traced(graph, values)):
        if fast is None:  # only where the engine saw something unusual
            assert any(d.kind in ("kink", "domain") for d in slow.diagnostics), source
        else:
            assert_same(fast, slow)


@pytest.mark.parametrize("seed", range(150))
def test_random_programs_with_odd_constants_agree_or_decline(seed):
    rng = random.Random(1000 + seed)
    source = exprtrees.program(rng)
    graph = gradcli.parse(source)
    values = _values(np.random.default_rng(seed), graph, 4.0)
    if rng.random() < 0.3 and "pi" not in values:
        values["pi"] = 0.5  # a named constant given a value, for any graph that uses it
        graph = gradcli.parse(source + " + pi")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runs = [both(graph, values), both_traced(graph, values)]
    for fast, slow in runs:
        if fast is not None:
            assert not any(d.kind in ("kink", "domain") for d in slow.diagnostics), source
            assert_same(fast, slow)


def test_most_random_safe_graphs_take_the_scalar_path():
    taken = 0
    for seed in range(100):
        graph = gradcli.parse(exprtrees.text(exprtrees.safe_tree(random.Random(seed), 5)))
        values = _values(np.random.default_rng(seed), graph)
        taken += scalar_engine.run(graph, values) is not None
    assert taken >= 90


@pytest.mark.parametrize("source", [
    "1/(1+exp(-(w*x)))",             # becomes sigmoid
    "log(1 + exp(w*x))",             # softplus
    "log(sum(exp(w*x)))",            # logsumexp: a reduction, NumPy's
])
def test_stable_rewrites_agree(source):
    graph = stabilize(gradcli.parse(source))
    values = {"w": 0.7, "x": -1.3}
    fast, slow = both(graph, values)
    if "sum" in source:
        assert fast is None
    else:
        assert_same(fast, slow)
    assert graph.evaluate(values, trace=False).gradients == pytest.approx(
        gradcli.parse(source).evaluate(values).gradients, rel=1e-9)


def test_a_big_sum_agrees_and_scales():
    n = 2000
    source = " + ".join(f"(a{i}*b{i} + sin(a{i}))*exp(-c{i})" for i in range(n))
    rng = np.random.default_rng(0)
    values = {f"{k}{i}": float(v) for i in range(n) for k, v in zip("abc", rng.uniform(-1, 1, 3))}
    graph = gradcli.parse(source)
    fast, slow = both(graph, values)
    assert fast is not None
    assert_same(fast, slow)
    assert fast.value == slow.value and fast.gradients == slow.gradients


def test_the_readme_example_of_evaluating_again(capsys):
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Python API", 1)[1]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(block, "README.md", "exec"), {})
    printed = capsys.readouterr().out.split()
    shown = [line[2:] for line in block.splitlines() if line.startswith("# 0.")]  # what it prints
    assert printed == shown and len(printed) == 3


@pytest.mark.parametrize("source, values", [
    ("(x + y) * z", {"x": -2, "y": 5, "z": -4}),              # CS231n's example 1
    ("1/(1+exp(-(w0*x0+w1*x1+w2)))", {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3}),
    ("2 * (x*y + max(z, w))", {"x": 3, "y": -4, "z": 2, "w": -1}),
    ("x * x * x + pi", {"x": 1.5}),                            # a fork; a constant with no gradient
    ("x", {"x": 2.0}),                                         # the output is a variable
    ("3 * 2", {}),                                             # no variable at all
    ("y * 2\nq = x ** 2 / (1 + relu(x))\nq * sigmoid(q) - softplus(-q)", {"x": 0.7}),
])
def test_traced_runs_record_what_the_engine_records(source, values):
    graph = gradcli.parse(source)
    fast, slow = both_traced(graph, values)
    assert fast is not None
    assert_same(fast, slow)
    assert fast.edges and [(e.gate, e.index) for e in fast.edges] == [(e.gate, e.index) for e in slow.edges] \
        or not slow.edges


@pytest.mark.parametrize("options", [
    [], ["--all"], ["--format", "json"], ["--format", "csv"], ["--format", "plain"], ["--format", "dot"],
    ["--format", "tree"], ["--steps"], ["--steps", "--format", "json"], ["--digits", "17"],
])
def test_the_command_line_prints_the_same_from_both_engines(cli, monkeypatch, options):
    program = "q = x + y\nf = q * z\nf + sin(q) * exp(-z) / (1 + x*x) + max(x, y) + pi"
    args = ["eval", program, "--set", "x=-2", "--set", "y=5", "--set", "z=-4", *options]
    fast = cli(*args)
    monkeypatch.setattr(scalar_engine, "run", lambda *a, **k: None)  # the NumPy engine only
    slow = cli(*args)
    assert fast.exit_code == slow.exit_code == 0, fast.stderr
    assert fast.stdout == slow.stdout and fast.stderr == slow.stderr
