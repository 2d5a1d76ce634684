"""gradcli: see every number of the chain rule, from the shell or from Python.

    >>> import gradcli
    >>> gradcli.evaluate("(x + y) * z", x=-2, y=5, z=-4).gradients
    {'x': -4.0, 'y': -4.0, 'z': 3.0}
"""

from __future__ import annotations

import gc as _gc
from typing import Mapping, Sequence

# Importing gradcli (NumPy, the op registry) creates tens of thousands of objects, none of them
# garbage: the cyclic collector's passes over them are wasted start-up time, so it is paused.
_collecting = _gc.isenabled()
_gc.disable()
try:
    from .base.errors import (
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
    from .core import graph as _graph
    from .core import trace as _trace
    from .evaluation.evaluator import evaluate as _evaluate_graph
    from .core.graph import Graph, Node
    from .language.parser import parse
    from .core.trace import Diagnostic, Edge, NodeTrace, Result
finally:
    if _collecting:
        # The objects made while paused go straight to the oldest generation (freeze, then unfreeze:
        # no pass over them), else the first allocation after enable() scans them all as young
        # (~3% of `import numpy`'s time); they stay collectable, nothing stays frozen.
        _gc.freeze()
        _gc.unfreeze()
        _gc.enable()


def _to_source(graph: Graph) -> str:
    from .language.printer import to_source  # (loaded when first asked: a run that prints no source never is)

    return to_source(graph)


# The graph imports neither its evaluator nor its printer (they import it): connected here.
_graph.connect(evaluate=_evaluate_graph, to_source=_to_source)


def _view(kind: str, result) -> str | None:
    from .render.html import display  # (loaded when a notebook first shows a result)

    return display(kind, result)


# The results (core/trace.py, evaluation/*) show themselves in Jupyter through the renderers above
# them: connected here.
_trace.connect_views(display=_view)

__version__ = "0.1.0"

__all__ = [
    "evaluate", "evaluate_outputs", "diff", "hessian", "Hessian", "hvp", "HVP", "jvp", "JVP", "jacobian", "Jacobian",
    "parse", "Graph", "Node", "Result", "NodeTrace", "Edge", "Diagnostic",
    "GradcliError", "GradcliSyntaxError", "UnknownFunctionError", "MissingValueError",
    "ValueFormatError", "ShapeError", "DomainError", "ResourceError", "DefinitionError", "__version__",
]


def __getattr__(name: str):
    # the Hessian result's module is read when first asked for, not at every start-up
    if name in ("Hessian", "HVP"):
        from .evaluation import hessian

        return getattr(hessian, name)
    if name == "JVP":
        from .evaluation import forward

        return forward.JVP
    if name == "Jacobian":
        from .evaluation import jacobian as _jacobian

        return _jacobian.Jacobian
    raise AttributeError(f"module 'gradcli' has no attribute {name!r}")


def evaluate(source: str, values: Mapping[str, object] | None = None, /, **more_values: object) -> Result:
    """Parse `source`, run the forward and backward pass, and return the Result.

    Values come as a mapping, as keywords, or both (keywords win); each is a number,
    a nested list or a NumPy array, or an array of another array-API library (Dask, CuPy,
    array_api_strict): the run is then that library's, and with Dask the value and the gradients
    are lazy arrays, computed chunk by chunk when asked (`dask.compute(r.value, r.gradients)`).

    The run takes the fast path (Graph.evaluate's trace=None): `.value` and `.gradients` cost no
    per-edge records; those (`.trace`, `.edges`, ...) are made when first read.
    """
    from .inputs.values import shapes_of

    merged = dict(values or {})
    merged.update(more_values)
    return parse(source, shapes=shapes_of(merged)).evaluate(merged)


def evaluate_outputs(source: str, outputs: Sequence[str] | None, values: Mapping[str, object] | None = None, /,
                     **more_values: object) -> dict[str, Result]:
    """Evaluate several outputs of one program: for each statement named in `outputs`, its value
    and the gradient of that statement's value, each output its own f.

    `outputs` is a list of statement names (each once; the statement that last assigns a name is
    the output, so an intermediate statement may be one), or None for the last statement alone.
    Values come as a mapping, as keywords, or both (keywords win), as for `evaluate`.

    Returns {name: Result} in the order asked for (for None, keyed by the last statement's name,
    or "f" when it is a bare expression). Each Result is what `evaluate` gives for that output:
    an output whose value is an array has the gradients of sum(output) (`gradient_of` says
    "sum(f)"; `gradcli.jacobian` gives each element's gradient). Each output runs on the values
    its own graph uses: a value that no output uses is one "input" diagnostic (in every Result's
    `.diagnostics`), a value some output uses is none.

    Raises GradcliError for a name no statement assigns (the hint lists the statements or
    guesses the one meant), for an empty `outputs`, TypeError for a name that is not a str, and
    what `evaluate` raises. Equivalent to `gradcli.parse(source, output=name).evaluate(values)`
    per name, the values filtered per output.

    With q = x·y, f = q + z, g = exp(q) at x=1, y=2, z=3: ∂f/∂x = y = 2, ∂f/∂y = x = 1,
    ∂f/∂z = 1; g = e² and ∂g/∂x = e^q·y = 2e², ∂g/∂y = e^q·x = e².

        >>> r = gradcli.evaluate_outputs("q = x*y; f = q + z; g = exp(q)", ["f", "g"], x=1, y=2, z=3)
        >>> r["f"].value, r["f"].gradients
        (5.0, {'x': 2.0, 'y': 1.0, 'z': 1.0})
        >>> {name: round(grad, 6) for name, grad in r["g"].gradients.items()}  # 2e², e²
        {'x': 14.778112, 'y': 7.389056}
    """
    from .evaluation import outputs as several

    merged = dict(values or {})
    merged.update(more_values)
    return several.evaluate(several.graphs(source, outputs, values=merged), merged)


def hessian(source: str, values: Mapping[str, object] | None = None, wrt: Sequence[str] | None = None, /,
            **more_values: object) -> Hessian:
    """The Hessian of the scalar f that `source` computes: every second derivative ∂²f/∂v∂w at
    the given values, with f and the gradient.

    Values come as a mapping, as keywords, or both (keywords win), as for `evaluate`. `wrt` (a
    list of variable names, positional so that no variable's name is taken) chooses and orders
    the rows; by default every variable, in first use order. A variable of shape s contributes
    prod(s) rows and columns, labelled `W[0,0]`, `W[0,1]`, … (C order).

    Returns a `Hessian`: `.f` (float), `.names` (n labels), `.gradient` (shape (n,)), `.matrix`
    (shape (n, n), float64, row i the derivative of gradient[i]), `.symmetric`, `.block(name)`
    (a variable's block in its shapes), `.diagnostics` (kinks, nan/inf).

    Computed by forward-over-reverse on the gradient graph (gradcli.differentiation.derivative), not by finite
    differences. Raises MissingValueError (a variable without a value), ShapeError (f is not a
    scalar: reduce it with sum or mean), GradcliError (no variables; a `wrt` name that is not a
    variable), and the parser's errors.

        >>> h = gradcli.hessian("x**2 * y", x=3, y=2)
        >>> h.names, h.gradient.tolist(), h.matrix.tolist()
        (['x', 'y'], [12.0, 9.0], [[4.0, 6.0], [6.0, 0.0]])
    """
    from .evaluation.hessian import hessian as compute

    merged = dict(values or {})
    merged.update(more_values)
    if isinstance(wrt, str):
        wrt = [wrt]
    return compute(parse(source), merged, None if wrt is None else list(wrt))


def hvp(source: str, values: Mapping[str, object] | None, tangent: Mapping[str, object], /,
        **more_values: object) -> HVP:
    """The Hessian-vector product H·v of the scalar f that `source` computes, for the tangent v,
    with f and the gradient: one forward-over-reverse pass with one tangent, never the n×n matrix.

    Values come as a mapping (or None), as keywords, or both (keywords win), as for `evaluate`.
    `tangent` maps variable names to their directions, each a number, nested list or array of
    its variable's shape; a variable it leaves out has direction 0.

    Returns an `HVP`: `.f` (float), `.variables` ({name: shape}, every variable with a value),
    `.gradients`, `.tangent` and `.hvp` ({name: a float for a scalar, an array of its shape}:
    ∂f/∂name, v, and (H·v) = Σ_w ∂²f/∂name∂w · v_w), `.names` and `.flat(part)` (the element
    labels and one part as a vector, the order of a Hessian's rows), `.diagnostics`.

    Raises what `hessian` raises, GradcliError (a tangent name that is not a variable with a
    value), ShapeError (a tangent not of its variable's shape), ValueFormatError (a tangent that
    is not numbers, or not finite).

        >>> p = gradcli.hvp("x**2 * y", {"x": 3, "y": 2}, {"x": 1})
        >>> p.hvp, p.gradients, p.f
        ({'x': 4.0, 'y': 6.0}, {'x': 12.0, 'y': 9.0}, 18.0)
    """
    from .evaluation.hessian import hvp as compute
    from .inputs.values import shapes_of

    merged = dict(values or {})
    merged.update(more_values)
    return compute(parse(source, shapes=shapes_of(merged)), merged, tangent)


def jvp(source: str, values: Mapping[str, object] | None = None, tangents: Mapping[str, object] | None = None,
        /, **more_values: object) -> JVP:
    """Forward mode: f and its directional derivative ∂f·t (the Jacobian-vector product) at the
    given values, for the tangent t, in one forward pass, whatever the number of variables.

    Values come as a mapping (or None), as keywords, or both (keywords win), as for `evaluate`.
    `tangents` maps variable names to their directions t, each a number, nested list or array of
    its variable's shape; a variable it leaves out has direction 0 (t = {"x": 1} gives ∂f/∂x).

    Returns a `JVP`, which unpacks as `(value, tangent)`: `.value` (f: a float for a scalar f,
    else an array of f's shape), `.tangent` (∂f·t, of f's shape: per element of f, Σ over the
    variables' elements of ∂f/∂v · t_v), `.seeds` ({name: t} for every variable with a value, 0
    where none was given), `.variables` ({name: shape}), `.records` (the forward-mode table: per
    gate its value, local gradients, incoming tangents, products and outgoing tangent,
    `ForwardRecord`s in the order the forward pass visits the gates), `.diagnostics`/`.warnings`
    (kinks with reverse mode's conventions, nan/inf, unused values).

    Each gate's tangent comes from the op registry's local gradients and VJPs
    (gradcli.evaluation.forward); a zero tangent times an infinite local gradient counts 0
    where the direction does not move that input (a structural zero), and is nan otherwise.
    Raises MissingValueError (a variable without a value), GradcliError (a tangent for a name
    that is not a variable with a value), ShapeError (a tangent not of its variable's shape, or
    shapes that do not fit a gate), ValueFormatError (a value or tangent that is not numbers; a
    tangent that is not finite), TypeError (`tangents` is not a mapping), and the parser's errors.

    For f = (x + y)·z at x = -2, y = 5, z = -4 along t = (1, 0, 2): ∂f·t = z·1 + (x + y)·2 = -4 + 6.

        >>> f, df = gradcli.jvp("(x + y) * z", {"x": -2, "y": 5, "z": -4}, {"x": 1, "z": 2})
        >>> f, df
        (-12.0, 2.0)
        >>> gradcli.jvp("x * y", {"x": [1, 2, 3], "y": 2}, {"x": [1, 0, 0], "y": 1}).tangent.tolist()
        [3.0, 2.0, 3.0]
    """
    from .evaluation.forward import jvp as compute
    from .inputs.values import shapes_of

    merged = dict(values or {})
    merged.update(more_values)
    return compute(parse(source, shapes=shapes_of(merged)), merged, tangents or {})


def jacobian(source: str, values: Mapping[str, object] | None = None, /, *,
             outputs: Sequence[str] | str | None = None, wrt: Sequence[str] | str | None = None,
             mode: str = "auto", **more_values: object) -> Jacobian:
    """The Jacobian of the outputs of `source` at the given values: ∂ of every output element with
    respect to every input element, as one (m, n) matrix.

    Values come as a mapping, as keywords, or both (keywords win), as for `evaluate` (a variable
    called outputs, wrt or mode goes in the mapping). `outputs`: the statements whose values are
    the outputs (names, or one name), the rows in that order; by default the last statement,
    named by its target (`g = ...` is "g"), else "f". `wrt`: the variables of the columns, in
    that order; by default every variable with a value that some output uses, in first-use order.

    Rows: m = the outputs' sizes added up, labelled by the output's name for a scalar (`f`) and
    `g[0]`, `A[0,1]` per element of an array output (C order). Columns: n = the variables'
    sizes, labelled `x`, `W[0,1]`. An output that does not depend on a variable has zeros there.

    `mode`: "forward" (one JVP pass with n tangent columns), "reverse" (one VJP sweep with m
    cotangent rows) or "auto" (forward when n < m, else reverse); both give the same numbers
    to rounding, from the registry's derivative rules, not finite differences.

    Returns a `Jacobian`: `.matrix` (shape (m, n), float64), `.rows`, `.columns`, `.mode`,
    `.reason`, `.outputs` ({name: value}), `.variables` ({name: shape}), `.block(output,
    variable)` (shape output.shape + variable.shape), `.diagnostics` / `.warnings`.

    Raises MissingValueError (a variable without a value), GradcliError (no variables; an
    `outputs` name no statement assigns; a `wrt` name that is not a variable with a value),
    ValueError (a mode other than auto, forward, reverse), ResourceError (more memory than the
    machine has: an m × n matrix of float64 takes 8·m·n bytes), and the parser's and
    evaluation's errors (syntax, shapes, values).

    By hand, for a = x·y and b = x + y at x = 2, y = 3: ∂a/∂x = y = 3, ∂a/∂y = x = 2,
    ∂b/∂x = ∂b/∂y = 1:

        >>> j = gradcli.jacobian("a = x*y; b = x + y", x=2, y=3, outputs=["a", "b"])
        >>> j.rows, j.columns, j.matrix.tolist(), j.mode
        (['a', 'b'], ['x', 'y'], [[3.0, 2.0], [1.0, 1.0]], 'reverse')
    """
    from .evaluation import outputs as several
    from .evaluation.jacobian import jacobian as compute

    merged = dict(values or {})
    merged.update(more_values)
    graphs = several.graphs(source, outputs, values=merged)
    try:
        return compute(graphs, merged, [wrt] if isinstance(wrt, str) else wrt, mode=mode)
    except MemoryError:  # (no limit is set here: the machine's is the one met)
        raise ResourceError("the Jacobian needs more memory than this machine can give",
                            hint="differentiate fewer outputs (outputs=...) or with respect to fewer "
                                 "variables (wrt=...)") from None


def diff(source: str, wrt: str, order: int = 1) -> str:
    """The order-th derivative of the scalar expression (or program) `source` with respect to its
    variable `wrt`, as a formula in gradcli's own syntax.

    The formula is a program: each subexpression it uses more than once named first
    (`u = ...; `), then the derivative. `gradcli.parse` reads it back, and it evaluates to the
    derivative's numbers (to rounding). Variables are taken as scalars; the derivative is built
    from each op's rule in the registry (gradcli.differentiation.derivative), then written as a person would
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
    from .evaluation.formulas import formula_text

    return formula_text(source, wrt, order)
