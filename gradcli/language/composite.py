"""Gates made of gates: a function (user-defined, or a built-in composite such as sigmoid) run as
one gate, or inlined as its primitive gates (`--expand`). Either way it means its body: the same
value, the same shape and the same gradients.

A call's body is run from the function's *flat body*: its graph with every call of another user
function inlined, built once per definition. Inlining shares: the same function applied to the
same input nodes is inlined once and its output reused (a DAG, not a tree of copies), so
`g1(t) = g0(t) + g0(t)`, …, `g40(t) = g39(t) + g39(t)` is 3 gates a level, not 2^40 copies.
A flat body (or an expansion) that would still exceed MAX_INLINED_GATES is refused.

How a call is one gate depends on its body:
  - every gate of the body elementwise and every parameter used: the call is elementwise too,
    with a number as local gradient per element (the body's backward from the seed 1, on the
    inputs spread to the output's shape), as the lecture draws the sigmoid gate;
  - otherwise (a reduction, a product, a transpose, a parameter left unused): the call's
    backward is the body's vector-Jacobian product, the body's backward pass from the upstream
    gradient, and its output has the body's shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..base.errors import ResourceError, shorten
from ..core.graph import Graph, Node, depends_on
from ..core.kernels import _check_broadcast, _edge_result, _forward_array_op
from ..core.ops import Op
from ..base.source import Span

# An expansion, or a call's flat body, bigger than this is refused: a function whose body calls
# another one twice on different inputs doubles at each level (h(t) = g(g(t))), which no sharing
# can avoid; 40 such levels would be 2^40 gates.
MAX_INLINED_GATES = 1_000_000


@dataclass(frozen=True, eq=False)
class Function:
    """A function the program defines: its parameters and its body, a graph of them."""

    name: str
    params: tuple[str, ...]
    body: Graph  # its variables are (some of) the parameters
    span: Span | None = None  # the name in the definition, for messages
    cache: dict = field(default_factory=dict, repr=False)  # the flat body, once built

    @property
    def elementwise(self) -> bool:
        """Whether a call may be an elementwise gate: every gate of the body is elementwise and
        every parameter is used (so the output has the broadcast shape of all inputs)."""
        body = self.body
        return (len(body.variables) == len(self.params)
                and all(n.op.elementwise for n in body.nodes if n.kind == "gate"))


class _TooBig(Exception):
    pass


def _instantiate(function: Function, args: tuple, created: list[Node], memo: dict, inline,
                 budget: list) -> Node:
    """Copies of the body's gates, the parameters replaced by the nodes `args`; returns the node
    standing for the output. Every call that `inline(op)` gives a Function for is inlined too,
    the same function on the same input nodes once (`memo`). No recursion: a chain of 10,000
    functions each calling the previous one is a deep stack of frames, not of Python calls.
    `budget`: [gates still allowed]; _TooBig past it."""
    # a frame: [function, its arguments, copies (id of a body node -> its copy), next node, memo key]
    stack = [[function, args, {}, 0, None]]
    done = None  # the output of the frame that just finished
    while True:
        frame = stack[-1]
        fn, fargs, copies, i, _ = frame
        nodes = fn.body.nodes
        if done is not None:
            copies[id(nodes[i])] = done
            i += 1
            done = None
        params = dict(zip(fn.params, fargs))
        pushed = False
        while i < len(nodes):
            node = nodes[i]
            if node.kind == "var":
                copy = params[node.name]
            elif node.kind == "const":
                copy = Node("const", node.span, default=node.default, scope=fn.name)
                created.append(copy)
                budget[0] -= 1
            else:
                inputs = tuple([copies[id(x)] for x in node.inputs])
                inner = inline(node.op)
                if inner is not None:
                    key = (id(inner), *map(id, inputs))
                    copy = memo.get(key)
                    if copy is None:
                        frame[3] = i
                        stack.append([inner, inputs, {}, 0, key])
                        pushed = True
                        break
                else:
                    copy = Node("gate", node.span, op=node.op, inputs=inputs, params=node.params,
                                rewrite=node.rewrite, scope=fn.name,
                                text=lambda s=node.span, p=params: argument_text(s.text, p))
                    created.append(copy)
                    budget[0] -= 1
                    if budget[0] < 0:
                        raise _TooBig
            copies[id(node)] = copy
            i += 1
        if pushed:
            continue
        out = copies[id(fn.body.output)]
        key = frame[4]
        stack.pop()
        if not stack:
            return out
        memo[key] = out
        done = out


def size_of(function: Function) -> int:
    """How many gates and constants inlining a call of `function` makes at most (with --expand's
    inlining, so also the gates of sigmoid, bounded by its text's length): an upper bound, computed once per function in time
    about its body's, so that a call that doubles at each level is refused at once rather than
    after building a million gates. Capped just above MAX_INLINED_GATES."""
    size = function.cache.get("size")
    if size is not None:
        return size
    order: list[Function] = []  # the functions it calls, callees first, without recursion
    stack = [(function, False)]
    seen = {id(function)}
    while stack:
        fn, expanded = stack.pop()
        if expanded:
            order.append(fn)
            continue
        stack.append((fn, True))
        for node in fn.body.nodes:
            inner = _user_body(node.op) if node.kind == "gate" else None
            if inner is not None and id(inner) not in seen and "size" not in inner.cache:
                seen.add(id(inner))
                stack.append((inner, False))
    for fn in order:
        fn.cache["size"] = _simulate(fn)
    return function.cache["size"]


def _simulate(function: Function) -> int:
    """_instantiate on stand-in numbers instead of nodes, counting. A call none of whose inputs
    was ever handed to another call cannot share with anything yet, so it makes exactly its
    callee's size_of (at most, were some inputs the same node): counted without going in. Any
    other call is gone into, as inlining does, so that calls shared through a parameter
    (`g(t) = a(t) + b(t)`, both calling f(t)) are counted once."""
    total = 0
    ids = iter(range(1 << 62))
    mentioned: set[int] = set()  # stand-ins some call was given
    memo: dict = {}
    stack = [[function, tuple(next(ids) for _ in function.params), {}, 0, None]]
    done = None
    while True:
        frame = stack[-1]
        fn, fargs, copies, i, _ = frame
        nodes = fn.body.nodes
        if done is not None:
            copies[id(nodes[i])] = done
            i += 1
            done = None
        params = dict(zip(fn.params, fargs))
        pushed = False
        while i < len(nodes):
            node = nodes[i]
            inner = _user_body(node.op) if node.kind == "gate" else None
            if node.kind == "var":
                copy = params[node.name]
            elif inner is None:
                # a built-in composite (sigmoid) expands to fewer gates than its text has
                # characters; its body is not parsed here: this runs inside the parser
                total += len(node.op.expansion) if node.kind == "gate" and node.op.expansion else 1
                copy = next(ids)
            else:
                inputs = tuple([copies[id(x)] for x in node.inputs])
                key = (id(inner), *inputs)
                copy = memo.get(key)
                if copy is None:
                    fresh = not any(x in mentioned for x in inputs)
                    mentioned.update(inputs)
                    if fresh:
                        total += inner.cache["size"]
                        copy = memo[key] = next(ids)
                    else:
                        frame[3] = i
                        stack.append([inner, inputs, {}, 0, key])
                        pushed = True
                        break
            copies[id(node)] = copy
            i += 1
            if total > MAX_INLINED_GATES:
                return total
        if pushed:
            continue
        out = copies[id(fn.body.output)]
        key = frame[4]
        stack.pop()
        if not stack:
            return total
        memo[key] = out
        done = out


def _user_body(op: Op) -> Function | None:
    return op.body if isinstance(op.body, Function) else None


def too_big(what: str, span: Span | None) -> ResourceError:
    return ResourceError(
        f"{what} stands for more than {MAX_INLINED_GATES:,} primitive gates",
        span=span,
        hint="a body that calls a function on the result of another call of it, h(t) = g(g(t)), doubles "
             "at each level (calls of one function on the same input are shared, g(t) + g(t))")


class _Flat:
    """A function's flat body, ready to run: forward values, and a backward pass from any seed."""

    def __init__(self, function: Function) -> None:
        created: list[Node] = []
        body = function.body
        spans = [body.variables[p].span if p in body.variables else body.output.span for p in function.params]
        params = tuple(Node("var", span, name=p) for p, span in zip(function.params, spans))
        if size_of(function) > MAX_INLINED_GATES:
            raise too_big(f"a call of {function.name}", function.span)
        try:
            output = _instantiate(function, params, created, {}, _user_body, [MAX_INLINED_GATES])
        except _TooBig:
            raise too_big(f"a call of {function.name}", function.span) from None
        graph = Graph([*params, *created], output, function.body.source)
        self.graph = graph
        self.slots = [node.id if graph.variables.get(node.name) is node else None for node in params]
        self.output = graph.output.id
        self.consts = [(n.id, np.float64(n.default)) for n in graph.nodes if n.kind == "const"]
        self.gates = [n for n in graph.nodes if n.kind == "gate"]
        needs = [n.kind == "var" for n in graph.nodes]  # depends on a parameter
        for node in self.gates:
            needs[node.id] = any(needs[i.id] for i in node.inputs)
        self.needs = needs
        self.kinks = [n for n in self.gates if needs[n.id]
                      and (n.op.kink is not None or n.op.kink_offset is not None)]

    def forward(self, args: tuple) -> list:
        values: list = [None] * len(self.graph.nodes)
        for slot, arg in zip(self.slots, args):
            if slot is not None:
                values[slot] = arg
        for k, value in self.consts:
            values[k] = value
        for node in self.gates:
            inputs = [values[i.id] for i in node.inputs]
            op = node.op
            if op.vjp is not None:
                value = _forward_array_op(node, inputs)
            else:
                if len(inputs) >= 2:
                    _check_broadcast(node, inputs)
                value = op.forward(*inputs)
            values[node.id] = value
        return values

    def backward(self, values: list, seed) -> list:
        """Each parameter's gradient (None where none arrives) from the seed ∂f/∂output."""
        grads: list = [None] * len(values)
        needs = self.needs
        if needs[self.output]:
            grads[self.output] = seed
        for node in reversed(self.gates):
            k = node.id
            upstream = grads[k]
            if upstream is None:
                continue
            grads[k] = None
            op = node.op
            inputs = [values[i.id] for i in node.inputs]
            ans = values[k]
            for index, inp in enumerate(node.inputs):
                j = inp.id
                if not needs[j]:
                    continue
                if op.vjp is not None:
                    out_shape = np.shape(ans)
                    g = upstream if np.shape(upstream) == out_shape else np.broadcast_to(upstream, out_shape)
                    result = op.vjp(g, ans, *inputs, index=index, **node.params)
                else:
                    local = op.locals[index](ans, *inputs)
                    result = _edge_result(local, upstream, np.shape(values[j]), np.shape(ans))
                grads[j] = result if grads[j] is None else grads[j] + result
        return [None if slot is None else grads[slot] for slot in self.slots]

    def at_kink(self, values: list) -> bool:
        for node in self.kinks:
            if node.op.at_kink(*[values[i.id] for i in node.inputs], **node.params):
                return True
        return False


def flat_body(function: Function) -> _Flat:
    flat = function.cache.get("flat")
    if flat is None:
        flat = function.cache["flat"] = _Flat(function)
    return flat


class _Run:
    """One run of a body: its inputs (as the engine gave them), the values of its flat body, and
    the gradients of the last backward pass, each handed out once."""

    __slots__ = ("args", "values", "seed", "grads")

    def __init__(self, args: tuple, values: list) -> None:
        self.args = args
        self.values = values
        self.seed = None
        self.grads: dict | None = None


_MISSING = object()


class _Body:
    """A function's calls as the engine sees one gate: forward, then the kink test and the local
    gradients (or the vector-Jacobian product) of each input with the same inputs.

    The last run is kept, keyed by the identity of its inputs, so that the backward pass does not
    run the body's forward again; the forward always runs it (a caller may evaluate again after
    changing an input array in place, which the same array object would not reveal). The engine
    never changes a value that a later gate still reads, and gets copies of the arrays a run
    holds, so the same input objects mean the same numbers.
    """

    def __init__(self, function: Function) -> None:
        self.function = function
        self.elementwise = function.elementwise
        self._last: _Run | None = None

    def _run(self, args: tuple) -> _Run:
        flat = flat_body(self.function)
        inputs = args
        if self.elementwise:  # spread to the output's shape: each element's gradient is its local
            try:
                full = np.broadcast_shapes(*(np.shape(x) for x in args))
            except ValueError:
                full = None  # the body's own gate reports the shapes
            if full is not None:
                inputs = tuple(x if np.shape(x) == full else np.broadcast_to(x, full) for x in args)
        run = _Run(args, flat.forward(inputs))
        self._last = run
        return run

    def _lookup(self, args: tuple) -> _Run:
        last = self._last
        if last is not None and len(last.args) == len(args) and all(a is b for a, b in zip(last.args, args)):
            return last
        return self._run(args)

    def forward(self, *args):
        run = self._run(args)
        value = run.values[flat_body(self.function).output]
        # the engine's own copy: it may write into the array once the gate is done with it, while
        # the run kept here still serves a later call on the same inputs (and `id(t) = t` would
        # otherwise hand out a view of an input)
        return np.array(value) if isinstance(value, np.ndarray) else value

    def _gradient(self, args: tuple, seed, index: int):
        run = self._lookup(args)
        grads = run.grads
        if grads is None or not _same(run.seed, seed):
            grads = run.grads = dict(enumerate(flat_body(self.function).backward(run.values, seed)))
            run.seed = seed if not isinstance(seed, np.ndarray) else np.array(seed)
        result = grads.pop(index, _MISSING)
        if result is _MISSING:  # asked twice: run the backward pass again
            run.grads = None
            return self._gradient(args, seed, index)
        if result is None:  # no path from this parameter to the output
            shape = np.shape(args[index])
            return np.zeros(shape) if shape else np.float64(0.0)
        # a copy the engine may write into: gradients of two parameters may be one array
        return np.array(result, dtype=np.float64) if np.ndim(result) else np.float64(result)

    def local(self, index: int):
        return lambda ans, *inputs: self._gradient(inputs, 1.0, index)

    def vjp(self, g, ans, *inputs, index: int):
        return self._gradient(inputs, g, index)

    def kink(self, *inputs) -> bool:
        return flat_body(self.function).at_kink(self._lookup(inputs).values)


def _same(a, b) -> bool:
    if a is b:
        return True
    if a is None or np.shape(a) != np.shape(b):
        return False
    return bool(np.array_equal(a, b, equal_nan=True))


def function_op(function: Function) -> Op:
    """The one-gate op of a user function: `sig(w*x + b)` is one row, one step, one node."""
    body = _Body(function)
    name = function.name
    has_kinks = any(n.op.kink is not None or n.op.kink_offset is not None
                    for n in function.body.nodes if n.kind == "gate")
    common = dict(uses_inputs=True, uses_output=True, body=function,
                  kink=body.kink if has_kinks else None,
                  kink_rule="of each gate in its body (--expand shows which)")
    formulas = tuple(f"∂{name}/∂{p}" for p in function.params)
    if body.elementwise:
        return Op(name, len(function.params), body.forward,
                  tuple(body.local(i) for i in range(len(function.params))),
                  name, "slope", formulas, **common)
    return Op(name, len(function.params), body.forward, (), name, "slope",
              tuple(f"vjp: {f}" for f in formulas), vjp=body.vjp, **common)


def combining_gate(node: Node, per_row: list[bool]) -> Node | None:
    """The gate that mixes elements of the inputs marked in `per_row`: `node` itself if its op is
    not elementwise, a gate of a user function's body that those parameters reach, or None."""
    if node.op.elementwise:
        return None
    function = _user_body(node.op)
    if function is None:
        return node
    flat = flat_body(function)
    reached = [False] * len(flat.graph.nodes)
    for slot, flag in zip(flat.slots, per_row):
        if slot is not None:
            reached[slot] = flag
    for gate in flat.gates:
        if any(reached[i.id] for i in gate.inputs):
            reached[gate.id] = True
            if not gate.op.elementwise:
                return gate
    return None


def mixing_gate(graph: Graph, names) -> tuple[Node, Node] | None:
    """The first gate of `graph` that mixes elements of the variables `names` (batch's columns,
    plot's points), as (the graph's gate, the gate that mixes: itself or a gate of its body, see
    `combining_gate`), or None when those elements flow through elementwise gates only."""
    reached = depends_on(graph, names)
    for node in graph.nodes:
        if node.kind == "gate" and reached[node.id] and not node.op.elementwise:
            inner = combining_gate(node, [reached[i.id] for i in node.inputs])
            if inner is not None:
                return node, inner
    return None


_BUILTIN_BODIES: dict[str, Function] = {}


def body_of(op: Op, parse) -> Function | None:
    """The function an op is made of, or None for a primitive gate. A built-in composite's body is
    its expansion's text (sigmoid's `1/(1+exp(-x))`), read with `parse` (gradcli.language.parser.parse,
    which passes itself: the parser builds on this module, not the other way round)."""
    if op.body is not None:
        return op.body
    if op.expansion:
        if op.name not in _BUILTIN_BODIES:
            _BUILTIN_BODIES[op.name] = Function(op.name, ("x",), parse(op.expansion))
        return _BUILTIN_BODIES[op.name]
    return None


def expand(graph: Graph, parse, max_gates: int = MAX_INLINED_GATES) -> Graph:
    """The same graph with every composite gate replaced by its body's primitive gates; the same
    function on the same input nodes is inlined once. The graph's own nodes are reused. `parse`
    reads a built-in composite's expansion (see body_of)."""
    def inline(op: Op) -> Function | None:
        return body_of(op, parse)

    created: list[Node] = []
    mapping: dict[int, Node] = {}  # id(old node) -> the node standing for it now
    memo: dict = {}
    budget = [max_gates]
    for node in graph.nodes:
        inputs = tuple([mapping.get(id(i), i) for i in node.inputs])
        function = inline(node.op) if node.kind == "gate" else None
        if function is None:
            node.inputs = inputs
            created.append(node)
            continue
        key = (id(function), *map(id, inputs))
        out = memo.get(key)
        if out is None:
            if size_of(function) > MAX_INLINED_GATES:
                raise too_big(f"a call of {function.name}", node.span)
            try:
                out = memo[key] = _instantiate(function, inputs, created, memo, inline, budget)
            except _TooBig:
                raise too_big("--expand of this program", node.span) from None
        if node.name is not None and out.kind == "gate" and out.name is None:
            out.name = node.name  # `s = sigmoid(z)`: the inlined output is still called s
        mapping[id(node)] = out
    output = mapping.get(id(graph.output), graph.output)
    expanded = Graph(created, output, graph.source, graph.notes)
    lost = [node for name, node in graph.variables.items() if name not in expanded.variables]
    if lost:  # only an unused parameter took them: still variables, with gradient 0, as grouped
        expanded.nodes[:0] = lost
        for i, node in enumerate(expanded.nodes):
            node.id = i
        expanded.variables = dict(graph.variables)
    return expanded


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
        inner = shorten(inner, 80)  # nested calls must not grow a text as large as their expansion
        before, after = text[:match.start()].rstrip()[-1:], text[match.end():].lstrip()[:1]
        enclosed = before in ("(", ",") and after in (")", ",")
        return inner if enclosed or re.fullmatch(r"[\w.]+", inner) else f"({inner})"

    return re.sub(r"(?<![\w.])[A-Za-z_]\w*", argument, text)
