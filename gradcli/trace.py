"""What a forward and backward pass found: the data every renderer reads, nothing computed here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

import numpy as np

if TYPE_CHECKING:
    from .graph import Graph, Node

Number = Union[float, np.ndarray]


@dataclass
class Edge:
    """One step of the chain rule: gradient flowing from `gate` back to its input number `index`."""

    gate: Node
    index: int
    local: Number  # ∂gate/∂input, from the forward values
    upstream: Number  # ∂f/∂gate
    result: Number  # local × upstream, summed back to the input's shape

    @property
    def input(self) -> Node:
        return self.gate.inputs[self.index]


@dataclass
class NodeTrace:
    node: Node
    value: Number
    gradient: Number | None  # ∂f/∂node; None where no gradient is needed (constants)
    edges: list[Edge] = field(default_factory=list)  # to this gate's inputs
    arrivals: list[Edge] = field(default_factory=list)  # from the gates this node feeds

    @property
    def is_fork(self) -> bool:
        """Several gradients arrived and were added (the node feeds several gates)."""
        return len(self.arrivals) > 1


@dataclass
class Diagnostic:
    """A warning about the run. `kind` is "kink", "domain" (nan/inf) or "input"."""

    kind: str
    message: str
    node: Node | None = None


@dataclass
class Result:
    graph: Graph
    value: Number
    gradients: dict[str, Number]
    trace: list[NodeTrace] | None  # in topological order; None when tracing was off
    diagnostics: list[Diagnostic]

    @property
    def gradient_of(self) -> str:
        """"f", or "sum(f)" when the output is an array and its elements' gradients were added."""
        return "f" if np.ndim(self.value) == 0 else "sum(f)"

    @property
    def warnings(self) -> list[str]:
        return [d.message for d in self.diagnostics]

    @property
    def edges(self) -> list[Edge]:
        """Every chain-rule step in the order the backward pass took them, output first."""
        if self.trace is None:
            return []
        return [edge for record in reversed(self.trace) for edge in record.edges]

    def __repr__(self) -> str:
        return f"Result(value={self.value!r}, gradients={self.gradients!r})"
