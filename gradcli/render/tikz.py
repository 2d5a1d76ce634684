"""`gradcli eval --format tikz`: the circuit as a TikZ picture, drawn as the lecture's slides draw it.

Left to right: the variables (boxes) and constants, one circle per gate (its op symbol as
render/latex.py writes it), the output's node f. Each wire carries its forward value above it
(green) and the gradient flowing back along it below (red), the colours of render/dot.py; a
value feeding several gates has a wire to each, with its own gradient (they add at the fork).

The layout is our own, small and deterministic (no Graphviz, whose layout changes between its
versions; the same text on every machine): a gate's column is one more than its inputs' latest,
a variable or constant sits one column before the first gate that reads it; rows come from a
walk from the output, inputs in order (an expression tree reads as in the lecture: x over y,
their sum between them), then are kept a row apart within a column. Columns are as far apart as
their wires' numbers need. Loops, never recursion: 100,000-gate graphs are normal input.

A fragment needs `\\usepackage{tikz}` (and amsmath); `standalone=True` gives a whole document:
landscape A4, the picture scaled down to fit it but not below MIN_SCALE (half size); a bigger
one gets a page of its own size. A picture larger than MAX_PAGE (5 m) is refused with a
ResourceError: TeX cannot draw it, scaled or not ("Dimension too large").
"""

from __future__ import annotations

from ..base.errors import ResourceError
from ..core.trace import Result
from . import gates
from .dot import GRADIENT_COLOR, VALUE_COLOR
from .latex import document, name, number, symbol, text

PACKAGES = ("amsmath", "tikz")
ROW = 1.8  # cm between rows
MIN_GAP = 2.2  # cm between columns at least
CHAR = 0.16  # cm per character of a wire's number (\scriptsize)
PAGE_WIDTH = 26.0  # cm: a standalone document's (landscape A4) text width
PAGE_HEIGHT = 17.0  # cm: its text height
MIN_SCALE = 0.5  # a picture is drawn no smaller (its numbers stay legible): a bigger page instead
MAX_PAGE = 500.0  # cm: the largest picture drawn, before scaling (TeX's dimensions end at 575 cm, and
# a scaled node's anchors are found in its unscaled coordinates; PDF pages end at 508 cm)
MARGIN = 1.5  # cm: a standalone page's margins
STEEP = 1.4  # a wire falling d cm is at least STEEP·d cm long horizontally


def _rgb(color: str) -> str:
    """#1a7f37 as xcolor's {rgb,255:red,26;green,127;blue,55}: no \\definecolor in the preamble."""
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return f"{{rgb,255:red,{r};green,{g};blue,{b}}}"


STYLES = (
    f"gc value/.style={{above, pos=0.45, font=\\scriptsize, text={_rgb(VALUE_COLOR)}}}",
    f"gc gradient/.style={{below, pos=0.45, font=\\scriptsize, text={_rgb(GRADIENT_COLOR)}}}",
    "gc gate/.style={circle, draw, minimum size=8mm, inner sep=1pt}",
    "gc variable/.style={rectangle, rounded corners, draw, fill=blue!8, minimum height=6mm}",
    "gc constant/.style={inner sep=2pt}",
    "gc output/.style={circle, double, draw, fill=yellow!15, minimum size=8mm}",
    "gc wire/.style={->, >=stealth}",
)


def _drawn(result: Result):
    """The nodes drawn (a constant folded into its gate's symbol, the 1 of 1/x, is not) and, per
    gate, its drawn inputs as (index, input)."""
    graph = result.graph
    folded = {inp.id for node in graph.nodes if node.kind == "gate"
              for index, inp in enumerate(node.inputs) if inp.kind == "const" and node.view.folded(index)}
    nodes = [node for node in graph.nodes if node.id not in folded]
    wires = {node.id: [(i, inp) for i, inp in enumerate(node.inputs) if inp.id not in folded]
             for node in nodes if node.kind == "gate"}
    return nodes, wires


def layout(result: Result) -> tuple[dict[int, tuple[int, float]], int]:
    """{node id: (column, row)} of the drawn nodes, and the output's column."""
    nodes, wires = _drawn(result)
    column: dict[int, int] = {}
    for node in nodes:  # topological order
        if node.kind == "gate":
            column[node.id] = 1 + max((column.get(inp.id, 0) for _, inp in wires[node.id]
                                       if inp.kind == "gate"), default=0)
    readers: dict[int, int] = {}
    for node in nodes:
        if node.kind == "gate":
            for _, inp in wires[node.id]:
                if inp.kind != "gate":
                    readers[inp.id] = min(readers.get(inp.id, column[node.id]), column[node.id])
    for node in nodes:
        if node.kind != "gate":
            column[node.id] = max(readers.get(node.id, 1) - 1, 0)
    # rows: a walk from the output, inputs in order; a leaf takes the next row, a gate the mean
    # of its inputs' rows
    output = result.graph.output
    row: dict[int, float] = {}
    next_row = 0.0
    stack = [(output, False)]
    while stack:
        node, ready = stack.pop()
        if node.id in row:
            continue
        inputs = [inp for _, inp in wires.get(node.id, [])]
        if ready or not inputs:
            # a constant input sits a row above the gate's other inputs (the 1 of 1 + e^x)
            others = [row[inp.id] for inp in inputs if inp.kind != "const" and inp.id in row]
            for inp in inputs:
                if inp.kind == "const" and inp.id not in row and others:
                    row[inp.id] = min(others) - 1
            placed = [row[inp.id] for inp in inputs if inp.id in row]
            if placed:
                row[node.id] = sum(placed) / len(placed)
            else:
                row[node.id] = next_row
                next_row += 1
            continue
        stack.append((node, True))
        stack.extend((inp, False) for inp in reversed(inputs)
                     if inp.id not in row and (inp.kind != "const" or all(i.kind == "const" for i in inputs)))
    for node in nodes:  # nothing reaches the output from it (a statement not used)
        if node.id not in row:
            row[node.id] = next_row
            next_row += 1
    # at least a row apart within a column, in the walk's order
    by_column: dict[int, list[int]] = {}
    for node in nodes:
        by_column.setdefault(column[node.id], []).append(node.id)
    for ids in by_column.values():
        ids.sort(key=lambda i: (row[i], i))
        for previous, current in zip(ids, ids[1:]):
            if row[current] < row[previous] + 1:
                row[current] = row[previous] + 1
    last = max(column.values(), default=0) + 1
    return {node.id: (column[node.id], row[node.id]) for node in nodes}, last


def render(result: Result, *, digits: int = 6, name_: str = "f", max_width: float | None = None,
           max_height: float | None = None) -> str:
    """The tikzpicture of `result`'s circuit; the output's node is labelled `name_`. A picture
    wider than `max_width` cm or taller than `max_height` cm (if given) is scaled down to fit,
    its text too, but not below MIN_SCALE; `size(picture)` says how big it is drawn. Raises
    ResourceError for a picture larger than MAX_PAGE cm (TeX could not draw it, scaled or not)."""
    records = result.trace
    graph = result.graph
    nodes, wires = _drawn(result)
    places, last = layout(result)
    out = graph.output
    out_grad = records[out.id].gradient

    def num(value) -> str:
        return number(value, digits)

    # each wire's two numbers, for the columns' spacing
    labels: list[tuple[int, int, str, str | None]] = []  # (from id, to id or -1, value, gradient)
    for node in nodes:
        if node.kind != "gate":
            continue
        by_index = {edge.index: edge for edge in records[node.id].edges}
        for index, inp in wires[node.id]:
            edge = by_index.get(index)
            labels.append((inp.id, node.id, num(records[inp.id].value),
                           num(edge.result) if edge is not None else None))
    labels.append((out.id, -1, num(result.value), num(out_grad) if out_grad is not None else None))
    # a gap as wide as its wires' numbers, and wide enough that no wire in it is steep (the
    # numbers, written level, would lie across it)
    width: dict[int, float] = {}
    for source, target, value, gradient in labels:
        start, top = places[source]
        end, bottom = places[target] if target >= 0 else (last, places[out.id][1])
        span = max(end - start, 1)
        need = CHAR * max(len(value), len(gradient or "")) / span + 1.6
        if span <= 2:  # a long wire (a variable read far on) may be steep: widening every gap it spans would not help
            need = max(need, STEEP * ROW * abs(bottom - top) / span)
        if need > MIN_GAP:  # (a long wire's share of its numbers' width is small: few loops)
            for c in range(start, end):
                width[c] = max(width.get(c, 0.0), need)
    x = [0.0]
    for c in range(last):
        x.append(x[-1] + max(MIN_GAP, width.get(c, 0.0)))

    options = list(STYLES)
    width = x[last] + 2
    height = ROW * (max((r for _, r in places.values()), default=0) - min((r for _, r in places.values()), default=0)) + 2
    if max(width, height) > MAX_PAGE:
        raise ResourceError(
            f"the circuit is too big for a TikZ picture: {len(nodes)} nodes, {width:.0f} x {height:.0f} cm "
            f"(TeX draws at most {MAX_PAGE:.0f} cm, scaled or not)",
            hint="--format latex --standalone writes its backward table, which breaks across pages; "
                 "--output circuit.svg draws the circuit with Graphviz")
    scale = 1.0
    if max_width is not None:
        scale = min(scale, max_width / width)
    if max_height is not None:
        scale = min(scale, max_height / height)
    if scale < MIN_SCALE:  # a standalone document's page grows to the picture instead
        scale = MIN_SCALE
    if scale < 1:  # the unit vectors scaled (coordinates stay small: no "Dimension too large"), nodes too
        options.append(f"x={scale:.4f}cm, y={scale:.4f}cm, every node/.append style={{scale={scale:.4f}}}")
    lines = [f"% gradcli: {text(gates.title(graph))}",
             f"% size: {width * scale:.2f} x {height * scale:.2f} cm",
             "\\begin{tikzpicture}[" + ",\n  ".join(options) + "]"]
    for node in nodes:
        c, r = places[node.id]
        at = f"({x[c]:.2f},{-ROW * r + 0.0:.2f})"
        if node.kind == "var":
            lines.append(f"\\node[gc variable] (n{node.id}) at {at} {{${name(node.name)}$}};")
        elif node.kind == "const":
            lines.append(f"\\node[gc constant] (n{node.id}) at {at} {{${number(node.default, digits)}$}};")
        else:
            lines.append(f"\\node[gc gate] (n{node.id}) at {at} {{${symbol(node)}$}};")
    c, r = places[out.id]
    lines.append(f"\\node[gc output] (out) at ({x[last]:.2f},{-ROW * r + 0.0:.2f}) {{${name(name_)}$}};")
    for source, target, value, gradient in labels:
        end = f"n{target}" if target >= 0 else "out"
        below = f" node[gc gradient] {{${gradient}$}}" if gradient is not None else ""
        lines.append(f"\\draw[gc wire] (n{source}) -- node[gc value] {{${value}$}}{below} ({end});")
    lines.append("\\end{tikzpicture}")
    return "\n".join(lines)


def size(picture: str) -> tuple[float, float]:
    """(width, height) in cm of a picture `render` wrote, as drawn."""
    import re

    found = re.search(r"^% size: ([\d.]+) x ([\d.]+) cm$", picture, re.M)
    return float(found.group(1)), float(found.group(2))


def render_all(results: dict[str, Result], *, digits: int = 6, standalone: bool = False) -> str:
    """`--format tikz` for {output name: Result} (`{"f": result}` for one output): a picture per
    output, its output node named by the output."""
    pictures = [render(result, digits=digits, name_=output,
                       max_width=PAGE_WIDTH if standalone else None, max_height=PAGE_HEIGHT if standalone else None)
                for output, result in results.items()]
    if standalone:
        body = "\n\n\\bigskip\n\n".join(f"\\noindent{picture}" for picture in pictures)
        sizes = [size(picture) for picture in pictures]
        wide = max(w for w, _ in sizes)
        tall = sum(h for _, h in sizes) + 1.0 * (len(sizes) - 1)
        if wide > PAGE_WIDTH + 0.5 or tall > PAGE_HEIGHT + 0.5:  # a picture too big for A4 at MIN_SCALE: a page its size
            return document(body, PACKAGES, paper=(wide + 2 * MARGIN + 0.5, max(h for _, h in sizes) + 2 * MARGIN + 0.5))
        return document(body, PACKAGES, landscape=True)
    head = "% gradcli: a TikZ fragment; its preamble needs " + " ".join(f"\\usepackage{{{p}}}" for p in PACKAGES)
    return head + "\n" + "\n\n".join(pictures)

