"""`--steps`: the backward pass narrated one gate at a time, in the order the engine took it.

`build` turns the trace into ordered step records (plain data, the numbers as the trace holds
them); `text` and `document` lay those records out for people and for JSON.
"""

from __future__ import annotations

from ..ops import ROLES
from ..source import Span
from ..trace import Result
from . import gates, numbers
from .jsondoc import jsonable


def build(result: Result) -> tuple[list[dict], list[dict]]:
    """(steps, totals): one step per gate that a gradient reaches, output first (a reverse
    topological order), and per variable the gradients that arrived and their sum."""
    output = result.graph.output
    steps = []
    for record in reversed(result.trace or []):
        node = record.node
        if node.kind != "gate" or record.gradient is None:
            continue
        view = node.view
        steps.append({
            "gate": node, "value": record.value, "symbol": view.symbol, "role": view.role,
            "seed": node is output,
            "terms": _terms(record),
            "gradient": record.gradient,
            "edges": [{"edge": edge, "input": edge.input, "role": gates.role(edge),
                       "formula": view.formulas[edge.index]} for edge in record.edges],
        })
    totals = []
    for record in result.trace or []:
        node = record.node
        if node.kind == "var" and record.gradient is not None:
            totals.append({"node": node, "terms": _terms(record),
                           "gradient": record.gradient})
    return steps, totals


def _terms(record) -> list:
    """The gradients that arrived at a node, in the order their gates appear in the source."""
    return [edge.result for edge in sorted(record.arrivals, key=lambda e: (e.gate.id, e.index))]


# Steps shown unless --all, as for the table's rows.
DEFAULT_STEPS = 100


def text(result: Result, *, digits: int = 6, all_steps: bool = False) -> str:
    def num(value) -> str:
        return numbers.number(value, digits)

    graph = result.graph
    output = graph.output
    steps, totals = build(result)
    source = Span(graph.source, 0, len(graph.source.text)).short_text(60)
    lines = [f"Backward pass of {source}, one gate per step, output first", ""]
    if result.gradient_of == "sum(f)":
        lines[1:1] = [f"f is an array of shape {tuple(result.value.shape)}: the gradients are those of sum(f)"]
    if not steps:
        lines.append("no gradient flows back: the output depends on no variable")
    roles_used = []
    limit = len(steps) if all_steps else DEFAULT_STEPS
    for number, step in enumerate(steps[:limit], 1):
        node = step["gate"]
        name = f"f = {node.label}" if node is output and node.label != "f" else node.label
        lines.append(f"{number}. {name} = {num(step['value'])}    [{step['symbol']} gate: {step['role']}]")
        if step["role"] not in roles_used:
            roles_used.append(step["role"])
        if step["seed"]:
            lines.append("   seed ∂f/∂f = 1")
        elif len(step["terms"]) > 1:
            terms = " + ".join(num(t) for t in step["terms"])
            lines.append(f"   {gates.wrt(node, output)} = {terms} = {num(step['gradient'])}    "
                         "(gradients add at forks)")
        for item in step["edges"]:
            edge = item["edge"]
            local = num(edge.local)
            formula = item["formula"]
            local_text = local if formula in ("", local) else f"{formula} = {local}"
            route = item["role"][len("routes "):] if item["role"].startswith("routes (") else ""
            lines.append(f"   {gates.wrt(item['input'], output)} = [local {local_text}] × "
                         f"[upstream {num(edge.upstream)}] = {num(edge.result)}"
                         + (f"    {route}" if route else ""))
    if len(steps) > limit:
        lines.append(f"… {len(steps) - limit} more steps not shown; --all shows every step")
    if totals:
        lines.append("")
        lines.append("gradients of the variables (complete once every gate they feed is done):")
        for total in totals:
            grad = num(total["gradient"])
            terms = total["terms"]
            shown = " + ".join(num(t) for t in terms) + f" = {grad}" if len(terms) > 1 else grad
            lines.append(f"   {gates.wrt(total['node'], output)} = {shown}"
                         + ("    (gradients add at forks)" if len(terms) > 1 else ""))
    if roles_used:
        lines.append("")
        lines.append("roles:")
        lines.extend(f"   {r}: {ROLES[r]}" for r in roles_used)
    return "\n".join(lines)


def document(result: Result) -> dict:
    """The steps as JSON data: `steps` in backward order, then `gradients` with their terms."""
    steps, totals = build(result)
    return {
        "value": jsonable(result.value),
        "gradient_of": result.gradient_of,
        "steps": [{
            "step": number,
            "id": step["gate"].id,
            "gate": step["gate"].label,
            "op": step["gate"].op_name,
            "symbol": step["symbol"],
            "role": step["role"],
            "value": jsonable(step["value"]),
            "upstream": jsonable(step["gradient"]),
            "upstream_terms": [jsonable(t) for t in step["terms"]] if not step["seed"] else [],
            "seed": step["seed"],
            "edges": [{
                "id": item["input"].id,
                "input": item["input"].label,
                "role": item["role"],
                "formula": item["formula"],
                "local": jsonable(item["edge"].local),
                "upstream": jsonable(item["edge"].upstream),
                "result": jsonable(item["edge"].result),
            } for item in step["edges"]],
        } for number, step in enumerate(steps, 1)],
        "gradients": [{
            "name": total["node"].name,
            "terms": [jsonable(t) for t in total["terms"]],
            "gradient": jsonable(total["gradient"]),
        } for total in totals],
        "roles": {r: ROLES[r] for r in dict.fromkeys(step["role"] for step in steps)},
    }
