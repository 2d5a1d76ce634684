"""`--format json`: one JSON document, valid even with nan and inf (written as strings)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np

from ..core.trace import Result

if TYPE_CHECKING:
    from ..evaluation.check import CheckReport

# How long a node's source text may be in the document; `span` locates the rest.
TEXT_LIMIT = 200

_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def jsonable(value):
    """A number or array as JSON data: floats, nested lists, and "NaN"/"Infinity"/"-Infinity"."""
    if value is None or isinstance(value, str):  # a str: the formula of a non-elementwise Jacobian
        return value
    if isinstance(value, (float, np.floating)) or (isinstance(value, np.ndarray) and value.ndim == 0):
        number = float(value)  # the common case, a scalar: no array round trip
        if number - number == 0:
            return number
        return "NaN" if number != number else ("Infinity" if number > 0 else "-Infinity")
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
    # ASCII like the other documents (σ is \u03c3): the same data, and safe on any terminal
    return json.dumps(data, allow_nan=False, indent=2)


def render(result: Result) -> str:
    """The document as one string: the same text `write` streams."""
    import io

    out = io.StringIO()
    write(result, out)
    return out.getvalue()


def write(result: Result, out) -> None:
    """Write the document to the text stream `out`, one node at a time: the text is exactly
    `json.dumps(document(result), allow_nan=False, indent=2)`, without holding the document (or
    its text) whole. A 70,000-node trace's document is ~60 MB of text, and several times that as
    dicts; json's indenting encoder is pure Python. Here each node is laid out by a template,
    its strings and numbers written by json's own C helpers, arrays by json itself."""
    enc = json.encoder.encode_basestring_ascii

    def value(data, level: int) -> str:
        """One JSON value at nesting `level`, laid out as json.dumps(indent=2) lays it there."""
        if data is None:
            return "null"
        if type(data) is float:
            return float.__repr__(data)
        if type(data) is str:
            return enc(data)
        if type(data) is int:
            return int.__repr__(data)
        text = json.dumps(data, allow_nan=False, indent=2)
        return text.replace("\n", "\n" + "  " * level) if level else text

    doc = document(Result(result.graph, result.value, result.gradients, None, result.diagnostics))
    head = json.dumps(doc, allow_nan=False, indent=2)
    if result.trace is None:
        out.write(head)
        return
    out.write(head[:-2] + ",\n")  # the document without its closing "\n}"
    lines: list[str] = []

    def flush() -> None:
        out.write("".join(lines))
        lines.clear()

    trace = result.trace
    out.write('  "nodes": [' + ("" if trace else "],\n"))
    for number, record in enumerate(trace):
        node = record.node
        span = node.span
        line, column = span.source.line_col(span.start)
        by_index = {edge.index: edge for edge in record.edges}
        view = node.view if node.kind == "gate" else None
        parts = [
            "\n    {\n"
            f'      "id": {node.id},\n'
            f'      "op": {enc(node.op_name)},\n'
            f'      "symbol": {value(view.symbol if view else None, 3)},\n'
            f'      "role": {value(view.role if view else None, 3)},\n'
            f'      "name": {value(node.name, 3)},\n'
            f'      "rewrite": {value(node.rewrite, 3)},\n'
            f'      "text": {enc(span.short_text(TEXT_LIMIT))},\n'
            '      "span": {\n'
            f'        "start": {span.start},\n'
            f'        "end": {span.end},\n'
            f'        "line": {line},\n'
            f'        "column": {column}\n'
            "      },\n"
            f'      "value": {value(jsonable(record.value), 3)},\n'
            f'      "gradient": {value(jsonable(record.gradient), 3)},\n'
            '      "inputs": ['
        ]
        if node.inputs:
            items = []
            for index, inp in enumerate(node.inputs):
                edge = by_index.get(index)
                if edge is None:
                    local = upstream = res = "null"
                else:
                    local = value(jsonable(edge.local), 5)
                    upstream = value(jsonable(edge.upstream), 5)
                    res = value(jsonable(edge.result), 5)
                items.append("\n        {\n"
                             f'          "id": {inp.id},\n'
                             f'          "local": {local},\n'
                             f'          "upstream": {upstream},\n'
                             f'          "result": {res}\n'
                             "        }")
            parts.append(",".join(items) + "\n      ]")
        else:
            parts.append("]")
        parts.append("\n    }")
        if number:
            lines.append(",")
        lines.append("".join(parts))
        if len(lines) >= 400:
            flush()
    if trace:
        lines.append("\n  ],\n")
    flush()
    forks = [record for record in trace if record.is_fork]
    out.write('  "forks": [')
    if not forks:
        out.write("]\n}")
        return
    for number, record in enumerate(forks):
        terms = [jsonable(edge.result) for edge in record.arrivals]
        lines.append(("," if number else "") + "\n    {\n"
                     f'      "id": {record.node.id},\n'
                     f'      "terms": {value(terms, 3)},\n'
                     f'      "total": {value(jsonable(record.gradient), 3)}\n'
                     "    }")
        if len(lines) >= 400:
            flush()
    lines.append("\n  ]\n}")
    flush()


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
