"""`--format csv`: the per-edge table of the backward pass, with a header, full precision and
whole labels (a long gate's label is as long as its source text)."""

from __future__ import annotations

import csv

from ..trace import Result
from . import gates
from .numbers import exact

HEADER = ["gate", "op", "role", "input", "value", "local", "upstream", "result"]


def render(result: Result, out) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for edge in result.iter_edges():
        gate = edge.gate
        writer.writerow([gates.whole_label(gate), gate.op_name, gates.role(edge), gates.whole_label(edge.input),
                         exact(result.trace[gate.id].value),
                         exact(edge.local), exact(edge.upstream), exact(edge.result)])
