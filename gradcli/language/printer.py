"""Graph → source text that parses back to the same graph: the same gates with the same inputs,
constants and variables. Parentheses only where the grammar's precedence needs them.

A gate that is named (`q = x + y`), or a gate or constant that feeds several gates, becomes a
statement, so shared nodes stay shared. Built without recursion and in linear time: 10,000-deep graphs are normal input.
"""

from __future__ import annotations

import math

from ..core.graph import Graph, Node

# How tightly a piece of text binds, as in grammar/gradcli.lark: sum < product < unary < power < atom.
SUM, PRODUCT, UNARY, POWER, ATOM = range(5)

# op name → (symbol, strength of the result, strength needed on the left, on the right)
_INFIX = {
    "add": ("+", SUM, SUM, PRODUCT),  # left-associative: a - (b - c) keeps its parentheses
    "sub": ("-", SUM, SUM, PRODUCT),
    "mul": ("*", PRODUCT, PRODUCT, UNARY),
    "div": ("/", PRODUCT, PRODUCT, UNARY),
    "matmul": ("@", PRODUCT, PRODUCT, UNARY),
    "pow": ("**", POWER, ATOM, UNARY),  # right-associative; a negative base needs parentheses
}


def op_text(op, names, *, as_call: bool = False) -> str:
    """How the language writes `op` applied to inputs written as `names` (plain names): `x + y`,
    `x ** y`, `-x`, `exp(x)`, `max(x)` (the reduction amax); `as_call`: always as a call of its
    name (`pow(x, y)`), for an operator that can also be called."""
    if as_call:
        pass
    elif op.name in _INFIX:
        return f"{names[0]} {_INFIX[op.name][0]} {names[1]}"
    if op.name == "neg":
        return f"-{names[0]}"
    return f"{op.call_name}({', '.join(names)})"


def operator_strength(op) -> int | None:
    """How tightly an operator binds (SUM loosest, POWER tightest), or None for a function."""
    if op.name in _INFIX:
        return _INFIX[op.name][1]
    return UNARY if op.name == "neg" else None


def number_text(value: float) -> str:
    """A constant as the grammar reads it; negative ones in parentheses ("(-2.5)")."""
    if math.isnan(value):
        raise ValueError("a nan constant has no source text")
    text = "1e999" if math.isinf(value) else repr(float(abs(value)))
    text = text[:-2] if text.endswith(".0") else text  # 2.0 → 2
    return f"(-{text})" if math.copysign(1.0, value) < 0 else text


def to_source(graph: Graph) -> str:
    """The graph as a program: one statement per named or shared gate, then the output."""
    nodes = graph.nodes
    uses = [0] * len(nodes)
    last_use = [-1] * len(nodes)
    for node in nodes:
        for inp in node.inputs:
            uses[inp.id] += 1
            last_use[inp.id] = node.id
    output = graph.output
    last_use[output.id] = len(nodes)

    taken = set(graph.variables) | {n.name for n in nodes if n.name is not None}
    bound: dict[str, int] = {}  # statement name → the node it names now
    fresh = 0
    # Each node's text is a list of strings and node ids (the inputs' texts), joined at the end.
    pieces: list[list] = [[] for _ in nodes]
    strength = [ATOM] * len(nodes)
    statements: list[list] = []
    for node in nodes:
        k = node.id
        if node.kind == "var":
            pieces[k] = [node.name]
            continue
        if node.kind == "const":  # shared only when a name was bound to it: `a = 0.5; a + a`
            pieces[k] = [number_text(node.default)]
        else:
            pieces[k], strength[k] = _gate_pieces(node, strength)
        if node.name is None and uses[k] < 2:
            continue
        name = node.name
        # a name is reused only if what it named is no longer needed once this statement runs
        usable = (name is not None and name not in graph.variables
                  and (name not in bound or last_use[bound[name]] <= k))
        if not usable:
            while f"t{fresh}" in taken:
                fresh += 1
            name = f"t{fresh}"
            taken.add(name)
        bound[name] = k
        statements.append([name, " = ", *pieces[k]])
        pieces[k], strength[k] = [name], ATOM
    if not statements or bound[statements[-1][0]] != output.id:  # else the last statement is f
        statements.append(pieces[output.id])
    return "\n".join(join_pieces(statement, pieces) for statement in statements)


def _gate_pieces(node: Node, strength: list[int]) -> tuple[list, int]:
    op = node.op
    args = [inp.id for inp in node.inputs]
    if op.name == "diff":  # diff(f, x) is written as the derivative it is: its first input
        return [args[0]], strength[args[0]]
    if op.name in _INFIX:  # pow(x, y) and x**y are the same gate
        symbol, own, left, right = _INFIX[op.name]
        sep = "**" if symbol == "**" else f" {symbol} "
        return [*_wrap(args[0], left, strength), sep, *_wrap(args[1], right, strength)], own
    if op.name == "neg":
        return ["-", *_wrap(args[0], UNARY, strength)], UNARY
    parts: list = [op.call_name, "("]  # max(x) is the gate amax
    for i, arg in enumerate(args):
        if i:
            parts.append(", ")
        parts.append(arg)
    parts.extend(f", {key}={value}" for key, value in node.params.items())  # sum(X, axis=0)
    parts.append(")")
    return parts, ATOM


def _wrap(node_id: int, needed: int, strength: list[int]) -> list:
    return [node_id] if strength[node_id] >= needed else ["(", node_id, ")"]


def join_pieces(parts: list, pieces: list[list]) -> str:
    """Text from parts: strings, and indexes into `pieces` (lists of parts), joined in a loop."""
    out: list[str] = []
    stack = [iter(parts)]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
        elif isinstance(item, str):
            out.append(item)
        else:
            stack.append(iter(pieces[item]))
    return "".join(out)
