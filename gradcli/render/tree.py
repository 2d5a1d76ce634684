"""`--format tree`: the circuit as a tree, the output at the root, each node with its value and
gradient; a node shared by several gates is drawn in full once and referred to after.

The tree is drawn here line by line, Rich's guides (├── └── │), and written a block of lines at a
time: with --all a 100,000-gate circuit streams out instead of being built whole first. On a
terminal the lines are printed through Rich (colour, cut at the terminal's width); anywhere else
they are plain text, never cut, and Rich is not imported.
"""

from __future__ import annotations

from ..core.trace import Result
from . import numbers
from .style import LABEL_MIN, cut, is_console, shorten

# Nodes shown unless --all: a deep circuit's tree grows quadratically wide (indentation).
DEFAULT_NODES = 100
# Lines written at a time.
BLOCK = 200

_BRANCH, _LAST, _PIPE, _SPACE = "├── ", "└── ", "│   ", "    "


def render(result: Result, out, *, digits: int = 6, all_nodes: bool = False, name: str = "f") -> None:
    """Draw the tree to a Rich console (a terminal) or a text stream; the root reads `f = …`
    (`name = …`: eval --outputs names each output)."""

    def num(value) -> str:
        return numbers.number(value, digits)

    records = result.trace
    output = result.graph.output
    console = is_console(out)

    def parts(node, again: bool) -> tuple[str, str, str, str]:
        """(head, value, gradient, tail) of a node's line."""
        record = records[node.id]
        if node.kind == "gate":
            head = node.label
            tail = f"  {node.view.symbol} gate, {node.view.role}"
        elif node.kind == "var":
            head, tail = node.name, "  variable"
        else:
            head, tail = num(node.default), "  constant"
        if node is output:
            head = f"{name} = {head}"
        gradient = f"  gradient {num(record.gradient)}" if record.gradient is not None else ""
        return head, f"  value {num(record.value)}", gradient, tail + ("  (shown above)" if again else "")

    lines: list = []

    def emit(guide: str, node, again: bool) -> None:
        head, value, gradient, tail = parts(node, again)
        if console:
            from rich.text import Text

            # numbers are never cut: the tail gives way first, then the label (… in its middle); where
            # even so the line is too wide, the numbers go on a line of their own below it
            room = out.width - len(guide) - len(value) - len(gradient)
            if len(head) + len(tail) <= room:
                lines.append(Text.assemble(guide, head, (value, "green"), (gradient, "red"), (tail, "dim")))
            elif min(len(head), LABEL_MIN) <= room:
                if len(head) < room - LABEL_MIN:
                    tail = cut(tail, room - len(head))
                    lines.append(Text.assemble(guide, head, (value, "green"), (gradient, "red"), (tail, "dim")))
                else:
                    lines.append(Text.assemble(guide, shorten(head, room), (value, "green"), (gradient, "red")))
            else:
                below = guide[:-len(_LAST)] + (_SPACE if guide.endswith(_LAST) else _PIPE) if guide else ""
                room = out.width - len(guide)
                if len(head) + len(tail) > room:
                    tail = cut(tail, room - len(head)) if room - len(head) >= LABEL_MIN else ""
                    head = shorten(head, max(room, LABEL_MIN))
                lines.append(Text.assemble(guide, head, (tail, "dim")))
                lines.append(Text.assemble(below, (value, "green"), (gradient, "red")))
        else:
            lines.append(guide + head + value + gradient + tail)
        if len(lines) >= BLOCK:
            flush()

    def flush() -> None:
        if not lines:
            return
        if console:
            from rich.text import Text

            out.print(Text("\n").join(lines), soft_wrap=True)  # fitted above; never cut here
        else:
            out.write("\n".join(lines) + "\n")
        lines.clear()

    emit("", output, False)
    shown = {output.id}
    # Depth first in display order, with a loop (circuits may be 10,000 gates deep); a node's
    # line is written when it is taken off the stack, so "shown above" is always true. Each stack
    # entry keeps its depth only: `guides` holds the guide of every open level of the path drawn
    # so far (O(depth) memory, where a prefix per entry would be O(depth²)).
    stack = [(inp, 1, i == 0) for i, inp in enumerate(reversed(output.inputs))]
    guides: list[str] = []
    limit = None if all_nodes else DEFAULT_NODES - 1
    hidden = 0
    while stack:
        node, depth, last = stack.pop()
        if limit is not None and limit <= 0:
            hidden += 1
            if node.id not in shown:
                shown.add(node.id)
                stack.extend((inp, depth + 1, False) for inp in node.inputs)
            continue
        if limit is not None:
            limit -= 1
        del guides[depth - 1:]
        guide = "".join(guides) + (_LAST if last else _BRANCH)
        if node.id in shown and node.kind == "gate":
            emit(guide, node, True)
            continue
        shown.add(node.id)
        emit(guide, node, False)
        guides.append(_SPACE if last else _PIPE)
        stack.extend((inp, depth + 1, i == 0) for i, inp in enumerate(reversed(node.inputs)))
    flush()
    if hidden:
        note = f"… {hidden} more nodes not shown; --all shows every node"
        if console:
            out.print(note, style="dim", highlight=False, markup=False, emoji=False)
        else:
            out.write(note + "\n")
