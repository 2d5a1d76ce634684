"""Several outputs of one program: a graph per output statement, each run with the values its
graph uses, and one warning for a value that no output uses.

`gradcli eval --outputs f,g` and `gradcli.evaluate_outputs` both run through here. Each output is
its own f: the graph the parser builds with `parse(text, output=name)` (the statement that last
assigns `name`), differentiated on its own; an output whose value is an array is differentiated
as eval does it (the gradients of sum(f)).
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping

from ..base.errors import GradcliError, did_you_mean, shorten
from ..core.graph import Graph
from ..core.trace import Diagnostic, Result
from ..inputs.values import shapes_of
from ..language.parser import parse


def output_name(graph: Graph) -> str:
    """The name of a graph's output: the target of its output statement (`g = exp(q)` and
    `g += 1` → "g"), or "f" when that statement is a bare expression or the graph was not made by
    the parser. (Read character by character, not by a regular expression: this runs at every
    `gradcli eval`, whose start-up is measured.)"""
    span = graph.source.output
    if span is None:
        return "f"
    text, i, end = span.source.text, span.start, span.end
    while i < end and text[i] in " \t\r\n":
        i += 1
    start = i
    while i < end and (text[i] == "_" or "a" <= text[i] <= "z" or "A" <= text[i] <= "Z"
                       or (i > start and "0" <= text[i] <= "9")):
        i += 1
    name = text[start:i]
    while i < end and text[i] in " \t":
        i += 1
    if i < end and text[i] in "+-*/" and text[i + 1:i + 2] == "=":
        i += 1  # an augmented assignment, q += 1, names q too
    return name if name and i < end and text[i] == "=" else "f"


def names(outputs: Iterable[str]) -> list[str]:
    """The output names, each once, in their first order; GradcliError for none, TypeError for a
    name that is not a str."""
    if isinstance(outputs, str):
        outputs = [outputs]
    chosen = []
    for name in outputs:
        if not isinstance(name, str):
            raise TypeError(f"an output is a statement's name (a str), not {type(name).__name__}")
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise GradcliError("no outputs were asked for", hint="name one or more statements, e.g. ['f', 'g']")
    return chosen


def graphs(text: str, outputs: Iterable[str] | None, *, values: Mapping[str, object] | None = None,
           expand: bool = False, transform: Callable[[Graph], Graph] | None = None) -> dict[str, Graph]:
    """{output name: its graph}, in the order asked for: one parse of `text` per name (the
    statement that last assigns it), or, for outputs=None, the last statement's graph keyed by
    `output_name`. `values` give the shapes diff(…) is built for (as `parse(shapes=…)`);
    `transform` (e.g. language.rewrite.stabilize) is applied to each graph. Raises the parser's
    errors: GradcliError for a name no statement assigns (listing the statements)."""
    shapes = shapes_of(values or {})
    if outputs is None:
        graph = parse(text, expand=expand, shapes=shapes)
        found = {output_name(graph): graph}
    else:
        found = {name: parse(text, expand=expand, shapes=shapes, output=name) for name in names(outputs)}
    if transform is not None:
        found = {name: transform(graph) for name, graph in found.items()}
    return found


def unused_values(graphs: Mapping[str, Graph], values: Mapping[str, object]) -> list[Diagnostic]:
    """One "input" diagnostic per given value that no graph uses, worded as the engine words it
    for one graph (with its did-you-mean among the variables of all the graphs)."""
    used: dict[str, None] = {}
    for graph in graphs.values():
        used.update(dict.fromkeys(graph.variables))
    notes = []
    for name in values:
        if name not in used:
            hint = did_you_mean(name, used) if used and len(notes) < 20 else None
            notes.append(Diagnostic("input", f"a value was given for {shorten(name)!r}, which the expression "
                                             "does not use" + (f"; {hint}" if hint else "")))
    return notes


def evaluate(graphs: Mapping[str, Graph], values: Mapping[str, object] | None = None, *,
             trace: bool | None = None, max_memory: int | None = None) -> dict[str, Result]:
    """{output name: its Result}: each graph's forward and backward pass (Graph.evaluate, with
    `trace` and `max_memory` per run) on the values its graph uses, so that no output warns of a
    value another output uses. A value that no output uses gets one "input" diagnostic, added
    to every Result's diagnostics (each Result stays whole; the CLI prints a message once).

    Raises what Graph.evaluate raises (MissingValueError, ShapeError, ResourceError, ...), for
    the first output, in order, that fails. A single graph runs on all the values (the engine
    warns of the unused ones itself)."""
    values = dict(values or {})
    if len(graphs) == 1:  # the engine's own warnings are then exactly these, in its order
        graph, = graphs.values()
        return {name: graph.evaluate(values, trace=trace, max_memory=max_memory) for name in graphs}
    unused = unused_values(graphs, values)
    results = {}
    for name, graph in graphs.items():
        result = graph.evaluate(_own_values(graph, values), trace=trace, max_memory=max_memory)
        result.diagnostics.extend(unused)
        results[name] = result
    return results


def jvps(graphs: Mapping[str, Graph], values: Mapping[str, object], tangents: Mapping[str, object], *,
         trace: bool | None = None, max_memory: int | None = None) -> dict:
    """{output name: its JVP} (gradcli.evaluation.forward.jvp), each output run as `evaluate` runs
    it: on the values it uses, and on the tangents of its own variables (a tangent of a name no
    output has stays, for forward.jvp's did-you-mean); a value no output uses is one "input"
    diagnostic in every JVP. A single graph runs on all the values and tangents."""
    from .forward import jvp

    values = dict(values)
    if len(graphs) == 1:
        graph, = graphs.values()
        return {name: jvp(graph, values, tangents, trace=trace, max_memory=max_memory) for name in graphs}
    unused = unused_values(graphs, values)
    results = {}
    for name, graph in graphs.items():
        own_tangents = {key: t for key, t in tangents.items()
                        if key in graph.variables or not any(key in g.variables for g in graphs.values())}
        result = jvp(graph, _own_values(graph, values), own_tangents, trace=trace, max_memory=max_memory)
        result.diagnostics = [*result.diagnostics, *unused]
        results[name] = result
    return results


def _own_values(graph: Graph, values: dict) -> dict:
    """The values an output's graph uses; all of them when one it needs is missing (its run then
    fails, and the engine's message names the unused values as candidates)."""
    own = {key: value for key, value in values.items() if key in graph.variables}
    return values if any(key not in own for key in graph.required) else own
