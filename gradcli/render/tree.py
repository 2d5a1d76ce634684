"""`--format tree`: the circuit as a Rich tree, the output at the root, each node with its value
and gradient; a node shared by several gates is drawn in full once and referred to after."""

from __future__ import annotations

from ..trace import Result
from . import numbers

# Nodes shown unless --all: a deep circuit's tree grows quadratically wide (indentation).
DEFAULT_NODES = 100


def render(result: Result, console, *, digits: int = 6, all_nodes: bool = False) -> None:
    from rich.text import Text
    from rich.tree import Tree

    def num(value) -> str:
        return numbers.number(value, digits)

    records = result.trace
    output = result.graph.output

    def line(node, again: bool) -> Text:
        record = records[node.id]
        if node.kind == "gate":
            head = node.label
            tail = f"  {node.view.symbol} gate, {node.view.role}"
        elif node.kind == "var":
            head, tail = node.name, "  variable"
        else:
            head, tail = num(node.default), "  constant"
        if node is output:
            head = f"f = {head}"
        text = Text(head, no_wrap=True, overflow="ellipsis")
        text.append(f"  value {num(record.value)}", style="green")
        if record.gradient is not None:
            text.append(f"  gradient {num(record.gradient)}", style="red")
        text.append(tail + ("  (shown above)" if again else ""), style="dim")
        return text

    root = Tree(line(output, False))
    shown = {output.id}
    # Depth first in display order, with a loop (circuits may be 10,000 gates deep); a branch
    # is added when its node is taken off the stack, so "shown above" is always true.
    stack = [(inp, root) for inp in reversed(output.inputs)]
    limit = None if all_nodes else DEFAULT_NODES - 1
    hidden = 0
    while stack:
        node, parent = stack.pop()
        if limit is not None and limit <= 0:
            hidden += 1
            if node.id not in shown:
                shown.add(node.id)
                stack.extend((inp, parent) for inp in node.inputs)
            continue
        if limit is not None:
            limit -= 1
        if node.id in shown and node.kind == "gate":
            parent.add(line(node, True))
            continue
        shown.add(node.id)
        branch = parent.add(line(node, False))
        stack.extend((inp, branch) for inp in reversed(node.inputs))
    if not console.is_terminal:  # a pipe or a file: never cut a line
        console.width = 100_000
    console.print(root)
    if hidden:
        console.print(f"… {hidden} more nodes not shown; --all shows every node", style="dim",
                      highlight=False)
