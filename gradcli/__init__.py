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
    "evaluate", "parse", "diff", "Graph", "Node", "Result", "NodeTrace", "Edge", "Diagnostic",
    "GradcliError", "GradcliSyntaxError", "UnknownFunctionError", "MissingValueError",
    "ValueFormatError", "ShapeError", "DomainError", "ResourceError", "DefinitionError", "__version__",
]


def evaluate(source: str, values: Mapping[str, object] | None = None, /, **more_values: object) -> Result:
    """Parse `source`, run the forward and backward pass, and return the Result.

    Values come as a mapping, as keywords, or both (keywords win); each is a number,
    a nested list or a NumPy array.
    """
    merged = dict(values or {})
    merged.update(more_values)
    return parse(source).evaluate(merged)


def diff(source: str, wrt: str, order: int = 1) -> str:
    """The order-th derivative of the scalar expression (or program) `source` with respect to its
    variable `wrt`, as a formula in gradcli's own syntax.

    The formula is a program: each subexpression it uses more than once named first
    (`u = ...; `), then the derivative. `gradcli.parse` reads it back, and it evaluates to the
    derivative's numbers (to rounding). Variables are taken as scalars; the derivative is built
    from each op's rule in the registry (gradcli.derivative), then written as a person would
    (constants folded, like factors and terms collected).

    Raises GradcliSyntaxError (line, column, caret) for text that is not gradcli,
    UnknownFunctionError for an unknown function, GradcliError for a `wrt` that is not a variable
    of `source`, ValueError for an order outside 1..20, TypeError for a `wrt` that is not a str.

        >>> import gradcli
        >>> gradcli.diff("x**3 * y", "x")
        '3*x**2*y'
        >>> gradcli.diff("x**3 * y", "x", 2)
        '6*x*y'
        >>> gradcli.diff("1/(1 + exp(-(w*x + b)))", "w")
        'u = exp(-(w*x + b)); x*u/(1 + u)**2'
    """
    from .formulas import formula_text

    return formula_text(source, wrt, order)
