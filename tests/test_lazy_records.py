"""trace=None, the default of gradcli.evaluate and Graph.evaluate (issue 13): the fast pass, and
per-edge records made only when first read, equal to trace=True's, without evaluating again
where the run could keep its state (graphs of scalars always; arrays within
engine.KEEP_BYTES); bigger arrays make them by one traced pass when read. And the JSON document,
written by a template, stays json.dumps of the document."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

import gradcli
from gradcli.evaluation import engine, scalar_engine
from gradcli.render import jsondoc


class Calls:
    """Counts the calls of some module functions (monkeypatched), by name."""

    def __init__(self, monkeypatch, module, *names: str) -> None:
        self.counts = dict.fromkeys(names, 0)
        for name in names:
            real = getattr(module, name)

            def counted(*args, _real=real, _name=name, **kwargs):
                self.counts[_name] += 1
                return _real(*args, **kwargs)

            monkeypatch.setattr(module, name, counted)


def _same_records(lazy, traced) -> None:
    assert len(lazy.trace) == len(traced.trace)
    for mine, theirs in zip(lazy.trace, traced.trace):
        assert (mine.node.id, mine.node.op_name) == (theirs.node.id, theirs.node.op_name)
        np.testing.assert_array_equal(mine.value, theirs.value)
        if theirs.gradient is None:
            assert mine.gradient is None
        else:
            np.testing.assert_array_equal(mine.gradient, theirs.gradient)
        for edges, their_edges in ((mine.edges, theirs.edges), (mine.arrivals, theirs.arrivals)):
            assert [(e.gate.id, e.index) for e in edges] == [(e.gate.id, e.index) for e in their_edges]
            for e, t in zip(edges, their_edges):
                if isinstance(t.local, str):
                    assert e.local == t.local
                else:
                    np.testing.assert_array_equal(e.local, t.local)
                np.testing.assert_array_equal(e.upstream, t.upstream)
                np.testing.assert_array_equal(e.result, t.result)


def test_scalar_records_are_made_when_read_from_the_run_s_own_numbers(monkeypatch):
    fast = Calls(monkeypatch, scalar_engine, "_forward", "_backward", "_backward_traced")
    numpy_engine = Calls(monkeypatch, engine, "run")
    result = gradcli.evaluate("(x + y) * z", x=-2, y=5, z=-4)
    assert result.value == -12.0 and result.gradients == {"x": -4.0, "y": -4.0, "z": 3.0}
    assert fast.counts == {"_forward": 1, "_backward": 1, "_backward_traced": 0}  # no records yet
    # by hand: ∂f/∂q = z = -4 and ∂f/∂z = q = 3 (q = x + y), upstream 1; q's edges pass -4 on
    steps = [(e.gate.op_name, e.index, e.local, e.upstream, e.result) for e in result.edges]
    assert steps == [("mul", 0, -4.0, 1.0, -4.0), ("mul", 1, 3.0, 1.0, 3.0),
                     ("add", 0, 1.0, -4.0, -4.0), ("add", 1, 1.0, -4.0, -4.0)]
    assert result.edge_count == 4 and len(list(result.iter_edges())) == 4
    assert [r.gradient for r in result.trace] == [-4.0, -4.0, -4.0, 3.0, 1.0]
    # made once, from the kept values and gradients: nothing ran again
    assert fast.counts == {"_forward": 1, "_backward": 1, "_backward_traced": 1}
    assert numpy_engine.counts["run"] == 0


@pytest.mark.parametrize("source, values", [
    ("1/(1+exp(-(w0*x0+w1*x1+w2)))", dict(w0=2.0, x0=-1.0, w1=-3.0, x1=-2.0, w2=-3.0)),
    ("x*x + sin(x)*y - x/y", dict(x=0.75, y=-1.5)),  # a fork: x's three arrivals, in order
    ("clip(x, y, 2) * x + pi", dict(x=0.5, y=-1.0)),  # a gate of three inputs
    ("x*y + y", dict(x=-0.0, y=-0.0)),  # signed zeros in values, locals and results
])
def test_scalar_records_read_later_equal_trace_true(source, values):
    graph = gradcli.parse(source)
    lazy = graph.evaluate(values)
    traced = graph.evaluate(values, trace=True)
    reference = engine.run(graph, dict(values), trace=True)  # the NumPy engine's own records
    assert lazy.value == traced.value == float(reference.value)
    _same_records(lazy, traced)
    _same_records(lazy, reference)
    for mine, theirs in zip(lazy.trace, reference.trace):
        for e, t in zip(mine.edges, theirs.edges):  # -0.0 stays -0.0
            assert math.copysign(1, e.result) == math.copysign(1, float(t.result))


def test_small_arrays_keep_their_records_from_the_one_traced_run(monkeypatch):
    calls = Calls(monkeypatch, engine, "_traced", "_run_untraced")
    result = gradcli.evaluate("sum(x*y)", x=[1.0, 2.0, 3.0], y=[4.0, 5.0, 6.0])
    assert calls.counts == {"_traced": 1, "_run_untraced": 0}
    (mul,) = [r for r in result.trace if r.node.op_name == "mul"]
    by_index = {e.index: e for e in mul.edges}
    np.testing.assert_array_equal(by_index[0].local, [4.0, 5.0, 6.0])  # ∂(x*y)/∂x = y
    np.testing.assert_array_equal(by_index[1].result, [1.0, 2.0, 3.0])  # y's: x × upstream 1
    np.testing.assert_array_equal(result.gradients["x"], [4.0, 5.0, 6.0])
    assert result.edge_count == 3
    assert calls.counts == {"_traced": 1, "_run_untraced": 0}  # read without a second pass


def test_big_arrays_run_untraced_and_make_their_records_once_when_read(monkeypatch):
    n = engine.KEEP_BYTES // 8 + 1  # one float past the budget
    x = np.linspace(-1.0, 1.0, n)
    graph = gradcli.parse("sum(tanh(w*x))")
    calls = Calls(monkeypatch, engine, "_traced", "_run_untraced")
    result = graph.evaluate({"w": 0.5, "x": x})
    assert calls.counts == {"_traced": 0, "_run_untraced": 1}
    expected = 0.5 * (1 - np.tanh(0.5 * x) ** 2)
    np.testing.assert_allclose(result.gradients["x"], expected, rtol=1e-13)
    traced = graph.evaluate({"w": 0.5, "x": x}, trace=True)
    calls.counts.update(_traced=0)
    _same_records(result, traced)
    result.edges, result.edge_count, result.trace
    assert calls.counts == {"_traced": 1, "_run_untraced": 1}  # one traced pass, kept
    assert result.gradients["x"] is not traced.gradients["x"]


@pytest.mark.parametrize("source,change", [
    ("x*x", lambda x, y: x.__imul__(3.0)),
    # changes that leave f as it was: seen in a gradient
    ("sum(x*y)", lambda x, y: (x.__setitem__(slice(None), x[::-1].copy()), y.__setitem__(slice(None), y[::-1].copy()))),
    ("sum(x*x) + sum(y)", lambda x, y: x.__setitem__(0, x[0] + 1e-4)),
    ("sum(x*y)", lambda x, y: y.__setitem__(7, y[7] + 1e-6)),
])
def test_records_of_changed_arrays_are_refused_not_made_up(source, change):
    n = engine.KEEP_BYTES // 8 + 1
    x, y = np.linspace(-1.0, 1.0, n), np.cos(np.arange(n))
    result = gradcli.evaluate(source, x=x, y=y)
    change(x, y)
    with pytest.raises(gradcli.GradcliError, match="changed before the records were read"):
        result.trace


def test_an_intermediate_past_the_budget_stops_the_traced_attempt(monkeypatch):
    """Small inputs whose product broadcasts past KEEP_BYTES: the traced attempt stops at that
    gate, the untraced pass answers (with no diagnostic of the attempt), records come when read."""
    monkeypatch.setattr(engine, "KEEP_BYTES", 4096)
    calls = Calls(monkeypatch, engine, "_run_untraced")
    x = np.arange(40.0).reshape(40, 1)
    y = np.arange(30.0).reshape(1, 30) - 0.5  # x*y: 1,200 numbers, 9,600 bytes
    result = gradcli.evaluate("sum(log(x*y + 100))", x=x, y=y)
    assert calls.counts["_run_untraced"] == 1
    assert result.diagnostics == []
    traced = gradcli.evaluate("sum(log(x*y + 100))", {"x": x, "y": y})  # (budget: also 4096 here)
    reference = gradcli.parse("sum(log(x*y + 100))").evaluate({"x": x, "y": y}, trace=True)
    np.testing.assert_allclose(result.gradients["y"], (x / (x * y + 100)).sum(axis=0, keepdims=True), rtol=1e-13)
    _same_records(result, reference)
    _same_records(traced, reference)


def test_trace_false_still_keeps_nothing():
    assert gradcli.parse("x*y").evaluate({"x": 2.0, "y": 3.0}, trace=False).trace is None
    assert gradcli.parse("x*y").evaluate({"x": [2.0], "y": 3.0}, trace=False).trace is None


def test_max_memory_applies_to_records_made_later():
    x = np.linspace(-1.0, 1.0, 200_000)
    graph = gradcli.parse("sum(exp(x) * x)")
    untraced_fits = graph.evaluate({"x": x}, max_memory=16 * 2**20)  # the fast pass fits...
    with pytest.raises(gradcli.ResourceError):
        untraced_fits.trace  # ...its records do not
    assert graph.evaluate({"x": x}, max_memory=2**30).edge_count == 4  # sum, ×, ×, exp


@pytest.mark.parametrize("source, values", [
    ("x*y + y*y", dict(x=-0.0, y=0.0)),  # 0.0 and -0.0 are equal floats with two texts
    ("x*x*x + x", dict(x=1.0)),  # the same numbers again and again
    ("exp(x) + y", dict(x=1000.0, y=1.0)),  # inf
    ("x/y", dict(x=0.0, y=0.0)),  # nan
    ("sum(x*y) + z", dict(x=[[1.5, -0.0], [2.0, 3.0]], y=[0.5, 1.0], z=-2.0)),
])
def test_the_json_document_is_still_json_dumps_of_it(source, values):
    result = gradcli.evaluate(source, values)
    out = io.StringIO()
    jsondoc.write(result, out)
    assert out.getvalue() == json.dumps(jsondoc.document(result), allow_nan=False, indent=2)


def test_cli_json_and_table_read_the_same_records(cli):
    args = ["eval", "x*x + sin(x)*y", "x=0.75", "y=-1.5"]
    document = json.loads(cli(*args, "--format", "json").stdout)
    result = gradcli.parse("x*x + sin(x)*y").evaluate({"x": 0.75, "y": -1.5}, trace=True)
    assert document["gradients"] == pytest.approx({"x": 1.5 + math.cos(0.75) * -1.5, "y": math.sin(0.75)})
    edges = [inp for node in document["nodes"] for inp in node["inputs"] if inp["local"] is not None]
    assert len(edges) == result.edge_count == 7  # +: 2, x*x: 2, ×: 2, sin: 1
    table = cli(*args).stdout
    assert f"{1.5 + math.cos(0.75) * -1.5:.6g}" in table
