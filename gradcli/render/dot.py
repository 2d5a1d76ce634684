"""`--format dot`: the circuit as Graphviz DOT, drawn the lecture's way.

One node per gate (its op symbol), per variable (marked as an input) and per constant; each wire
carries its forward value above (green) and the gradient flowing back along it below (red); the
output wire ends at a node `f`. Ids are the graph's node ids, so the text is stable to diff.
"""

from __future__ import annotations

from html import escape

from ..core.trace import Result
from . import gates, numbers

VALUE_COLOR = "#1a7f37"  # forward values: green
GRADIENT_COLOR = "#cf222e"  # gradients: red


def _wire(value: str, gradient: str | None) -> str:
    top = f'<font color="{VALUE_COLOR}">{escape(value)}</font>'
    if gradient is None:
        return f"<{top}>"
    return f'<{top}<br/><font color="{GRADIENT_COLOR}">{escape(gradient)}</font>>'


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _header(title: str) -> list[str]:
    """The lines every drawing starts with: left to right, the title on top."""
    return [
        "digraph gradcli {",
        f"  graph [rankdir=LR, labelloc=t, fontname=Helvetica, label={_quote(title)}];",
        "  node [fontname=Helvetica];",
        "  edge [fontname=Helvetica, fontsize=10];",
    ]


def _variable(name: str) -> str:
    return (f"label={_quote(name)}, shape=box, style=\"rounded,filled\", "
            f"fillcolor=\"#ddeeff\", tooltip={_quote('variable ' + name)}")


def _constant(text: str) -> str:
    return f"label={_quote(text)}, shape=plaintext, tooltip=\"constant\""


def render(result: Result, *, digits: int = 6, name: str = "f") -> str:
    """The circuit of `result`; the output wire ends at a node labelled `name` (f; eval --outputs
    names each output)."""
    def num(value) -> str:
        return numbers.number(value, digits)

    graph = result.graph
    records = result.trace
    source = gates.title(graph)
    lines = _header("gradcli: " + source)
    # a constant folded into its gate's symbol (the 1 of 1/x) is not drawn again
    folded = {inp.id for node in graph.nodes if node.kind == "gate"
              for index, inp in enumerate(node.inputs) if inp.kind == "const" and node.view.folded(index)}
    for node in graph.nodes:
        nid = f"n{node.id}"
        if node.id in folded:
            continue
        if node.kind == "var":
            attrs = _variable(node.name)
        elif node.kind == "const":
            attrs = _constant(num(node.default))
        else:
            attrs = (f"label={_quote(node.view.symbol)}, shape=circle, "
                     f"tooltip={_quote(node.label + ' (' + node.view.role + ')')}")
        lines.append(f"  {nid} [{attrs}];")
    for node in graph.nodes:
        if node.kind != "gate":
            continue
        by_index = {edge.index: edge for edge in records[node.id].edges}
        for index, inp in enumerate(node.inputs):
            if inp.id in folded:
                continue
            edge = by_index.get(index)
            label = _wire(num(records[inp.id].value), num(edge.result) if edge else None)
            lines.append(f"  n{inp.id} -> n{node.id} [label={label}];")
    out = graph.output
    out_grad = records[out.id].gradient
    lines.append(f"  f [label={_quote(name)}, shape=doublecircle, style=filled, fillcolor=\"#fff4cc\", "
                 "tooltip=\"the output\"];")
    lines.append(f"  n{out.id} -> f [label={_wire(num(result.value), num(out_grad) if out_grad is not None else None)}];")
    lines.append("}")
    return "\n".join(lines)


def render_formula(formula, labels: list[str], *, title: str, values: dict | None = None,
                   digits: int = 6) -> str:
    """`gradcli diff --format dot`: the derivatives' graph (a language.formula.Formula, whose roots
    are the derivatives, labelled `labels`): one node per variable, constant and gate, an
    intermediate's name beside its gate, each root's wire ending at a node ∂f/∂x. With `values`
    (Expr index → value), each wire carries its forward value."""
    def num(value) -> str:
        return numbers.number(value, digits)

    lines = _header("gradcli diff: " + title)
    for k, e in enumerate(formula.exprs):
        if e.kind == "var":
            attrs = _variable(e.name)
        elif e.kind == "const":
            attrs = _constant(num(e.value))
        else:
            name = formula.names.get(k)
            tip = formula.expression(k)
            attrs = (f"label={_quote(e.op.symbol)}, shape=circle, tooltip={_quote(tip if len(tip) < 200 else tip[:199] + '…')}"
                     + (f", xlabel={_quote(name)}" if name else ""))
        lines.append(f"  n{k} [{attrs}];")
    for k, e in enumerate(formula.exprs):
        for i in e.inputs:
            shown = values is not None and i in values and formula.exprs[i].kind != "const"
            label = f" [label={_wire(num(values[i]), None)}]" if shown else ""
            lines.append(f"  n{i} -> n{k}{label};")
    for position, (root, label) in enumerate(zip(formula.roots, labels)):
        lines.append(f"  d{position} [label={_quote(label)}, shape=doublecircle, style=filled, "
                     f"fillcolor=\"#fff4cc\", tooltip={_quote(label)}];")
        wire = f" [label={_wire(num(values[root]), None)}]" if values is not None and root in values else ""
        lines.append(f"  n{root} -> d{position}{wire};")
    lines.append("}")
    return "\n".join(lines)
