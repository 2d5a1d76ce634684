"""`--steps`: the backward pass narrated one gate at a time, in the order the engine took it.

`build` turns the trace into ordered step records (plain data, the numbers as the trace holds
them); `text` and `document` lay those records out for people and for JSON.
"""

from __future__ import annotations

import re

from ..core.ops import _IDENTIFIER, _SHORT, ROLES, gate_view
from ..core.trace import Result
from . import gates, numbers
from .jsondoc import jsonable


def build(result: Result) -> tuple[list[dict], list[dict]]:
    """(steps, totals): one step per gate that a gradient reaches, output first (a reverse
    topological order), and per variable the gradients that arrived and their sum."""
    return list(iter_steps(result)), list(iter_totals(result))


def iter_steps(result: Result):
    """The steps of `build`, one at a time (the text view streams them)."""
    output = result.graph.output
    taken = _names(result)
    for record in _step_records(result):
        yield _step(record, output, taken)


def _names(result: Result) -> set:
    """The names of the program (variables and statements): a short name for a long input must
    be none of them."""
    return {node.name for node in result.graph.nodes if node.name}


_SHORT_NAMES = ("u", "v", "t", "s", "p", "r")


def _renamed(node, taken: set):
    """The gate's view with each long input (one its formulas would call x or y) named by a short
    letter that is no variable of the program, and those letters: [(letter, label)]."""
    view = node.view
    if node.op.body is not None:
        return view, []
    spare = iter(n for n in _SHORT_NAMES if n not in taken)
    labels, renamed = [], []
    for inp in node.inputs:
        label = inp.label
        if inp.kind != "const" and not _IDENTIFIER.fullmatch(label) and len(label) > _SHORT:
            letter = next(spare, None)
            if letter is not None:
                renamed.append((letter, label))
                label = letter
        labels.append(label)
    if not renamed:
        return view, []
    return gate_view(node.op, tuple(i.default if i.kind == "const" else None for i in node.inputs),
                     tuple(labels)), renamed


def _step_records(result: Result):
    """The trace records that make a step: gates a gradient reaches, output first."""
    for record in reversed(result.trace or []):
        if record.node.kind == "gate" and record.gradient is not None:
            yield record


def _step(record, output, taken: set = frozenset()) -> dict:
    node = record.node
    view, renamed = _renamed(node, taken)
    formulas = [view.formulas[edge.index] for edge in record.edges]
    used = [(letter, label) for letter, label in renamed
            if any(re.search(rf"(?<![A-Za-z0-9_]){letter}(?![A-Za-z0-9_])", f) for f in formulas)]
    return {
        "names": used,
        "gate": node, "value": record.value, "symbol": view.symbol, "role": view.role,
        "seed": node is output,
        "terms": _terms(record),
        "gradient": record.gradient,
        "edges": [{"edge": edge, "input": edge.input, "role": gates.role(edge),
                   "formula": node.view.formulas[edge.index],  # as the JSON has it
                   "text": view.formulas[edge.index]} for edge in record.edges],
    }


def iter_totals(result: Result):
    """The totals of `build`, one variable at a time."""
    for record in result.trace or []:
        node = record.node
        if node.kind == "var" and record.gradient is not None:
            yield {"node": node, "terms": _terms(record), "gradient": record.gradient}


def _terms(record) -> list:
    """The gradients that arrived at a node, in the order their gates appear in the source."""
    return [edge.result for edge in sorted(record.arrivals, key=lambda e: (e.gate.id, e.index))]


# Steps shown unless --all, as for the table's rows; so are the variables' totals, and the terms
# of one sum at a fork.
DEFAULT_STEPS = 100
DEFAULT_TERMS = 100
# Lines written at a time: the narration of a 100,000-gate graph is streamed, never held whole.
BLOCK = 200


def text(result: Result, *, digits: int = 6, all_steps: bool = False) -> str:
    """The narration as one string (see `render`)."""
    import io

    out = io.StringIO()
    render(result, out, digits=digits, all_steps=all_steps)
    return out.getvalue()[:-1]


def render(result: Result, out, *, digits: int = 6, all_steps: bool = False, name: str = "f") -> None:
    """Write the narration to the text stream `out`, a block of lines at a time. Unless
    `all_steps`, at most DEFAULT_STEPS steps and variables, each sum with at most DEFAULT_TERMS
    terms, with a note of what is hidden. `name`: what the output is called (∂g/∂x), f by
    default (eval --outputs names each output)."""
    f = name

    def num(value) -> str:
        return numbers.number(value, digits)

    def sum_text(terms: list, total) -> str:
        shown = terms if all_steps else terms[:DEFAULT_TERMS]
        more = f" + … ({len(terms) - len(shown)} more terms)" if len(shown) < len(terms) else ""
        return numbers.joined_sum(num(t) for t in shown) + more + f" = {num(total)}"

    lines: list[str] = []

    def flush(force: bool = False) -> None:
        if lines and (force or len(lines) >= BLOCK):
            out.write("\n".join(lines) + "\n")
            lines.clear()

    graph = result.graph
    output = graph.output
    source = gates.title(graph)
    lines += [f"Backward pass of {source}, one gate per step, output first", ""]
    if result.gradient_of == "sum(f)":
        lines[1:1] = [f"{f} is an array of shape {tuple(result.value.shape)}: the gradients are those of sum({f})"
                      " (gradcli jacobian gives each element's gradient)"]
    roles_used = []
    taken = _names(result)
    limit = None if all_steps else DEFAULT_STEPS
    count = 0
    for record in _step_records(result):
        count += 1
        if limit is not None and count > limit:
            continue  # counted, not shown
        step = _step(record, output, taken)
        node = step["gate"]
        name = f"{f} = {node.label}" if node is output and node.label != f else node.label
        lines.append(f"{count}. {name} = {num(step['value'])}    [{step['symbol']} gate: {step['role']}]")
        if step["role"] not in roles_used:
            roles_used.append(step["role"])
        if node.op.name == "diff":
            lines.extend(_diff_note(node))
        if step["seed"]:
            lines.append(f"   seed ∂{f}/∂{f} = 1")
        elif len(step["terms"]) > 1:
            lines.append(f"   {gates.wrt(node, output, f)} = {sum_text(step['terms'], step['gradient'])}    "
                         "(gradients add at forks)")
        lines.extend(f"   {letter} = {label}" for letter, label in step["names"])  # said once
        for item in step["edges"]:
            edge = item["edge"]
            formula = item["text"]
            if isinstance(edge.local, str):  # not elementwise: the rule is the local, no number
                local_text = formula or edge.local
            else:
                local = num(edge.local)
                local_text = local if formula in ("", local) else f"{formula} = {local}"
            route = item["role"][len("routes "):] if item["role"].startswith("routes (") else ""
            lines.append(f"   {gates.wrt(item['input'], output, f)} = [local {local_text}] × "
                         f"[upstream {num(edge.upstream)}] = {num(edge.result)}"
                         + (f"    {route}" if route else ""))
        flush()
    if not count:
        lines.append("no gradient flows back: the output depends on no variable")
    if limit is not None and count > limit:
        lines.append(f"… {count - limit} more steps not shown; --all shows every step")
    shown = 0
    hidden = 0
    for total in iter_totals(result):
        if limit is not None and shown >= limit:
            hidden += 1
            continue
        if not shown:
            lines.append("")
            lines.append("gradients of the variables (complete once every gate they feed is done):")
        shown += 1
        terms = total["terms"]
        grad = sum_text(terms, total["gradient"]) if len(terms) > 1 else num(total["gradient"])
        lines.append(f"   {gates.wrt(total['node'], output, f)} = {grad}"
                     + ("    (gradients add at forks)" if len(terms) > 1 else ""))
        flush()
    if hidden:
        lines.append(f"   … {hidden} more variables not shown; --all shows every one")
    if roles_used:
        lines.append("")
        lines.append("roles:")
        lines.extend(f"   {r}: {ROLES[r]}" for r in roles_used)
    flush(force=True)


def _diff_note(node) -> list[str]:
    """Where a diff(…) gate's value comes from: the backward pass of its expression, built as
    gates when the program was read (they are marked ∂/∂x in the steps below)."""
    expression = node.inputs[1]
    if expression.kind == "gate" and expression.op.name == "scalar":
        expression = expression.inputs[0]
    derivative = node.inputs[0]
    scope = derivative.scope if derivative.kind == "gate" and derivative.scope else None
    if scope is None:
        return [f"   its value is the derivative of {expression.label}, which folded to a constant"]
    return [f"   its value is {scope} of {expression.label}, whose backward pass was built as gates",
            f"   when the program was read (the steps marked {scope}), differentiated again like any gate"]


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
