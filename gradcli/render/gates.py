"""How gates, edges and gradients are named in text views (table, steps, tree, dot)."""

from __future__ import annotations

import re

import numpy as np

from ..core.graph import Node
from ..base.source import Span
from ..core.trace import Edge

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def role(edge: Edge, view=None) -> str:
    """The gate's role word; a route also says whether this input won (read from the local).
    `view`: the gate's view when the caller has it already (it costs a few microseconds)."""
    word = (view or edge.gate.view).role
    # a reduction's local is its rule as text (a str), not a number: nothing won or lost there
    if word == "routes" and not isinstance(edge.local, str) and np.ndim(edge.local) == 0:
        local = float(edge.local)
        word += " (won)" if local == 1 else " (tie)" if local == 0.5 else " (lost)"
    return word


_COMMENT = re.compile(r"#[^\n]*")


def title(graph, limit: int = 60) -> str:
    """What a view is titled by: the program's output statement (`f = q * z`, `sig(z)`) on one
    line, its comments dropped, cut with … past `limit` characters; never the definitions and
    statements before it."""
    span = graph.source.output
    if span is None:  # a graph not made by the parser
        span = Span(graph.source, 0, len(graph.source.text))
    text = span.source.text[span.start:min(span.end, span.start + 8 * limit)]
    text = " ".join(_COMMENT.sub(" ", text).split())
    if len(text) <= limit and span.end - span.start <= 8 * limit:
        return text
    return text[:limit - 1] + "…"


def whole_label(node: Node) -> str:
    """The node's label never cut (`Node.label` is cut at 40 characters): its name, else all of
    its source text on one line. For the machine formats, where a cut label could read the same
    as another gate's."""
    if node.name is not None:
        return node.name
    text = node.text if node.text is not None else " ".join(node.span.text.split())
    return f"{node.scope}: {text}" if node.scope else text


def wrt(node: Node, output: Node, name: str = "f") -> str:
    """∂f/∂node, with a parenthesised label where it is not a name (∂g/∂… for name "g")."""
    if node is output:
        return f"∂{name}/∂{name}"
    label = node.label
    return f"∂{name}/∂{label}" if _IDENTIFIER.fullmatch(label) else f"∂{name}/∂({label})"
