"""The JSON writer's column path (issue 13): a scalar run's records are written from its columns
(core.trace.RecordColumns) without making the NodeTrace/Edge objects, and the text must stay exactly
json.dumps of the document, the document of the NumPy engine's own records."""

from __future__ import annotations

import io
import json

import pytest

import gradcli
from gradcli.evaluation import engine
from gradcli.render import jsondoc

LONG = " + ".join(f"(a{i}*b{i} + sin(a{i}))*exp(-c{i})" for i in range(40))  # texts past 200 and 800
LONG_VALUES = {f"{v}{i}": 0.1 * i - 1.0 + 0.3 * k for i in range(40) for k, v in enumerate("abc")}

CASES = [
    ("(x + y) * z", dict(x=-2.0, y=5.0, z=-4.0), True),
    ("x*x + sin(x)*y - x/y", dict(x=0.75, y=-1.5), True),  # forks: x's arrivals, in order
    ("2*x + 3 + pi*y", dict(x=1.0, y=2.0), True),  # constants; pi's input has no edge: null
    ("2*x + 3 + pi*y", dict(x=1.0, y=2.0, pi=3.0), True),  # pi given: its edge
    ("2*3 + x", dict(x=1.0), True),  # a gate needing no gradient: null gradient
    ("clip(x, y, 2)*x + clip(1, x, y)", dict(x=0.5, y=1.5), True),  # three inputs, a constant among them
    ("x*y + y", dict(x=-0.0, y=-0.0), True),  # signed zeros in values, locals and results
    ("x*0 + y*y + x", dict(x=0.0, y=-0.0), True),
    ("(x *  y\n  + sin(x)\t* y\n\n+ exp(-x))", dict(x=0.25, y=3.0), True),  # lines, columns, squeezed texts
    ("u = x*y\nf = u + exp(u)", dict(x=0.5, y=-2.0), True),  # named gates
    (LONG, LONG_VALUES, True),
    ("sq(t) = t*t\nsq(x) + x", dict(x=1.5), False),  # a user function: the NumPy engine's records
    ("x*y", dict(x=1.0, y=2.0, unused=3.0), False),  # an unused value: the NumPy engine
    ("exp(x) + y", dict(x=1000.0, y=1.0), False),  # inf
    ("sum(x*y) + z", dict(x=[[1.5, -0.0], [2.0, 3.0]], y=[0.5, 1.0], z=-2.0), False),
]


@pytest.mark.parametrize("block", [jsondoc.COLUMN_BLOCK, 3])
@pytest.mark.parametrize("source, values, scalar", CASES, ids=[c[0][:30] for c in CASES])
def test_written_from_the_columns_is_json_dumps_of_the_document(monkeypatch, source, values, scalar, block):
    monkeypatch.setattr(jsondoc, "COLUMN_BLOCK", block)  # 3: blocks end inside gates' runs of edges
    graph = gradcli.parse(source)
    result = graph.evaluate(values)
    assert (result.columns is not None) == scalar
    out = io.StringIO()
    jsondoc.write(result, out)
    assert result._trace is None or not scalar  # written without making the records
    reference = engine.run(graph, dict(values), trace=True)  # the NumPy engine's own records
    expected = json.dumps(jsondoc.document(reference), allow_nan=False, indent=2)
    assert out.getvalue() == expected
    assert json.dumps(jsondoc.document(result), allow_nan=False, indent=2) == expected


def test_float_texts_keep_signed_zeros_and_json_names():
    known = {None: "null"}
    floats = [0.0, -0.0, 1.5, None, -0.0, 1.5, float("nan"), float("inf"), -float("inf"), 0.1 + 0.2]
    assert jsondoc._float_texts(floats, known) == ["0.0", "-0.0", "1.5", "null", "-0.0", "1.5", '"NaN"',
                                                   '"Infinity"', '"-Infinity"', "0.30000000000000004"]
    assert jsondoc._float_texts([-0.0, 0.0], known) == ["-0.0", "0.0"]  # no zero kept in `known`


@pytest.mark.parametrize("source, values", [
    ("x*x + sin(x)*y", dict(x=0.75, y=-1.5)),
    ("clip(x, y, 2)*x + pi*y", dict(x=0.5, y=1.5)),
])
def test_the_columns_hold_the_run_s_records(source, values):
    result = gradcli.evaluate(source, values)
    columns, records = result.columns, result.trace  # the scalar engine's own records
    assert [r.node for r in records] == columns.nodes
    assert [(r.value, r.gradient) for r in records] == list(zip(columns.values, columns.gradients))
    # every edge, gates in topological order and each gate's edges in input order; the upstream
    # is the gate's gradient
    mine = list(zip(columns.gates, columns.indexes, columns.inputs, columns.locals,
                    [columns.gradients[k] for k in columns.gates], columns.results))
    assert mine == [(e.gate.id, e.index, e.input.id, e.local, e.upstream, e.result)
                    for r in records for e in r.edges]
    for record in records:
        for edge in record.edges:
            assert edge.gate is record.node and edge.upstream is record.gradient
            assert any(arrival is edge for arrival in records[edge.input.id].arrivals)
    if source.startswith("x*x"):  # the backward pass's order: sin(x)*y's gates, then x*x's edges
        (x,) = [r for r in records if r.node.name == "x"]
        assert [(e.gate.op_name, e.index) for e in x.arrivals] == [("sin", 0), ("mul", 0), ("mul", 1)]
