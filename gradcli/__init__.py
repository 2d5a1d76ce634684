"""gradcli: see every number of the chain rule, from the shell or from Python.

    >>> import gradcli
    >>> gradcli.evaluate("(x + y) * z", x=-2, y=5, z=-4).gradients
    {'x': -4.0, 'y': -4.0, 'z': 3.0}
"""

from __future__ import annotations

import gc as _gc
from typing import Mapping

# Importing gradcli (NumPy, the op registry) creates tens of thousands of objects, none of them
# garbage: the cyclic collector's passes over them are wasted start-up time, so it is paused.
_collecting = _gc.isenabled()
_gc.disable()
try:
    from .errors import (
        DefinitionError,
        DomainError,
        GradcliError,
        GradcliSyntaxError,
        MissingValueError,
        ResourceError,
        ShapeError,
        UnknownFunctionError,
        ValueFormatError,
    )
    from .graph import Graph, Node
    from .parser import parse
    from .trace import Diagnostic, Edge, NodeTrace, Result
finally:
    if _collecting:
        _gc.enable()

__version__ = "0.1.0"

__all__ = [
    "evaluate", "parse", "Graph", "Node", "Result", "NodeTrace", "Edge", "Diagnostic",
    "GradcliError", "GradcliSyntaxError", "UnknownFunctionError", "MissingValueError",
    "ValueFormatError", "ShapeError", "DomainError", "ResourceError", "DefinitionError", "__version__",
]


def evaluate(source: str, values: Mapping[str, object] | None = None, /, **more_values: object) -> Result:
    """Parse `source`, run the forward and backward pass, and return the Result.

    Values come as a mapping, as keywords, or both (keywords win); each is a number,
    a nested list or a NumPy array.
    """
    from .values import shapes_of

    merged = dict(values or {})
    merged.update(more_values)
    return parse(source, shapes=shapes_of(merged)).evaluate(merged)
