"""`--format csv`: the per-edge table of the backward pass, with a header, full precision."""

from __future__ import annotations

import csv

from ..trace import Result
from . import gates
from .numbers import exact

HEADER = ["gate", "op", "role", "input", "value", "local", "upstream", "result"]


def render(result: Result, out) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for edge in result.edges:
        gate = edge.gate
        writer.writerow([gate.label, gate.op_name, gates.role(edge), edge.input.label,
                         exact(result.trace[gate.id].value),
                         exact(edge.local), exact(edge.upstream), exact(edge.result)])
