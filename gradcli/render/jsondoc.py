"""`--format json`: one JSON document, valid even with nan and inf (written as strings)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np

from ..trace import Result

if TYPE_CHECKING:
    from ..check import CheckReport

# How long a node's source text may be in the document; `span` locates the rest.
TEXT_LIMIT = 200

_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def jsonable(value):
    """A number or array as JSON data: floats, nested lists, and "NaN"/"Infinity"/"-Infinity"."""
    if value is None or isinstance(value, str):  # a str: the formula of a non-elementwise Jacobian
        return value
    array = np.asarray(value, dtype=np.float64)
    finite = np.isfinite(array)
    if finite.all():
        return array.tolist()
    data = array.astype(object)
    data[np.isnan(array)] = "NaN"
    data[np.isposinf(array)] = "Infinity"
    data[np.isneginf(array)] = "-Infinity"
    return data.tolist()


def document(result: Result) -> dict:
    graph = result.graph
    doc = {
        "value": jsonable(result.value),
        "shape": list(np.shape(result.value)),
        "gradient_of": result.gradient_of,
        "gradients": {name: jsonable(g) for name, g in result.gradients.items()},
        "output": graph.output.id,
    }
    if result.trace is not None:
        nodes = []
        forks = []
        for record in result.trace:
            node = record.node
            line, column = node.span.source.line_col(node.span.start)
            by_index = {edge.index: edge for edge in record.edges}
            view = node.view if node.kind == "gate" else None
            inputs = []
            for index, inp in enumerate(node.inputs):
                edge = by_index.get(index)
                inputs.append({
                    "id": inp.id,
                    "local": jsonable(edge.local) if edge else None,
                    "upstream": jsonable(edge.upstream) if edge else None,
                    "result": jsonable(edge.result) if edge else None,
                })
            nodes.append({
                "id": node.id,
                "op": node.op_name,
                "symbol": view.symbol if view else None,
                "role": view.role if view else None,
                "name": node.name,
                "rewrite": node.rewrite,
                "text": node.span.short_text(TEXT_LIMIT),
                "span": {"start": node.span.start, "end": node.span.end, "line": line, "column": column},
                "value": jsonable(record.value),
                "gradient": jsonable(record.gradient),
                "inputs": inputs,
            })
            if record.is_fork:
                forks.append({
                    "id": node.id,
                    "terms": [jsonable(edge.result) for edge in record.arrivals],
                    "total": jsonable(record.gradient),
                })
        doc["nodes"] = nodes
        doc["forks"] = forks
    return doc


def dumps(data) -> str:
    return json.dumps(data, allow_nan=False, indent=2, ensure_ascii=False)


def render(result: Result) -> str:
    return json.dumps(document(result), allow_nan=False, indent=2)


def check_document(report: CheckReport) -> dict:
    """`gradcli check --format json`: the settings, the verdict and one record per element."""
    tol = report.tolerances
    checks = []
    for e in report.entries:
        checks.append({
            "variable": e.variable,
            "index": list(e.index),
            "label": e.label,
            "analytic": jsonable(e.analytic),
            "numeric": jsonable(e.numeric),
            "error": jsonable(e.error),
            "verdict": e.verdict,
            "kinks": [{"gate": n.label, "op": n.op_name, "line": n.span.line, "column": n.span.column}
                      for n in e.kinks],
            "expected": jsonable(e.expected),
            "expected_error": jsonable(e.expected_error),
            "expected_verdict": e.expected_verdict,
            "passed": e.passed,
        })
    return {
        "value": jsonable(report.value),
        "gradient_of": report.gradient_of,
        "h": tol.h,
        "rtol": tol.rtol,
        "atol": tol.atol,
        "passed": report.passed,
        "summary": report.summary(),
        "counts": report.counts(),
        "checks": checks,
    }


def render_check(report: CheckReport) -> str:
    return json.dumps(check_document(report), allow_nan=False, indent=2)
