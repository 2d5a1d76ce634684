"""Evaluating a graph: what Graph.evaluate runs (gradcli/__init__.py connects it to the Graph).

A graph of scalars runs on Python floats (gradcli.evaluation.scalar_engine, from a plan made at the first
call and kept); arrays, and anything unusual that path declines, run in NumPy (gradcli.evaluation.engine); arrays
of another library (array_api_strict, Dask, CuPy) run through the array API standard
(gradcli.evaluation.array_api).
Both give the same numbers and diagnostics; this module only chooses.
"""

from __future__ import annotations

from typing import Mapping

from . import scalar_engine
from ..core.array_api import namespace_of
from ..core.graph import Graph
from ..core.trace import Result


def evaluate(graph: Graph, values: Mapping[str, object] | None = None, *, trace: bool | None = None,
             max_memory: int | None = None) -> Result:
    """Forward and backward pass of `graph` (see Graph.evaluate, which calls this)."""
    values = dict(values or {})
    xp = namespace_of(values.values())  # None for NumPy values: the array library is chosen once per run
    if xp is not None:
        from . import array_api

        return array_api.run(graph, values, xp, trace=trace)
    result = scalar_engine.run(graph, values, trace=trace, max_memory=max_memory)
    if result is not None:
        return result
    from . import engine  # (a run of scalars, the README's first example, never loads it)

    return engine.run(graph, values, trace=trace, max_memory=max_memory)
