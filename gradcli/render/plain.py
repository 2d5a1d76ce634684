"""`--format plain`: `name value` lines, f first, for awk and `read` (full precision)."""

from __future__ import annotations

from ..core.trace import Result
from .numbers import exact


def render(result: Result, out, *, name: str = "f") -> None:
    """`f VALUE`, then `NAME GRADIENT` per variable; `name` replaces f (eval --outputs)."""
    lines = [f"{name} {exact(result.value)}"]
    lines += [f"{name} {exact(grad)}" for name, grad in result.gradients.items()]
    out.write("\n".join(lines) + "\n")
