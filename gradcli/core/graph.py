"""The computational graph: gates, variables and constants, in topological order."""

from __future__ import annotations

from typing import Callable, Mapping

from .ops import GateView, Op, gate_view
from ..base.source import Source, Span

# Evaluating and printing a graph belong to the layers above it (gradcli.evaluation.evaluator, gradcli.language.printer),
# which import this module; gradcli/__init__.py connects them here, so that Graph.evaluate and
# Graph.to_source work while the graph imports neither (nor gradcli.core.trace: `Result` and
# `Diagnostic` below are gradcli.core.trace's, named in annotations only).
_hooks: dict[str, Callable] = {}


def connect(*, evaluate: Callable, to_source: Callable) -> None:
    """Called once, by gradcli/__init__.py: what Graph.evaluate and Graph.to_source call."""
    _hooks.update(evaluate=evaluate, to_source=to_source)


# A parser's node may hold its span packed in one int, start << SPAN_SHIFT | end (see Node).
SPAN_SHIFT = 40
_SPAN_MASK = (1 << SPAN_SHIFT) - 1


class Node:
    """One gate (an op applied to inputs), one variable, or one constant.

    A variable used several times is one node: its gradient is the sum of what comes back.
    `default` is a constant's value, or a named constant's (`pi`, `e`) until a value replaces it.
    (op, inputs, name and default may be given by position: the parser creates 100,000s of
    nodes, and keyword arguments cost about as much as the rest of the call.)
    `span` may also be given as the int start << SPAN_SHIFT | end, with `_source` set to the Source:
    the Span is then made when first read (the parser's way: most of its 100,000s of nodes are
    never pointed at, and an int, unlike a Span or a tuple, is nothing the cyclic GC traverses).
    """

    __slots__ = ("id", "kind", "op", "inputs", "name", "_span", "default", "params", "rewrite", "scope", "_text",
                 "_source")

    def __init__(self, kind: str, span: Span | int, op: Op | None = None,
                 inputs: tuple[Node, ...] = (), name: str | None = None,
                 default: float | None = None, *, params: dict | None = None,
                 rewrite: str | None = None, scope: str | None = None,
                 text: str | Callable[[], str] | None = None) -> None:
        self.id = -1
        self.kind = kind  # "var", "const" or "gate"
        self.op = op
        self.inputs = inputs
        self.name = name
        self._span = span
        self.default = default
        self.rewrite = rewrite  # the pattern this gate replaced (--stable), e.g. "1/(1+exp(-u))"
        self.params = params or {}  # a gate's keyword arguments, fixed in the text: {"axis": 0}
        self.scope = scope  # the function whose body this gate was inlined from (--expand)
        # how an inlined gate reads: its body text with the call's arguments in place of the
        # parameters (`-y` for sigmoid(y)'s `-x`), so no inner name reads as one of the user's;
        # a callable is called when the text is first read (most inlined gates never are)
        self._text = text

    @property
    def span(self) -> Span:
        span = self._span
        if span.__class__ is int:
            span = self._span = Span(self._source, span >> SPAN_SHIFT, span & _SPAN_MASK)
        return span

    @span.setter
    def span(self, span: Span) -> None:
        self._span = span

    def bounds(self) -> tuple[Source, int, int]:
        """(source, start, end) of the span, without making (and keeping) a Span object: what a
        renderer walking 100,000 nodes reads."""
        span = self._span
        if span.__class__ is int:
            return self._source, span >> SPAN_SHIFT, span & _SPAN_MASK
        return span.source, span.start, span.end

    @property
    def text(self) -> str | None:
        if callable(self._text):
            self._text = self._text()
        return self._text

    @property
    def op_name(self) -> str:
        return self.op.name if self.op is not None else self.kind

    @property
    def label(self) -> str:
        """How the node is called in tables and messages: its name, else its source text."""
        if self.name is not None:
            return self.name
        if self.text is not None:
            text = self.text if len(self.text) <= 40 else self.text[:39] + "…"
            return f"{self.scope}: {text}" if self.scope else text
        return f"{self.scope}: {self.span.short_text()}" if self.scope else self.span.short_text()

    @property
    def gate_name(self) -> str:
        """The gate's one name in every view and message: the registry's symbol with its constant
        inputs folded in (`+`, `*`, `1/x`, `x^3`, `-x`, `exp`, `max`), else the node's kind."""
        return self.view.symbol if self.op is not None else self.kind

    @property
    def view(self) -> GateView:
        """The gate's symbol, role and formulas for people, its constant inputs folded in."""
        return gate_view(self.op, tuple(i.default if i.kind == "const" else None for i in self.inputs),
                         tuple(i.label for i in self.inputs))

    def __repr__(self) -> str:
        return f"Node({self.id}, {self.op_name}, {self.label!r})"


class Columns:
    """A parse's gates as flat lists, appended by the parser as it creates each node, so that the
    scalar engine plans a first run by slicing these lists instead of a second pass over 100,000
    Node objects (gradcli.evaluation.scalar_engine._Plan).

    `gates` holds six entries per gate (one list: one append per gate, and slices with a step of
    6 give each column, or its reverse): its node's index in `created`, its scalar kernel's
    forward, its inputs' indices (the second -1 for a unary gate), and the kernel's local
    gradient toward each input, None where that input needs no gradient (a number, a named
    constant such as pi, a gate of those: the `constant` node indices) or there is none.
    `constant_gates`: which gates (0, 1, 2… in `gates`) are such; `kinks`: (kink_offset, i, j) of
    the other gates whose op has a kink. `constants`: (index, value) of every constant node.
    `variables`: {name: var node} (named constants among them), in first-use order, and
    `position` {name: its index}, built alongside (a dict made while each name is at hand, not by
    hashing 30,000 names again at the first evaluation).

    Only gates of one or two inputs without params are appended; the parser sets `complete` to
    False when it builds anything else (definitions, diff, calls with keyword arguments or three
    inputs), and the graph then forgets its columns. `scalar` is False when some gate's op has
    no scalar kernel (its forward and locals are None here)."""

    __slots__ = ("gates", "constant", "constant_gates", "kinks", "constants", "variables", "position",
                 "complete", "scalar")

    STRIDE = 6

    def __init__(self) -> None:
        self.gates: list = []
        self.constant: set[int] = set()
        self.constant_gates: list[int] = []
        self.kinks: list[tuple] = []
        self.constants: list[tuple[int, float]] = []
        self.variables: dict[str, Node] = {}
        self.position: dict[str, int] = {}
        self.complete = True
        self.scalar = True


class Graph:
    """Nodes in topological order (every input before its gate) and the output node.

    Only what the output depends on is kept. A graph can be evaluated many times with new values.
    """

    def __init__(self, created: list[Node], output: Node, source: Source,
                 notes: list[Diagnostic] | None = None, *, columns: Columns | None = None) -> None:
        self.source = source
        self.output = output
        # `columns` (from the parser, each node's id already its index in `created`) is kept when
        # every node is reachable: then the nodes are `created` as they are, with their ids
        self.columns = columns if columns is not None and _all_reachable(created, output, columns) else None
        if self.columns is not None:
            self.nodes = list(created)
            self.variables: dict[str, Node] = dict(columns.variables)
        else:
            self.nodes = reachable_in_order(created, output)
            for i, node in enumerate(self.nodes):
                node.id = i
            # Free variables, in first-use order; named constants count once a value is given.
            self.variables = {n.name: n for n in self.nodes if n.kind == "var" and n.name is not None}
        self.notes = notes or []  # remarks from parsing, such as unused statements
        # {name: shape} a diff(…) was built for (gradcli.language.parser.parse's `shapes`): other shapes
        # would need the gates it left out, so they are refused
        self.assumes: dict[str, tuple] = {}

    @property
    def required(self) -> list[str]:
        """Names that need a value (variables other than the named constants)."""
        return [name for name, n in self.variables.items() if n.default is None]

    def evaluate(self, values: Mapping[str, object] | None = None, *, trace: bool | None = None,
                 max_memory: int | None = None) -> Result:
        """Forward and backward pass. trace=None (default): the fast pass, the per-edge records made
        when first read (Result.trace), without running again where the run could keep its state
        (gradcli.evaluation.engine.run says when); trace=True: records made at once; trace=False:
        none. The values and diagnostics are the same for all three. With max_memory (bytes), a run
        estimated to need more raises ResourceError before any work (gradcli.evaluation.shapes).

        A graph of scalars runs on Python floats (gradcli.evaluation.scalar_engine, from a plan made at the
        first call and kept); arrays, and anything unusual that path declines, run in NumPy
        (gradcli.evaluation.evaluator.evaluate)."""
        if self.assumes:
            self._check_assumed(values or {})
        return _hooks["evaluate"](self, values, trace=trace, max_memory=max_memory)

    def _check_assumed(self, values: Mapping[str, object]) -> None:
        import numpy as np

        from ..base.errors import ShapeError

        for name, shape in self.assumes.items():
            if name in values:
                try:
                    got = np.shape(values[name])
                except ValueError:  # a ragged list: the engine says so
                    continue
                if got != shape:
                    raise ShapeError(
                        f"the program's diff(…) was built for {name} of shape {shape}, and the value "
                        f"given has shape {got}", span=self.variables[name].span,
                        hint="parse it again for these values: gradcli.parse(text, shapes=…) "
                             "(or without shapes, for any)")

    def to_source(self) -> str:
        """Source text that parses back to this graph (see gradcli.language.printer)."""
        return _hooks["to_source"](self)

    def __len__(self) -> int:
        return len(self.nodes)


def _all_reachable(created: list[Node], output: Node, columns: Columns) -> bool:
    """Whether every node created is one the output depends on: when every node but the output
    is some gate's input (a gate is created after its inputs, so following the gates that use a
    node ends at one that none uses: the output)."""
    n = len(created)
    gates = columns.gates
    if not columns.complete or len(gates) // 6 + len(columns.variables) + len(columns.constants) != n \
            or not n or created[-1] is not output or output.id != n - 1:
        return False
    used = set(gates[2::6])
    used.update(gates[3::6])
    used.discard(-1)
    return len(used) == n - 1 and n - 1 not in used


def reachable_in_order(created: list[Node], *outputs: Node) -> list[Node]:
    """The nodes the outputs depend on, in creation order.

    The builder creates every input before its gate, so creation order is already topological;
    reachability is found with an explicit stack (graphs 100,000 deep are normal input).
    """
    seen = set(outputs)  # nodes hash by identity
    stack = list(seen)
    while stack:
        for child in stack.pop().inputs:
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return [n for n in created if n in seen]


def depends_on(graph: Graph, names) -> list[bool]:
    """Per node (by id), whether it depends on one of the variables `names` (a container of
    names): those variables, and every gate fed by one. One pass in topological order."""
    depends = [False] * len(graph.nodes)
    for node in graph.nodes:
        if node.kind == "var":
            depends[node.id] = node.name in names
        elif node.kind == "gate":
            depends[node.id] = any(depends[i.id] for i in node.inputs)
    return depends
