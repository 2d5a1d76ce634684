"""--stable: known numerically unstable patterns rewritten into stable gates, same gradients.

    1/(1+exp(-u))  (also 1/(exp(-u)+1))  →  sigmoid(u)
    log(1+exp(u))  (also log(exp(u)+1))  →  softplus(u)
    log(sum(exp(u)))  (any axis)          →  logsumexp(u) (same axis)

A rewrite makes a new graph and leaves the parsed one as it was; a pattern's inner gates stay
when something else uses them too.
"""

from __future__ import annotations

from ..core.graph import Graph, Node
from ..core.ops import OPS


def _is_one(node: Node) -> bool:
    return node.kind == "const" and node.default == 1.0


def _exp_plus_one(node: Node) -> Node | None:
    """For 1+exp(v) or exp(v)+1, the exp gate's input v."""
    if node.kind != "gate" or node.op.name != "add":
        return None
    left, right = node.inputs
    for one, other in ((left, right), (right, left)):
        if _is_one(one) and other.kind == "gate" and other.op.name == "exp":
            return other.inputs[0]
    return None


def _match(node: Node) -> tuple[str, Node, str] | None:
    """(stable op, its input, the pattern) where `node` is the root of an unstable pattern.
    The stable gate takes the keyword arguments (axis) of the pattern's reduction."""
    if node.kind != "gate":
        return None
    if node.op.name == "div" and _is_one(node.inputs[0]):
        v = _exp_plus_one(node.inputs[1])
        if v is not None and v.kind == "gate" and v.op.name == "neg":
            return "sigmoid", v.inputs[0], "1/(1+exp(-u))"
    if node.op.name == "log":
        v = _exp_plus_one(node.inputs[0])
        if v is not None:
            return "softplus", v, "log(1+exp(u))"
        inner = node.inputs[0]
        if inner.kind == "gate" and inner.op.name == "sum":
            e = inner.inputs[0]
            if e.kind == "gate" and e.op.name == "exp":
                return "logsumexp", e.inputs[0], "log(sum(exp(u)))"
    return None


def unstable_patterns(graph: Graph) -> list[tuple[Node, str]]:
    """Every gate that roots a pattern --stable would rewrite, with the pattern."""
    return [(node, found[2]) for node in graph.nodes if (found := _match(node)) is not None]


def stabilize(graph: Graph) -> Graph:
    """A new graph with every unstable pattern replaced by its stable gate.

    Every node is copied, so the parsed graph keeps its own nodes and ids and can still be used.
    """
    copies: dict[int, Node] = {}  # id(old node) -> its copy or replacement
    created = []
    for node in graph.nodes:
        found = _match(node)
        if found is not None:
            op_name, operand, pattern = found
            reduction = node.inputs[0].params if op_name == "logsumexp" else {}
            copy = Node("gate", node.span, op=OPS[op_name], inputs=(copies[id(operand)],),
                        name=node.name, rewrite=pattern, params=dict(reduction))
        else:
            copy = Node(node.kind, node.span, op=node.op, name=node.name, default=node.default,
                        params=node.params, inputs=tuple(copies[id(i)] for i in node.inputs),
                        rewrite=node.rewrite)
        copies[id(node)] = copy
        created.append(copy)
    return Graph(created, copies[id(graph.output)], graph.source, list(graph.notes))
