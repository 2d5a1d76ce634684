"""Gates made of gates: a function (user-defined, or a built-in composite such as sigmoid) run as
one gate whose local gradients come from backpropagating through its body, or inlined as its
primitive gates (`--expand`). Either way the gradients are the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .graph import Graph, Node
from .ops import Op


@dataclass(frozen=True)
class Function:
    name: str
    params: tuple[str, ...]
    body: Graph  # its variables are (some of) the parameters


class _Body:
    """Runs a function's body; the last run is kept, since the engine asks for the value in the
    forward pass and for each input's local gradient in the backward pass, with the same inputs.
    The forward pass always runs the body again: a caller may evaluate again after changing an
    input array in place, which the same array object would not reveal."""

    def __init__(self, function: Function) -> None:
        self.function = function
        self._last: tuple | None = None

    def run(self, inputs: tuple):
        last = self._last
        if last is not None and len(last[0]) == len(inputs) and all(a is b for a, b in zip(last[0], inputs)):
            return _copies(last[1])  # the engine may write into arrays it was given
        body = self.function.body
        # Every gate is elementwise: with the inputs spread to the output's shape and the seed 1,
        # each element's gradient is that element's local derivative.
        full = np.broadcast_shapes(*(np.shape(x) for x in inputs))
        values = {p: np.broadcast_to(x, full) for p, x in zip(self.function.params, inputs)
                  if p in body.variables}
        result = body.evaluate(values, trace=False)
        value = result.value
        value = np.float64(value) if np.ndim(value) == 0 else value
        if np.shape(value) != full:  # a body that ignores its inputs: still one value per element
            value = np.array(np.broadcast_to(value, full))
        elif isinstance(value, np.ndarray) and not value.flags.writeable:  # `id(t) = t`: a view of an input
            value = np.array(value)
        locals_ = tuple(result.gradients.get(p, 0.0) for p in self.function.params)
        kink = any(d.kind == "kink" for d in result.diagnostics)
        self._last = (inputs, _copies((value, locals_, kink)))
        return value, locals_, kink

    def forward(self, *inputs):
        self._last = None
        return self.run(inputs)[0]

    def local(self, index: int):
        return lambda ans, *inputs: self.run(inputs)[1][index]

    def kink(self, *inputs) -> bool:
        return self.run(inputs)[2]


def _fresh(x):
    return np.array(x) if isinstance(x, np.ndarray) else x


def _copies(run: tuple) -> tuple:
    value, locals_, kink = run
    return _fresh(value), tuple(_fresh(g) for g in locals_), kink


def function_op(function: Function) -> Op:
    """The one-gate op of a user function: `sig(w*x + b)` is one row, one step, one node."""
    body = _Body(function)
    name = function.name
    return Op(name, len(function.params), body.forward,
              tuple(body.local(i) for i in range(len(function.params))),
              name, "slope", tuple(f"∂{name}/∂{p}" for p in function.params),
              uses_inputs=True, uses_output=True, body=function, kink=body.kink,
              kink_rule="of each gate in its body (--expand shows which)")


_BUILTIN_BODIES: dict[str, Function] = {}


def body_of(op: Op) -> Function | None:
    """The function an op is made of, or None for a primitive gate."""
    if op.body is not None:
        return op.body
    if op.expansion:
        if op.name not in _BUILTIN_BODIES:
            from .parser import parse

            _BUILTIN_BODIES[op.name] = Function(op.name, ("x",), parse(op.expansion))
        return _BUILTIN_BODIES[op.name]
    return None


def expand(graph: Graph) -> Graph:
    """The same graph with every composite gate replaced by its body's primitive gates."""
    created: list[Node] = []
    mapping: dict[int, Node] = {}  # id(old node) -> the node standing for it now
    for node in graph.nodes:
        inputs = tuple(mapping.get(id(i), i) for i in node.inputs)
        function = body_of(node.op) if node.kind == "gate" else None
        if function is None:
            node.inputs = inputs
            created.append(node)
            continue
        out = _inline(function, inputs, created)
        if node.name is not None and out.kind == "gate" and out.name is None:
            out.name = node.name  # `s = sigmoid(z)`: the inlined output is still called s
        mapping[id(node)] = out
    output = mapping.get(id(graph.output), graph.output)
    return Graph(created, output, graph.source, graph.notes)


def _inline(function: Function, args: tuple, created: list[Node]) -> Node:
    """Copies of the body's gates, the parameters replaced by `args`; returns the output's copy."""
    params = dict(zip(function.params, args))
    copies: dict[int, Node] = {}
    for node in function.body.nodes:
        if node.kind == "var":
            copy = params[node.name]
        elif node.kind == "const":
            copy = Node("const", node.span, default=node.default, scope=function.name)
            created.append(copy)
        else:
            inputs = tuple(copies[id(i)] for i in node.inputs)
            inner = body_of(node.op)
            if inner is not None:
                copy = _inline(inner, inputs, created)
            else:
                copy = Node("gate", node.span, op=node.op, inputs=inputs, scope=function.name,
                            text=argument_text(node.span.text, params))
                created.append(copy)
        copies[id(node)] = copy
    return copies[id(function.body.output)]



def argument_text(body: str, params: dict) -> str:
    """A body gate's text with each parameter replaced by the text of the call's argument there
    (in parentheses where it is not a name or a number): `-x` of sigmoid(w*x + b) is
    `-(w*x + b)`. What an --expand view shows: an inner name never reads as one of the user's."""
    import re

    text = " ".join(re.sub(r"#[^\n]*", " ", body).split())

    def argument(match) -> str:
        node = params.get(match.group(0))
        if node is None or text[match.end():match.end() + 1] == "(":  # not a parameter, or a call
            return match.group(0)
        if node.kind == "const":
            return f"{node.default:g}"
        if node.name is not None:
            return node.name
        inner = node.text if node.text is not None else " ".join(node.span.text.split())
        before, after = text[:match.start()].rstrip()[-1:], text[match.end():].lstrip()[:1]
        enclosed = before in ("(", ",") and after in (")", ",")
        return inner if enclosed or re.fullmatch(r"[\w.]+", inner) else f"({inner})"

    return re.sub(r"(?<![\w.])[A-Za-z_]\w*", argument, text)
