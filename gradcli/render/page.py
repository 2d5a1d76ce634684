"""`gradcli eval … --output circuit.html`: one self-contained page with the circuit, the backward
table and the steps, that re-evaluates itself when a variable's slider or box changes.

Everything is inline (SVG, CSS, one script) and the page's Content-Security-Policy allows no
request at all. The circuit is laid out here, in columns by depth (inputs left, output right),
each wire carrying its value above it (green) and the gradient flowing back below it (red), as the
lecture's slides draw it. Hovering a gate (or a row, or a step) highlights the gate, its wires,
its rows and its step.

The numbers shown at first are the Python engine's (written by numbers.py). The script computes
them again in the browser with the functions gradcli.language.javascript prints from the op
registry (forwards, and local gradients and VJPs from each op's rule), and writes them the same
way. What the user wrote (names, labels, values) is data in a JSON block the script parses,
never code: the script itself is the same for every program but for the ops it lists.
"""

from __future__ import annotations

from html import escape

import numpy as np

from ..base.errors import GradcliError
from ..core.trace import Result
from ..language import javascript
from . import gates, numbers, steps as steps_view, table

# Bigger graphs are refused: the page lays out and re-evaluates every node in the browser (a
# 500-node page loads in about 2 s and redraws in about 1 s on a busy 2-core machine).
MAX_NODES = 1000
# Elements of all values together (the page holds them as JSON and recomputes them on each change).
MAX_ELEMENTS = 100_000
# A wire's label is cut past this many characters (the table has the whole number).
WIRE_TEXT = 26

DX, DY = 170, 96  # distance between columns (at least), between rows
CHAR = 7.3  # the width of a character of the wires' labels (12px monospace), for the columns' distance
MARGIN = 40


def render(result: Result, *, digits: int = 6, name: str = "f") -> str:
    """The page of `result` (traced) as HTML text. GradcliError if the graph is too big for a
    page (MAX_NODES, MAX_ELEMENTS)."""
    graph = result.graph
    trace = result.trace
    if trace is None:
        raise ValueError("the page needs a traced result")
    if len(graph.nodes) > MAX_NODES:
        raise GradcliError(f"the circuit has {len(graph.nodes)} nodes, more than a page shows ({MAX_NODES})",
                           hint="draw it with --output circuit.svg, or show the table without --output")
    elements = sum(int(np.size(record.value)) for record in trace)
    if elements > MAX_ELEMENTS:
        raise GradcliError(f"the circuit's values have {elements} elements, more than a page holds ({MAX_ELEMENTS})",
                           hint="try smaller arrays, or the table without --output")

    def num(value) -> str:
        return numbers.number(value, digits)

    edges = list(result.iter_edges())
    edge_number = {(e.gate.id, e.index): k for k, e in enumerate(edges)}
    printer = javascript.Printer()
    printer.add_graph(graph.nodes)
    ops_js = printer.source()
    required = set(graph.required)
    data = {
        "nodes": [_node_data(node, trace, printer) for node in graph.nodes],
        "output": graph.output.id,
        "edges": [{"gate": e.gate.id, "index": e.index} for e in edges],
        "wrt": list(result.gradients),
        "digits": digits,
        "inputs": [n.name for n in graph.nodes if n.kind == "var" and n.name in required],
    }
    title = gates.title(graph)
    parts = [_HEAD.format(title=escape(title), css=_CSS)]
    parts.append(f'<h1>Backward pass of <code>{escape(title)}</code></h1>')
    parts.append(_controls(graph, trace, required, digits))
    parts.append('<p id="status" role="status"></p>')
    parts.append(_summary(result, name, num))
    parts.append('<h2>Circuit</h2><p class="legend"><span class="value">value</span> above each wire, '
                 '<span class="grad">gradient</span> below it. Hover a gate.</p>')
    parts.append(_svg(result, edge_number, num, name))
    parts.append(f"<h2>Table</h2><p class=\"legend\">{escape(table.HOW_TO_READ)}</p>")
    parts.append(_table(result, edge_number, num))
    parts.append("<h2>Steps</h2>")
    parts.append(_steps(result, edge_number, num, name))
    if result.diagnostics:
        parts.append("<ul class=\"warnings\">" + "".join(f"<li>warning: {escape(d.message)}</li>"
                                                        for d in result.diagnostics) + "</ul>")
    parts.append('<script type="application/json" id="gradcli-data">' + javascript.data(data) + "</script>")
    parts.append("<script>\n" + javascript.RUNTIME + ops_js + javascript.ENGINE + _SCRIPT + "</script>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _node_data(node, trace, printer) -> dict:
    item = {"id": node.id, "kind": node.kind, "name": node.name, "inputs": [i.id for i in node.inputs]}
    if node.kind == "gate":
        item["op"] = printer.key(node.op)
        item["params"] = javascript.node_params(node)
    else:
        item["value"] = np.asarray(trace[node.id].value, dtype=np.float64).tolist()
    return item


def _controls(graph, trace, required, digits) -> str:
    rows = []
    for node in graph.nodes:
        if node.kind != "var" or node.name not in required:
            continue
        value = np.asarray(trace[node.id].value, dtype=np.float64)
        name = escape(node.name)
        if value.ndim == 0:  # a slider and a number box, whatever the number (1e308, inf, nan)
            v = float(value)
            centre = v if np.isfinite(v) else 0.0  # nan, ±inf: the box is empty, says so, the slider at 0
            reach = 2 * max(1.0, abs(centre))
            low, high = max(centre - reach, -_LARGEST), min(centre + reach, _LARGEST)  # (finite: 1e308)
            step = high / 400 - low / 400
            shown = f'value="{_plain(v)}"' if np.isfinite(v) else f'value="" placeholder="{_plain(v)}"'
            rows.append(f'<label class="var">{name} <input type="range" data-var="{name}" min="{low!r}" '
                        f'max="{high!r}" step="{step!r}" value="{centre!r}" aria-label="{name} slider">'
                        f'<input type="number" data-var="{name}" step="any" {shown} aria-label="{name}">'
                        f'</label>')
        else:
            text = _plain_list(value.tolist())
            rows.append(f'<label class="var">{name} <input type="text" data-var="{name}" size="40" '
                        f'value="{escape(text)}" aria-label="{name}"></label>')
    if not rows:
        return '<p class="legend">no variable to change</p>'
    return '<form id="controls" onsubmit="return false">' + "".join(rows) + "</form>"


_LARGEST = float(np.finfo(np.float64).max)


def _plain(value: float) -> str:
    """A number as a box shows it: every digit, no `.0` on a whole number."""
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def _plain_list(value) -> str:
    """An array as its box shows it: nested lists of `_plain` numbers (JSON; nan and inf as
    the strings "NaN", "Infinity", which the page reads back)."""
    if isinstance(value, list):
        return "[" + ",".join(_plain_list(v) for v in value) + "]"
    if value != value or value in (float("inf"), float("-inf")):
        return javascript.data(value)
    return _plain(float(value))


def _span(kind: str, key, text: str) -> str:
    return f'<span class="num" data-{kind}="{key}">{escape(text)}</span>'


def _summary(result, name, num) -> str:
    out = result.graph.output
    lines = [f"<div id=\"summary\"><p>{escape(name)} = {_span('v', out.id, num(result.value))}</p>"]
    for variable, grad in result.gradients.items():
        lines.append(f"<p>∂{escape(name)}/∂{escape(variable)} = {_span('gn', escape(variable), num(grad))}</p>")
    if result.gradient_of == "sum(f)":
        lines.append(f"<p class=\"legend\">{escape(name)} is an array: the gradients are those of "
                     f"sum({escape(name)})</p>")
    return "".join(lines) + "</div>"


# -- the circuit --------------------------------------------------------------------------------

def _layout(graph, dx: float = 170):
    """Each drawn node's (x, y) centre and box width: columns by depth, rows by the inputs'
    mean row (one pass, inputs before gates)."""
    folded = {inp.id for node in graph.nodes if node.kind == "gate"
              for index, inp in enumerate(node.inputs) if inp.kind == "const" and node.view.folded(index)}
    depth: dict[int, int] = {}
    for node in graph.nodes:
        if node.id in folded:
            continue
        ins = [depth[i.id] for i in node.inputs if i.id in depth]
        depth[node.id] = 1 + max(ins) if node.kind == "gate" and ins else 0
    # a leaf sits one column before the first gate that reads it
    first_use: dict[int, int] = {}
    for node in graph.nodes:
        for i in node.inputs:
            if i.kind != "gate" and i.id in depth:
                first_use.setdefault(i.id, depth[node.id] - 1)
    for leaf, column in first_use.items():
        depth[leaf] = max(column, 0)
    columns: dict[int, list] = {}
    row: dict[int, float] = {}
    for node in graph.nodes:
        if node.id not in depth:
            continue
        columns.setdefault(depth[node.id], []).append(node)
    for column in sorted(columns):
        nodes = columns[column]
        want = []
        for order, node in enumerate(nodes):
            ins = [row[i.id] for i in node.inputs if i.id in row]
            want.append((sum(ins) / len(ins) if ins else order, order, node))
        want.sort(key=lambda t: (t[0], t[1]))
        taken = -1.0
        for wanted, _, node in want:
            r = max(wanted, taken + 1)
            row[node.id] = r
            taken = r
    positions = {}
    for node in graph.nodes:
        if node.id in depth:
            text = _box_text(node)
            width = max(38, 8 * len(text) + 18)
            positions[node.id] = (MARGIN + 40 + depth[node.id] * dx, MARGIN + 20 + row[node.id] * DY, width, text)
    return positions, folded


def _box_text(node) -> str:
    if node.kind == "var":
        return node.name
    if node.kind == "const":
        return numbers.number(node.default, 6)
    return node.view.symbol


def _cut(text: str) -> str:
    return text if len(text) <= WIRE_TEXT else text[:WIRE_TEXT - 1] + "…"


def _svg(result, edge_number, num, name) -> str:
    graph = result.graph
    trace = result.trace
    widest = max([len(_cut(num(record.value))) for record in trace]
                 + [len(_cut(num(e.result))) for e in result.iter_edges()] + [1])
    positions, folded = _layout(graph, max(DX, widest * CHAR + 90))
    out = graph.output
    width = max(x + w / 2 for x, _, w, _ in positions.values()) + 190
    height = max(y for _, y, _, _ in positions.values()) + MARGIN + 30
    parts = [f'<svg id="circuit" xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
             f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="the circuit">']
    edges_by = {(e.gate.id, e.index): e for e in result.iter_edges()}
    for node in graph.nodes:
        if node.kind != "gate" or node.id not in positions:
            continue
        gx, gy, gw, _ = positions[node.id]
        drawn = [(index, inp) for index, inp in enumerate(node.inputs) if inp.id in positions]
        for slot, (index, inp) in enumerate(drawn):
            ix, iy, iw, _ = positions[inp.id]
            # inputs enter the gate's left side spread over its height
            ty = gy + (slot - (len(drawn) - 1) / 2) * 10
            x0, x1 = ix + iw / 2, gx - gw / 2
            mid = (x0 + x1) / 2
            path = f"M{x0:.1f},{iy:.1f} C{mid:.1f},{iy:.1f} {mid:.1f},{ty:.1f} {x1:.1f},{ty:.1f}"
            k = edge_number.get((node.id, index))
            parts.append(f'<path class="wire" data-gate="{node.id}" data-from="{inp.id}" d="{path}"/>')
            lx, ly = mid, (iy + ty) / 2  # the middle of the wire
            value_text = _cut(num(trace[inp.id].value))
            parts.append(f'<text class="value" text-anchor="middle" x="{lx:.1f}" y="{ly - 5:.1f}" '
                         f'data-gate="{node.id}" data-wv="{inp.id}">{escape(value_text)}</text>')
            if k is not None:
                grad_text = _cut(num(edges_by[(node.id, index)].result))
                parts.append(f'<text class="grad" text-anchor="middle" x="{lx:.1f}" y="{ly + 13:.1f}" '
                             f'data-gate="{node.id}" data-wr="{k}">{escape(grad_text)}</text>')
    # the output's wire, ending at its name
    ox, oy, ow, _ = positions[out.id]
    x0 = ox + ow / 2
    parts.append(f'<path class="wire" data-gate="{out.id}" d="M{x0:.1f},{oy:.1f} L{x0 + 110:.1f},{oy:.1f}"/>')
    parts.append(f'<text class="value" x="{x0 + 8:.1f}" y="{oy - 5:.1f}" data-wv="{out.id}">'
                 f'{escape(_cut(num(result.value)))}</text>')
    seed = "1" if np.ndim(result.value) == 0 else f"{np.shape(result.value)} ones"
    parts.append(f'<text class="grad" x="{x0 + 8:.1f}" y="{oy + 13:.1f}">{escape(seed)}</text>')
    parts.append(f'<text class="name" x="{x0 + 116:.1f}" y="{oy + 4:.1f}">{escape(name)}</text>')
    for node in graph.nodes:
        if node.id not in positions:
            continue
        x, y, w, text = positions[node.id]
        kind = node.kind
        tip = node.label if kind != "gate" else f"{node.label} ({node.view.role})"
        rx = 16 if kind == "gate" else 4
        parts.append(f'<g class="node {kind}" data-node="{node.id}" tabindex="0"><title>{escape(tip)}</title>'
                     f'<rect x="{x - w / 2:.1f}" y="{y - 16:.1f}" width="{w:.1f}" height="32" rx="{rx}"/>'
                     f'<text x="{x:.1f}" y="{y + 5:.1f}" text-anchor="middle">{escape(text)}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


# -- the table and the steps --------------------------------------------------------------------

def _table(result, edge_number, num) -> str:
    trace = result.trace
    head = "".join(f"<th>{escape(h)}</th>" for h in table.HEADERS)
    rows = []
    for k, edge in enumerate(result.iter_edges()):
        gate = edge.gate
        view = gate.view
        op = view.symbol if gate.rewrite is None else f"{view.symbol} (stable)"
        local = edge.local if isinstance(edge.local, str) else None
        cells = [f"<td>{escape(table.label(gate))}</td>", f"<td>{escape(op)}</td>",
                 f"<td>{_role(edge, view, k)}</td>", f"<td>{escape(table.label(edge.input))}</td>",
                 f"<td class=\"n\">{_span('v', edge.input.id, num(trace[edge.input.id].value))}</td>",
                 f"<td class=\"n\">{_span('v', gate.id, num(trace[gate.id].value))}</td>",
                 f"<td class=\"n\">{escape(local) if local is not None else _span('el', k, num(edge.local))}</td>",
                 f"<td class=\"n\">{_span('eu', k, num(edge.upstream))}</td>",
                 f"<td class=\"n\">{_span('er', k, num(edge.result))}</td>"]
        rows.append(f'<tr data-gate="{gate.id}">' + "".join(cells) + "</tr>")
    if not rows:
        rows.append(f'<tr><td colspan="{len(table.HEADERS)}">no gradient flows back: the output depends on '
                    "no variable</td></tr>")
    return f'<table id="backward"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _role(edge, view, k: int) -> str:
    """The role's text; a route's (won, tie, lost) is rewritten by the script as the local changes."""
    text = escape(gates.role(edge, view))
    return f'<span data-role="{k}">{text}</span>' if text.startswith("routes (") else text


def _steps(result, edge_number, num, name) -> str:
    f = escape(name)
    output = result.graph.output
    steps, totals = steps_view.build(result)
    items = []
    for count, step in enumerate(steps, 1):
        node = step["gate"]
        label = f"{name} = {node.label}" if node is output and node.label != name else node.label
        lines = [f"{count}. {escape(label)} = {_span('v', node.id, num(step['value']))}    "
                 f"[{escape(step['symbol'])} gate: {escape(step['role'])}]"]
        if step["seed"]:
            lines.append(f"   seed ∂{f}/∂{f} = 1")
        elif len(step["terms"]) > 1:
            lines.append(f"   {escape(gates.wrt(node, output, name))} = {_span('g', node.id, num(step['gradient']))}"
                         "    (gradients add at forks)")
        lines.extend(f"   {escape(letter)} = {escape(text)}" for letter, text in step["names"])
        for item in step["edges"]:
            edge = item["edge"]
            k = edge_number[(edge.gate.id, edge.index)]
            formula = item["text"]
            if isinstance(edge.local, str):
                local_text = escape(formula or edge.local)
            else:
                number = _span("el", k, num(edge.local))
                local_text = number if formula in ("", num(edge.local)) else f"{escape(formula)} = {number}"
            route = item["role"][len("routes "):] if item["role"].startswith("routes (") else ""
            lines.append(f"   {escape(gates.wrt(item['input'], output, name))} = [local {local_text}] × "
                         f"[upstream {_span('eu', k, num(edge.upstream))}] = {_span('er', k, num(edge.result))}"
                         + (f'    <span data-route="{k}">{escape(route)}</span>' if route else ""))
        items.append(f'<li data-gate="{node.id}"><pre>' + "\n".join(lines) + "</pre></li>")
    if not items:
        items.append("<li><pre>no gradient flows back: the output depends on no variable</pre></li>")
    total_lines = []
    for total in totals:
        node = total["node"]
        total_lines.append(f"   {escape(gates.wrt(node, output, name))} = {_span('g', node.id, num(total['gradient']))}")
    tail = ""
    if total_lines:
        tail = ("<pre>gradients of the variables (complete once every gate they feed is done):\n"
                + "\n".join(total_lines) + "</pre>")
    return f'<ol id="steps">{"".join(items)}</ol>{tail}'


_HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="gradcli">
<title>gradcli: {title}</title>
<style>{css}</style></head><body>"""

_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
code, pre, .num, td.n { font-family: ui-monospace, Menlo, Consolas, monospace; }
h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.4em; }
.legend { color: #666; margin: .2em 0; }
.value { fill: #1a7f37; color: #1a7f37; } .grad { fill: #c62828; color: #c62828; }
svg#circuit { max-width: 100%; height: auto; }
svg text { font: 12px ui-monospace, Menlo, Consolas, monospace; }
svg text.value, svg text.grad { paint-order: stroke; stroke: #fff; stroke-width: 3px; }
.wire { fill: none; stroke: #888; stroke-width: 1.5; }
.node rect { fill: #fff; stroke: #555; stroke-width: 1.5; }
.node.var rect { fill: #eef4ff; } .node.const rect { fill: #f4f4f4; }
.node.gate rect { fill: #fffbe6; }
.node { cursor: pointer; }
.hl.wire { stroke: #1565c0; stroke-width: 3; }
.hl.node rect { stroke: #1565c0; stroke-width: 3; fill: #e3f2fd; }
text.hl { font-weight: bold; }
tr.hl td, li.hl pre { background: #e3f2fd; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border-bottom: 1px solid #ddd; padding: .2em .6em; text-align: left; }
td.n { text-align: right; white-space: nowrap; }
#steps { list-style: none; padding: 0; } #steps pre { margin: .2em 0; padding: .2em; }
#controls { display: flex; flex-wrap: wrap; gap: .4em 1.5em; }
label.var { font-family: ui-monospace, Menlo, Consolas, monospace; }
input[type=number] { width: 8em; }
#summary p { margin: .1em 0; font-family: ui-monospace, Menlo, Consolas, monospace; }
#status { color: #c62828; min-height: 1.2em; }
.warnings { color: #8a6d00; }
"""

# The page's behaviour: highlight on hover, re-evaluate on input. Reads the data block; writes
# text with textContent only.
_SCRIPT = r"""
(() => {
  const G = JSON.parse(document.getElementById("gradcli-data").textContent);
  const digits = G.digits;
  const pyG = (v) => {  // Python's format(v, ".{digits}g"), as numbers.scalar writes a number
    if (v !== v) return "nan";
    if (v === Infinity) return "inf";
    if (v === -Infinity) return "-inf";
    if (v === 0) return "0";
    const strip = (s) => (s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s);
    const [m, e] = v.toExponential(digits - 1).split("e");
    const exp = Number(e);
    if (exp < -4 || exp >= digits) return strip(m) + "e" + (exp < 0 ? "-" : "+") + String(Math.abs(exp)).padStart(2, "0");
    return strip(v.toFixed(Math.max(0, digits - 1 - exp)));
  };
  const fmt = (a) => {  // numbers.number: a scalar, or "(shape) [preview]"
    if (a === null || a === undefined) return "";
    if (a.shape.length === 0) return pyG(a.data[0]);
    const summarize = a.data.length > 6;
    const st = [];
    let acc = 1;
    for (let i = a.shape.length - 1; i >= 0; i--) { st[i] = acc; acc *= a.shape[i]; }
    const part = (dim, off) => {
      const n = a.shape[dim], pick = summarize && n > 4 ? [0, 1, -1, n - 2, n - 1] : [...Array(n).keys()];
      const items = pick.map((i) => (i < 0 ? "..." : dim === a.shape.length - 1 ? pyG(a.data[off + i]) : part(dim + 1, off + i * st[dim])));
      return "[" + items.join(", ") + "]";
    };
    const shape = a.shape.length === 1 ? "(" + a.shape[0] + ",)" : "(" + a.shape.join(", ") + ")";
    return shape + " " + part(0, 0);
  };
  const cut = (t) => (t.length <= 26 ? t : t.slice(0, 25) + "…");
  const values = Object.create(null);  // keyed by the user's names (`constructor` is one)
  const status = document.getElementById("status");
  // every number's element, by what it shows: "v 3" the value of node 3, "er 0" edge 0's result…
  const slots = {};
  for (const kind of ["v", "wv", "g", "gn", "el", "eu", "er", "wr", "role", "route"]) {
    document.querySelectorAll("[data-" + kind + "]").forEach((el) => {
      const key = kind + " " + el.getAttribute("data-" + kind);
      (slots[key] = slots[key] || []).push(el);
    });
  }
  const show = (state) => {
    const set = (key, text) => (slots[key] || []).forEach((el) => { el.textContent = text; });
    state.values.forEach((v, id) => {
      if (slots["v " + id] || slots["wv " + id]) { const t = fmt(v); set("v " + id, t); set("wv " + id, cut(t)); }
    });
    state.grads.forEach((g, id) => { if (g !== null && slots["g " + id]) set("g " + id, fmt(g)); });
    Object.entries(state.gradients).forEach(([name, g]) => set("gn " + name, fmt(g)));  // in the variable's shape
    state.edges.forEach((e, k) => {
      if (e.local !== null) set("el " + k, fmt(e.local));
      if ((slots["role " + k] || slots["route " + k]) && e.local.shape.length === 0) {  // as render/gates.py's role
        const l = e.local.data[0], route = l === 1 ? "(won)" : l === 0.5 ? "(tie)" : "(lost)";
        set("role " + k, "routes " + route);
        set("route " + k, route);
      }
      set("eu " + k, fmt(e.upstream));
      const t = fmt(e.result);
      set("er " + k, t);
      set("wr " + k, cut(t));
    });
  };
  const run = () => {
    try {
      const state = evaluateGraph(G, values);
      window.gradcli.state = state;
      show(state);
      status.textContent = "";
      return true;
    } catch (err) {
      status.textContent = "cannot evaluate: " + err.message;
      return false;
    }
  };
  const nodeOf = Object.create(null);
  G.nodes.forEach((n) => { if (n.kind === "var") nodeOf[n.name] = n; });
  const read = (input) => {
    const name = input.dataset.var, node = nodeOf[name];
    let value;
    if (input.type === "text") {
      try {
        value = R.from(JSON.parse(input.value));
      } catch (err) {
        throw new Error(name + ": not an array of numbers (" + err.message + ")");
      }
      const want = R.from(node.value).shape;
      if (value.shape.join(",") !== want.join(",")) throw new Error(name + " must keep its shape (" + want.join(", ") + ")");
    } else {
      const x = Number(input.value);
      if (input.value.trim() === "" || !Number.isFinite(x)) throw new Error(name + ": not a number");
      value = R.c(x);
    }
    return value;
  };
  const change = (input) => {
    try {
      values[input.dataset.var] = read(input);
    } catch (err) {
      status.textContent = err.message;
      return;
    }
    document.querySelectorAll("input[data-var]").forEach((other) => {
      if (other !== input && other.dataset.var === input.dataset.var && other.type !== "text") other.value = input.value;
    });
    run();
  };
  document.querySelectorAll("input[data-var]").forEach((input) => {
    input.addEventListener("input", () => change(input));
  });
  // hover: a gate, its wires, its rows, its step
  const related = (id) => document.querySelectorAll(
    '[data-node="' + id + '"], .wire[data-gate="' + id + '"], .wire[data-from="' + id + '"], text[data-gate="' + id +
    '"], tr[data-gate="' + id + '"], li[data-gate="' + id + '"]');
  const light = (id, on) => related(id).forEach((el) => el.classList.toggle("hl", on));
  document.querySelectorAll('[data-node], tr[data-gate], li[data-gate]').forEach((el) => {
    const id = el.dataset.node !== undefined ? el.dataset.node : el.dataset.gate;
    el.addEventListener("mouseenter", () => light(id, true));
    el.addEventListener("mouseleave", () => light(id, false));
    el.addEventListener("focus", () => light(id, true));
    el.addEventListener("blur", () => light(id, false));
  });
  window.gradcli = {
    evaluate: (vals) => {
      const given = Object.create(null);
      for (const k of Object.keys(vals)) given[k] = R.from(vals[k]);
      const s = evaluateGraph(G, given);
      return {value: R.toList(s.value), values: s.values.map(R.toList),
              grads: s.grads.map((g) => (g === null ? null : R.toList(g))),
              gradients: Object.fromEntries(Object.entries(s.gradients).map(([k, g]) => [k, R.toList(g)])),
              edges: s.edges.map((e) => ({gate: e.gate, index: e.index, local: e.local === null ? null : R.toList(e.local),
                                           upstream: R.toList(e.upstream), result: R.toList(e.result)}))};
    },
    format: (v) => fmt(R.from(v)),
    set: (name, text) => {
      const input = document.querySelector('input[data-var="' + name + '"]:not([type=range])');
      input.value = text;
      change(input);
    },
    state: null,
  };
  run();
})();
"""
