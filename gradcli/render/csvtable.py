"""`--format csv`: the per-edge table of the backward pass, with a header, full precision and
whole labels (a long gate's label is as long as its source text).

The columns keep their meaning from release to release, new ones coming last: `op` is the
registry's stable op name (`div`), `value` the gate's output, `input_value` the value the input
carries, `symbol` the gate's name in the other views (`1/x`)."""

from __future__ import annotations

import csv

from ..core.trace import Result
from . import gates
from .numbers import exact

HEADER = ["gate", "op", "role", "input", "value", "local", "upstream", "result", "input_value", "symbol"]


def render(result: Result, out) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows(result))


def rows(result: Result):
    """The table's rows under its header, one per edge, output first (as lists of str)."""
    trace = result.trace
    for edge in result.iter_edges():
        gate = edge.gate
        view = gate.view
        yield [gates.whole_label(gate), gate.op_name, gates.role(edge, view), gates.whole_label(edge.input),
               exact(trace[gate.id].value),
               exact(edge.local), exact(edge.upstream), exact(edge.result),
               exact(trace[edge.input.id].value), view.symbol]
