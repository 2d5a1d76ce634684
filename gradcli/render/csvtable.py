"""`--format csv`: the per-edge table of the backward pass, with a header, full precision."""

from __future__ import annotations

import csv

from ..trace import Result
from .numbers import exact

HEADER = ["gate", "op", "input", "value", "local", "upstream", "result"]


def render(result: Result, out) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for edge in result.edges:
        gate = edge.gate
        writer.writerow([gate.label, gate.op_name, edge.input.label, exact(result.trace[gate.id].value),
                         exact(edge.local), exact(edge.upstream), exact(edge.result)])
