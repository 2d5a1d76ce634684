"""What a forward and backward pass found: the data every renderer reads, nothing computed here.

Plain classes with `__slots__` rather than dataclasses: a 100,000-gate trace holds hundreds of
thousands of these records (slots make each smaller and quicker to make), and creating dataclasses
costs start-up time on every run of the command line.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING, Callable, Union

import numpy as np

if TYPE_CHECKING:
    from .graph import Graph, Node

Number = Union[float, np.ndarray]

# Jupyter's views of the results (IPython's rich display protocol: _repr_html_ and the like) are
# renderers (gradcli.render.html), a layer above this one and above evaluation: gradcli/__init__.py
# connects them here, as it connects Graph.evaluate (core/graph.py).
_views: dict[str, Callable] = {}


def connect_views(*, display: Callable[[str, object], str | None]) -> None:
    """Called once, by gradcli/__init__.py: display(kind, result) gives the view's text or None."""
    _views.update(display=display)


def view(kind: str, result) -> str | None:
    """The `kind` view (html, markdown, latex, svg) of `result`, or None (not connected, or none)."""
    display = _views.get("display")
    return None if display is None else display(kind, result)


class DisplayMixin:
    """IPython's rich display protocol for a result class: each method gives text or None (then
    Jupyter shows the next kind it can, at last the repr)."""

    __slots__ = ()

    def _repr_html_(self) -> str | None:
        return view("html", self)

    def _repr_markdown_(self) -> str | None:
        return view("markdown", self)

    def _repr_latex_(self) -> str | None:
        return view("latex", self)

    def _repr_svg_(self) -> str | None:
        return view("svg", self)


class Edge:
    """One step of the chain rule: gradient flowing from `gate` back to its input number `index`."""

    __slots__ = ("gate", "index", "local", "upstream", "result")

    def __init__(self, gate: Node, index: int, local: Number, upstream: Number, result: Number) -> None:
        self.gate = gate
        self.index = index
        self.local = local  # ∂gate/∂input, from the forward values
        self.upstream = upstream  # ∂f/∂gate
        self.result = result  # local × upstream, summed back to the input's shape

    @property
    def input(self) -> Node:
        return self.gate.inputs[self.index]

    def __repr__(self) -> str:
        return (f"Edge(gate={self.gate!r}, index={self.index!r}, local={self.local!r}, "
                f"upstream={self.upstream!r}, result={self.result!r})")


class NodeTrace:
    __slots__ = ("node", "value", "gradient", "edges", "arrivals")

    def __init__(self, node: Node, value: Number, gradient: Number | None,
                 edges: list[Edge] | None = None, arrivals: list[Edge] | None = None) -> None:
        self.node = node
        self.value = value
        self.gradient = gradient  # ∂f/∂node; None where no gradient is needed (constants)
        self.edges = [] if edges is None else edges  # to this gate's inputs
        self.arrivals = [] if arrivals is None else arrivals  # from the gates this node feeds

    @property
    def is_fork(self) -> bool:
        """Several gradients arrived and were added (the node feeds several gates)."""
        return len(self.arrivals) > 1

    def __repr__(self) -> str:
        return f"NodeTrace(node={self.node!r}, value={self.value!r}, gradient={self.gradient!r})"


class Diagnostic:
    """A warning about the run. `kind` is "kink", "domain" (nan/inf) or "input"."""

    __slots__ = ("kind", "message", "node")

    def __init__(self, kind: str, message: str, node: Node | None = None) -> None:
        self.kind = kind
        self.message = message
        self.node = node

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Diagnostic):
            return NotImplemented
        return (self.kind, self.message, self.node) == (other.kind, other.message, other.node)

    __hash__ = None  # mutable, like the dataclass it replaces

    def __repr__(self) -> str:
        return f"Diagnostic(kind={self.kind!r}, message={self.message!r}, node={self.node!r})"


class RecordColumns:
    """A scalar run's records as flat lists, with no object per edge (the scalar engine fills them
    in one loop; a 10,000-term sum has ~110,000 edges), which the JSON writer reads as they are.
    They hold the numbers of the run's NodeTrace and Edge records (the scalar engine makes those
    directly, which is faster than through the columns). (Not core.graph's Columns, which the
    parser fills for the scalar engine's plan.)

    Per node (by id, topological order): `values`, `gradients` (None where none is needed). Per
    edge, gates in topological order and each gate's edges in input order (the backward pass takes
    the gates in reverse): `gates`, `indexes`, `inputs` (the input's node id), `locals`, `results`
    (local × the gate's gradient, the upstream)."""

    __slots__ = ("nodes", "values", "gradients", "gates", "indexes", "inputs", "locals", "results")

    def __init__(self, nodes: list, values: list, gradients: list, gates: list, indexes: list,
                 inputs: list, locals_: list, results: list) -> None:
        self.nodes = nodes
        self.values = values
        self.gradients = gradients
        self.gates = gates
        self.indexes = indexes
        self.inputs = inputs
        self.locals = locals_
        self.results = results


class Result(DisplayMixin):
    """What a forward and backward pass gives: `value`, `gradients`, `diagnostics`, and `trace`,
    the per-node records (NodeTrace, in topological order; None when tracing was off).

    The records may be made when first read (`records`: a function of no arguments that makes
    them, from what the run kept; see Graph.evaluate's trace=None): reading `trace`, `edges`,
    `iter_edges()` or `edge_count` makes them once, and they are kept. A scalar run gives them
    as `columns` (RecordColumns), which renderers may read instead (None otherwise)."""

    __slots__ = ("graph", "value", "gradients", "_trace", "_records", "diagnostics", "_columns")

    def __init__(self, graph: Graph, value: Number, gradients: dict[str, Number],
                 trace: list[NodeTrace] | None, diagnostics: list[Diagnostic], *,
                 records: Callable[[], list[NodeTrace]] | None = None,
                 columns: Callable[[], RecordColumns] | None = None) -> None:
        self.graph = graph
        self.value = value
        self.gradients = gradients
        self._trace = trace
        self._records = records if trace is None else None
        self._columns = columns if trace is None else None  # made when first read, like the records
        self.diagnostics = diagnostics

    @property
    def columns(self) -> RecordColumns | None:
        """The records as columns (a scalar run traced or not, trace=True or None), else None."""
        make = self._columns
        if make is not None and not isinstance(make, RecordColumns):
            self._columns = make = make()
        return make

    @property
    def trace(self) -> list[NodeTrace] | None:
        """The records in topological order; None when tracing was off."""
        make = self._records
        if make is not None:
            # hundreds of thousands of records, none of them garbage: without a pause the cyclic
            # collector would walk the graph and the records again and again while they are made
            collecting = gc.isenabled()
            gc.disable()
            try:
                self._trace = make()
            finally:
                if collecting:
                    gc.enable()
            self._records = None  # (after: a failed attempt may be read again)
        return self._trace

    @trace.setter
    def trace(self, records: list[NodeTrace] | None) -> None:
        self._trace = records
        self._records = None
        self._columns = None  # (they would describe other records)

    @property
    def gradient_of(self) -> str:
        """"f", or "sum(f)" when the output is an array and its elements' gradients were added."""
        return "f" if np.ndim(self.value) == 0 else "sum(f)"

    @property
    def warnings(self) -> list[str]:
        return [d.message for d in self.diagnostics]

    @property
    def edge_count(self) -> int:
        """How many chain-rule steps there are (the rows of the table), without listing them."""
        if self._trace is None and isinstance(self._columns, RecordColumns):  # (made: not the records)
            return len(self._columns.gates)
        return 0 if self.trace is None else sum(len(record.edges) for record in self.trace)

    def iter_edges(self):
        """The chain-rule steps in the order the backward pass took them, output first, one at a
        time (a renderer streams them without a list of them all)."""
        if self.trace is None:
            return
        for record in reversed(self.trace):
            yield from record.edges

    @property
    def edges(self) -> list[Edge]:
        """Every chain-rule step in the order the backward pass took them, output first."""
        return list(self.iter_edges())

    def __repr__(self) -> str:
        return f"Result(value={self.value!r}, gradients={self.gradients!r})"
