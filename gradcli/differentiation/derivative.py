"""Reverse mode as a graph transformation: the derivative of a graph is a graph.

Each op's derivative is its registry rule (`Op.rule`), written once in gradcli's own syntax and
compiled here into a `Template`: a few steps of registry ops over the gate's inputs (x, y, z) and,
for an op with a vjp, the cotangent g. `gradient_nodes` walks the graph backwards from the output
(tinygrad's `compute_gradient`, JAX's transpose of the JVP rules) and instantiates, per edge,
cotangent × local gradient (elementwise ops) or the rule's VJP, adding at forks. What it builds are
ordinary gates of registry ops: every engine evaluates them, the printer writes them as formulas,
and the same transformation differentiates them again (higher orders).

The builder folds as it goes, so formulas stay readable and graphs small: constants are folded,
`x*1`, `x+0`, `x/1`, `--x` and `0*…` disappear (a zero cotangent is no edge at all), and a gate
equal to one already built (the same op on the same input nodes) is that node: the rule of exp,
`exp(x)`, is the forward gate itself, and a repeated subexpression is one node.

Rules are text, and text is the language's: the language layer hands a compiler to `Rules`
(gradcli.language.parser does), so this module never imports the parser that uses it for `diff(...)`.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import numpy as np

from ..base.errors import ResourceError
from ..core.graph import Node
from ..core.ops import OPS, Op

# An input reference of a template step: ("arg", i) the gate's input i (or, at index -1, the
# cotangent g); ("const", value); ("step", j) the result of step j.
Ref = tuple

# The derivative of order N of a graph of n gates can have up to about n·3^N gates; past this
# many new gates, building stops with an error rather than exhausting memory.
MAX_DERIVATIVE_GATES = 200_000

_COTANGENT = -1  # the arg index standing for g


class Template:
    """A rule compiled into steps of registry ops, instantiated per gate by `Builder.apply`."""

    __slots__ = ("steps", "result")

    def __init__(self, steps: list[tuple[Op, dict, tuple[Ref, ...]]], result: Ref | None) -> None:
        self.steps = steps  # (op, the step's own params, input refs)
        self.result = result  # None: identically zero

    @classmethod
    def from_nodes(cls, output: Node | None, args: dict[Node, int]) -> Template:
        """The nodes output depends on, with the nodes in `args` as the template's arguments."""
        if output is None:
            return cls([], None)
        order = topological(output, stop=args)
        refs: dict[Node, Ref] = {}
        steps = []
        for node in order:
            if node in args:
                refs[node] = ("arg", args[node])
            elif node.kind == "const" or (node.kind == "var" and node.default is not None and node not in args):
                refs[node] = ("const", float(node.default))
            elif node.kind == "var":
                raise ValueError(f"a derivative rule uses the unknown name {node.name!r}")
            else:
                refs[node] = ("step", len(steps))
                steps.append((node.op, dict(node.params), tuple(refs[i] for i in node.inputs)))
        return cls(steps, refs[output])


def topological(output: Node | Iterable[Node], stop: Iterable[Node] = ()) -> list[Node]:
    """The nodes `output` (one node, or several) depends on, every input before its gate, each
    gate's inputs in order (an explicit stack, no recursion: 100,000-deep graphs are normal
    input); nodes in `stop` are leaves."""
    stop = set(stop)
    order: list[Node] = []
    done: set[Node] = set()
    roots = [output] if isinstance(output, Node) else list(output)
    stack: list[tuple[Node, int]] = [(root, 0) for root in reversed(roots)]
    while stack:
        node, i = stack.pop()
        if node in done:
            continue
        inputs = () if node in stop else node.inputs
        if i < len(inputs):
            stack.append((node, i + 1))
            child = inputs[i]
            if child not in done:
                stack.append((child, 0))
        else:
            done.add(node)
            order.append(node)
    return order


class Rules:
    """Each op's rule compiled once, from its text by the language's `compiler(text) -> (output
    node, {name: var node})`, which gradcli.language.parser sets on `RULES` when it is imported. User
    functions (an op with a body) get theirs from their body: the body's own gradient, as a VJP
    in the cotangent."""

    def __init__(self, compiler: Callable[[str], tuple[Node, dict[str, Node]]] | None = None) -> None:
        self.compiler = compiler
        self._templates: dict[tuple[str, int], Template | None] = {}

    def load_all(self) -> None:
        """Compile every registry op's rules now (the parser calls this before it takes its lock)."""
        for op in list(OPS.values()):
            for index in range(len(op.rule)):
                self.template(op, index)

    def template(self, op: Op, index: int, scalars: bool = False) -> Template | None:
        """The template of input `index`'s rule; None where the output does not depend on it.
        `scalars`: a user function's arguments are all scalars (no broadcast to undo)."""
        if op.body is not None:
            return _function_templates(op, self, scalars)[index]
        key = (op.name, index)
        if key not in self._templates:
            if index >= len(op.rule):
                raise ValueError(f"the op {op.name} has no derivative rule for input {index}")
            text = op.rule[index]
            if text is None:
                self._templates[key] = None
            else:
                output, names = self.compiler(text)
                args = {node: i for i, letter in enumerate("xyz") if (node := names.get(letter)) is not None}
                if "g" in names:
                    args[names["g"]] = _COTANGENT
                self._templates[key] = Template.from_nodes(output, args)
        return self._templates[key]


def _function_templates(op: Op, rules: Rules, scalars: bool) -> list[Template]:
    """A user function's VJP per parameter, from its body, built once (kept on the Function)."""
    function = op.body
    key = ("derivative", scalars)
    cached = function.cache.get(key)
    if cached is not None:
        return cached
    # the functions it calls were defined before it: build theirs first, in a loop, not recursively
    pending = [function]
    order = []
    seen = {id(function)}
    while pending:
        f = pending.pop()
        order.append(f)
        for node in f.body.nodes:
            inner = node.op.body if node.kind == "gate" and node.op is not None else None
            if inner is not None and id(inner) not in seen and key not in inner.cache:
                seen.add(id(inner))
                pending.append(inner)
    for f in reversed(order):
        body = f.body
        created: list[Node] = []
        params = [body.variables.get(p) for p in f.params]
        cotangent = Node("var", body.output.span, name="g")
        builder = Builder(created.append, scope=f.name, scalars=scalars)
        builder.know(topological(body.output))
        wrt = [p for p in params if p is not None]
        grads = dict(zip(wrt, gradient_nodes(body.output, wrt, builder, rules, seed=cotangent)))
        args = {p: i for i, p in enumerate(params) if p is not None}
        args[cotangent] = _COTANGENT
        f.cache[key] = [Template.from_nodes(grads.get(p) if p is not None else None, args) for p in params]
    return function.cache[key]


def _key(op: Op, inputs: tuple, params: dict) -> tuple:
    # a constant input counts by its value (each constant is its own node, as in parsed text)
    return (op.name, op.body is not None and id(op.body),
            tuple(("c", i.default, math.copysign(1.0, i.default)) if i.kind == "const" else id(i) for i in inputs),
            tuple(sorted(params.items())))


def _const_value(node: Node | None) -> float | None:
    if node is None:
        return 0.0
    return float(node.default) if node.kind == "const" else None


# Ops linear in the inputs listed: a zero there makes the result zero.
_ZERO_IF = {
    "mul": (0, 1), "div": (0,), "neg": (0,), "sum": (0,), "mean": (0,), "T": (0,),
    "expand_as": (0,), "sum_as": (0,), "matmul": (0, 1), "dot": (0, 1),
    "matmul_vjp_a": (0, 2), "matmul_vjp_b": (0, 1),
}


class Builder:
    """Makes derivative gates: folded, simplified and hash-consed (see the module's docstring).
    A zero is None: no node, and no edge in the backward pass."""

    def __init__(self, add: Callable[[Node], None], *, scope: str | None = None,
                 scalars: bool = False, span=None, var_shapes: dict[str, tuple] | None = None) -> None:
        self._add = add
        self.scope = scope  # how the new gates are labelled: `∂/∂x: exp(x)`
        self.span = span  # where they point in the text (default: the gate they differentiate)
        self.scalars = scalars  # every variable is a scalar (formulas without values)
        self.var_shapes = var_shapes  # the shapes of some variables, by name
        self._memo: dict[tuple, Node] = {}
        self._array: dict[Node, bool] = {}
        self.made = 0

    def know(self, nodes: Iterable[Node]) -> None:
        """Let the builder reuse these existing nodes (the graph being differentiated)."""
        for node in nodes:
            if node.kind == "gate":
                self._memo.setdefault(_key(node.op, node.inputs, node.params), node)

    # -- making nodes ----------------------------------------------------------------------
    def _new(self, node: Node) -> Node:
        self.made += 1
        if self.made > MAX_DERIVATIVE_GATES:
            raise ResourceError(f"the derivative needs more than {MAX_DERIVATIVE_GATES:,} gates",
                                hint="ask for a lower order, or differentiate a smaller expression")
        self._add(node)
        return node

    def const(self, value: float, span) -> Node:
        return self._new(Node("const", span, default=value, text=f"{value:g}"))

    def gate(self, op: Op, inputs: tuple[Node | None, ...], params: dict, span) -> Node | None:
        """op applied to inputs (None: zero), simplified; None if the result is zero."""
        zero_if = _ZERO_IF.get(op.name, ())
        if any(inputs[i] is None for i in zero_if):
            return None
        a = inputs[0]
        b = inputs[1] if len(inputs) > 1 else None
        name = op.name
        if name == "add":
            if a is None or b is None:
                return b if a is None else a
            if a is b:  # both paths of a fork brought the same term: t*t's two factors
                return self.gate(OPS["mul"], (self.const(2.0, span), a), {}, span)
        elif name == "sub":
            if b is None:
                return a
            if a is None:
                return self.gate(OPS["neg"], (b,), {}, span)
        elif name == "mul":
            ca, cb = _const_value(a), _const_value(b)
            if ca == 1.0 or cb == 1.0:
                return b if ca == 1.0 else a
            if ca == 0.0 or cb == 0.0:
                return None
            if ca == -1.0 or cb == -1.0:
                return self.gate(OPS["neg"], (b if ca == -1.0 else a,), {}, span)
            if ca is None and cb is not None:  # constants first: 2*x, not x*2
                return self.gate(op, (b, a), params, span)
            if ca is not None and b.kind == "gate" and b.op.name == "mul" and _const_value(b.inputs[0]) is not None:
                return self.gate(op, (self.const(ca * _const_value(b.inputs[0]), span), b.inputs[1]), params, span)
            if ca is None:  # a constant factor inside comes first: y*(3*z) = 3*(y*z)
                for i, side in enumerate((a, b)):
                    if side.kind == "gate" and side.op.name == "mul" and _const_value(side.inputs[0]) is not None:
                        other = b if i == 0 else a
                        rest = (side.inputs[1], other) if i == 0 else (other, side.inputs[1])
                        return self.gate(op, (side.inputs[0], self.gate(op, rest, params, span)), params, span)
            if b.kind == "gate" and b.op.name == "neg":  # a*(-b) = -(a*b)
                return self.gate(OPS["neg"], (self.gate(op, (a, b.inputs[0]), params, span),), {}, span)
            if a.kind == "gate" and a.op.name == "neg":
                return self.gate(OPS["neg"], (self.gate(op, (a.inputs[0], b), params, span),), {}, span)
        elif name == "div":
            if _const_value(b) == 1.0:
                return a
            for i, side in enumerate((a, b)):  # (-a)/b = a/(-b) = -(a/b)
                if side.kind == "gate" and side.op.name == "neg":
                    inner = (side.inputs[0], b) if i == 0 else (a, side.inputs[0])
                    return self.gate(OPS["neg"], (self.gate(op, inner, params, span),), {}, span)
            if _const_value(a) == 0.0:
                return None
        elif name == "neg":
            if a.kind == "gate" and a.op.name == "neg":
                return a.inputs[0]
        elif name == "pow":
            cb = _const_value(b)
            if cb == 1.0:
                return a
            if a is None and cb is not None and cb > 0:
                return None
        elif name == "T" and a is not None and a.kind == "gate" and a.op.name == "T":
            return a.inputs[0]
        inputs = tuple(self.const(0.0, span) if i is None else i for i in inputs)
        folded = self._fold(op, inputs, params, span)
        if folded is not None:
            return None if folded.default == 0.0 else folded
        key = _key(op, inputs, params)
        node = self._memo.get(key)
        if node is None:
            node = self._new(Node("gate", span, op=op, inputs=inputs, params=dict(params),
                                  scope=self.scope, text=_lazy_text(op, inputs)))
            self._memo[key] = node
        return node

    def _fold(self, op: Op, inputs: tuple[Node, ...], params: dict, span) -> Node | None:
        """A gate of constants as one constant, when the op is elementwise and the value finite."""
        if op.body is not None or not op.elementwise or any(i.kind != "const" for i in inputs):
            return None
        try:
            with np.errstate(all="raise"):
                value = float(op.forward(*(np.float64(i.default) for i in inputs)))
        except (ArithmeticError, ValueError, TypeError):
            return None
        return self.const(value, span) if math.isfinite(value) else None

    def add(self, a: Node | None, b: Node | None, span) -> Node | None:
        return self.gate(OPS["add"], (a, b), {}, span)

    # -- shapes ----------------------------------------------------------------------------
    def maybe_array(self, node: Node) -> bool:
        """Whether the node's value may be an array (False only when it is surely a scalar)."""
        if node.kind == "const":
            return False
        if node.kind == "var":
            if self.var_shapes is not None and node.name in self.var_shapes:
                return self.var_shapes[node.name] != ()
            return not self.scalars
        known = self._array.get(node)
        if known is not None:
            return known
        # gates: a loop over the not-yet-known inputs first (no recursion)
        stack = [node]
        while stack:
            top = stack[-1]
            todo = [i for i in top.inputs if i.kind == "gate" and i not in self._array]
            if todo:
                stack.extend(todo)
                continue
            stack.pop()
            self._array[top] = self._gate_maybe_array(top)
        return self._array[node]

    def _gate_maybe_array(self, node: Node) -> bool:
        op = node.op
        name = op.name
        if name in ("sum", "mean", "amax", "amin", "logsumexp", "norm", "size") and node.params.get("axis") is None:
            return False
        if name in ("sum_as", "expand_as"):
            return self.maybe_array(node.inputs[1])
        if name == "diff":
            return any(self.maybe_array(i) for i in node.inputs)
        if name == "scalar":
            return False
        if op.elementwise or name in ("T",):
            return any(self.maybe_array(i) for i in node.inputs)
        return True

    def may_be_smaller(self, inp: Node, gate: Node) -> bool:
        """Whether input `inp` of elementwise `gate` may have fewer elements than the gate (it
        was broadcast), so that its cotangent must be summed back to its shape."""
        if not self.maybe_array(gate):
            return False
        return any(other is not inp and self.maybe_array(other) for other in gate.inputs)

    # -- rules -----------------------------------------------------------------------------
    def apply(self, template: Template | None, args: tuple, cotangent: Node | None, params: dict,
              span) -> Node | None:
        """The template with the gate's inputs (and the cotangent) in place of its arguments;
        the gate's params go to every step whose op takes them (the axis of a reduction)."""
        if template is None or template.result is None:
            return None
        done: list[Node | None] = []

        def resolve(ref: Ref) -> Node | None:
            kind, value = ref
            if kind == "arg":
                return cotangent if value == _COTANGENT else args[value]
            if kind == "const":
                return self.const(value, span)
            return done[value]

        for op, own, refs in template.steps:
            passed = {k: v for k, v in params.items() if k in op.params and k not in own}
            done.append(self.gate(op, tuple(resolve(r) for r in refs), {**own, **passed}, span))
        return resolve(template.result)


def _part(node: Node) -> str:
    """How an input reads inside a derivative gate's text: its own text without its scope
    (`∂/∂x: exp(x)` reads `exp(x)` inside another ∂/∂x gate), parenthesised when it is not a
    name, a number or a call."""
    text = node.text if node.scope is not None and node.text is not None else node.label
    if node.kind == "gate" and node.op.name in ("add", "sub", "mul", "div", "matmul", "pow", "neg"):
        return f"({text})"
    return text


def _lazy_text(op: Op, inputs: tuple[Node, ...]):
    def text() -> str:
        labels = [_part(i) for i in inputs]
        if op.name in ("add", "sub", "mul", "div", "matmul", "pow"):
            symbol = {"pow": "**", "matmul": "@"}.get(op.name, op.symbol)
            return f"{labels[0]} {symbol} {labels[1]}"
        if op.name == "neg":
            return f"-{labels[0]}"
        bare = [i.text if i.scope is not None and i.text is not None else i.label for i in inputs]
        return f"{op.call_name}({', '.join(bare)})"
    return text


def gradient_nodes(output: Node, wrt: list[Node], builder: Builder, rules: Rules,
                   seed: Node | None = None) -> list[Node | None]:
    """∂output/∂w for each node w of `wrt`, as new nodes made by `builder` (None: zero).

    The cotangent of the output is `seed` (default 1: the output is a scalar). Gates are visited
    in reverse topological order; each edge's cotangent is the gate's cotangent times the rule's
    local gradient (summed back to the input's shape where it was broadcast), or the rule's VJP;
    cotangents add at forks. Only gates on a path from some w to the output are visited."""
    order = topological(output)
    targets = set(wrt)
    depends: dict[Node, bool] = {}
    for node in order:
        depends[node] = node in targets or (node.kind == "gate" and any(depends[i] for i in node.inputs))
    cotangents: dict[Node, Node | None] = {output: seed if seed is not None else builder.const(1.0, output.span)}
    for node in reversed(order):
        if node.kind != "gate" or not depends[node] or node in targets:
            continue
        g = cotangents.pop(node, None)
        if g is None:
            continue
        op = node.op
        span = builder.span or node.span
        for index, inp in enumerate(node.inputs):
            if not depends[inp]:
                continue
            template = rules.template(op, index, builder.scalars)
            if op.elementwise and op.body is None:
                local = builder.apply(template, node.inputs, None, node.params, span)
                part = builder.gate(OPS["mul"], (g, local), {}, span)
                if part is not None and len(node.inputs) > 1 and builder.may_be_smaller(inp, node):
                    part = builder.gate(OPS["sum_as"], (part, inp), {}, span)
            else:  # a VJP: a reduction, a product, a transpose, a user function (whose body's
                # own sum_as gates bring a broadcast input's cotangent back to its shape)
                part = builder.apply(template, node.inputs, g, node.params, span)
            if part is not None:
                cotangents[inp] = builder.add(cotangents.get(inp), part, span) if inp in cotangents else part
    return [cotangents.get(w) for w in wrt]


RULES = Rules()  # the registry's rules; gradcli.language.parser gives it the compiler


def copy_nodes(nodes: list[Node]) -> dict[Node, Node]:
    """Fresh nodes with the same fields (a Graph numbers its nodes, so graphs do not share them)."""
    copies: dict[Node, Node] = {}
    for node in nodes:
        copy = Node(node.kind, node.span, op=node.op, inputs=tuple(copies[i] for i in node.inputs),
                    name=node.name, default=node.default, params=dict(node.params), rewrite=node.rewrite,
                    scope=node.scope, text=node._text)
        copies[node] = copy
    return copies


def zero_like(node: Node, builder: Builder, span) -> Node:
    """0 in the shape of `node`'s value: a constant for a scalar, else 0 spread over its shape."""
    zero = builder.const(0.0, span)
    if not builder.maybe_array(node):
        return zero
    return builder._new(Node("gate", span, op=OPS["expand_as"], inputs=(zero, node), scope=builder.scope,
                             text=lambda: f"0 spread as {node.label}"))


def _copied(graph, **options) -> tuple[dict[Node, Node], list[Node], Builder]:
    """The graph's nodes copied (f's own first, in order), and a builder that reuses them."""
    copies = copy_nodes(graph.nodes)
    created = list(copies.values())
    builder = Builder(created.append, **options)
    builder.know(created)
    return copies, created, builder


def derivative(graph, name: str, order: int = 1, *, scalars: bool = False,
               shapes: dict[str, tuple] | None = None):
    """The order-th derivative of `graph`'s output with respect to the variable `name`, as a new
    Graph over the same source (∂f/∂x for an array x is the gradient array, of x's shape).

    `scalars`: every variable is a scalar (what a formula without values assumes: no broadcast to
    undo); `shapes`: each variable's shape when values are known. The output must be a scalar
    for the result to be its derivative (an array output gives the derivative of its sum).
    Raises GradcliError for a name that is not a variable of the graph, ValueError for an order
    below 1, ResourceError past MAX_DERIVATIVE_GATES new gates."""
    from ..base.errors import GradcliError, did_you_mean
    from ..core.graph import Graph

    if name not in graph.variables:
        known = ", ".join(graph.variables) or "none"
        raise GradcliError(f"{name!r} is not a variable of the expression",
                           hint=did_you_mean(name, list(graph.variables)) or f"its variables are: {known}")
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ValueError(f"the order of a derivative is a whole number from 1, not {order!r}")
    copies, created, builder = _copied(graph, scalars=scalars,
                                       var_shapes=None if shapes is None else {n: tuple(s) for n, s in shapes.items()})
    variable = copies[graph.variables[name]]
    out = copies[graph.output]
    for _ in range(order):
        out = gradient_nodes(out, [variable], builder, RULES)[0]
        if out is None:
            out = zero_like(variable, builder, graph.output.span)
            break
    return Graph(created, out, graph.source)


def gradient_graph(graph, names: list[str] | None = None, *, scalars: bool = False):
    """The gradient of `graph`'s output as nodes: (nodes in topological order, {name: node});
    a name the output does not depend on maps to a zero node. The nodes are copies (the graph's
    own are left as they are); evaluate one with `Graph(nodes, node, graph.source)`."""
    names = list(graph.variables) if names is None else names
    copies, created, builder = _copied(graph, scalars=scalars)
    variables = [copies[graph.variables[n]] for n in names]
    grads = gradient_nodes(copies[graph.output], variables, builder, RULES)
    result = {}
    for n, v, d in zip(names, variables, grads):
        result[n] = d if d is not None else zero_like(v, builder, graph.output.span)
    return created, result
