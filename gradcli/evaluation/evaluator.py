"""Evaluating a graph: what Graph.evaluate runs (gradcli/__init__.py connects it to the Graph).

A graph of scalars runs on Python floats (gradcli.evaluation.scalar_engine, from a plan made at the first
call and kept); arrays, and anything unusual that path declines, run in NumPy (gradcli.evaluation.engine).
Both give the same numbers and diagnostics; this module only chooses.
"""

from __future__ import annotations

from typing import Mapping

from . import scalar_engine
from ..core.graph import Graph
from ..core.trace import Result


def evaluate(graph: Graph, values: Mapping[str, object] | None = None, *, trace: bool | None = None,
             max_memory: int | None = None) -> Result:
    """Forward and backward pass of `graph` (see Graph.evaluate, which calls this)."""
    values = dict(values or {})
    result = scalar_engine.run(graph, values, trace=trace, max_memory=max_memory)
    if result is not None:
        return result
    from . import engine  # (a run of scalars, the README's first example, never loads it)

    return engine.run(graph, values, trace=trace, max_memory=max_memory)
