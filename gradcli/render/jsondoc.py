"""`--format json`: one JSON document, valid even with nan and inf (written as strings)."""

from __future__ import annotations

import json

import numpy as np

from ..trace import Result

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


def render(result: Result) -> str:
    return json.dumps(document(result), allow_nan=False, indent=2)
