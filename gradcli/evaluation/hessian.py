"""The Hessian of a scalar f, every second derivative ∂²f/∂vᵢ∂vⱼ, and Hessian-vector products
H·v, by forward-over-reverse.

The gradient of f is built as a graph (`gradcli.differentiation.derivative.gradient_graph`): ordinary gates of
registry ops. One forward pass over that graph carries, beside each node's value, its tangent:
the node's derivative with respect to every variable element at once, an array of the node's
shape plus a last axis of n columns (n: the number of variable elements), seeded with the
identity at the variables. A gradient node's tangent is then its rows of the Hessian, so one pass
gives the whole n×n matrix, where HIPS autograd's `hessian` runs n reverse passes over its
gradient. No finite differences anywhere.

Each gate's tangent is forward mode's (`gradcli.evaluation.forward.gate_tangent`, the one place
that states it): from the registry's local gradients for an elementwise gate (Σₖ localₖ ·
tangentₖ), the op itself for an input it is linear in (a sum, @, a transpose), the VJP's
Jacobian otherwise; a zero tangent times an infinite local gradient counts 0 where the zero is
structural (the node's element does not depend, through the gradient graph's edges, on the
variable element of that column: the identity's other columns), and is local·0 = nan where it is
a numerical zero (forward mode's rule, `gradcli.evaluation.forward.Reach`).

For a graph of scalars, the same numbers (to rounding) come without building the gradient's graph
(which costs more than the pass itself), on Python floats, from each rule's template
differentiated once per op into straight-line code (gradcli.evaluation.edge_pushing):
- `_fast_hessian`: edge pushing, one forward and one reverse sweep; each nonlinear gate adds its
  adjoint times its second derivatives times its inputs' (sparse) gradients to the matrix;
- `_fast_hvp`: a Hessian-vector product H·v, forward over reverse with one tangent (one float
  beside each value and each adjoint), from flat columns cached on the graph (`_HvpPlan`).
Where the first-order pass would be an ordinary run of the scalar engine (Python float values),
these passes also give f and the gradient, the engine's sums in its order, and it need not run.
They decline (`_Declined`) at anything unusual: a rule's step at its kink, a floating-point
error, a nan or inf, a gate without a float kernel. The Hessian then goes to `_ScalarPass` (the
reverse sweep on dual numbers with sparse tangents, which reports second-order kinks), and from
there, like H·v, to the gradient-graph pass above, which reports where a nan or inf comes from.

A Hessian-vector product (`hvp`) on arrays is that pass with one tangent column seeded with v:
a gate linear in an input (a sum, @, a transpose) carries the tangent through the op itself.

Kinks and domains carry over: the first-order pass (the engine) reports f's own gates; a gate of
the gradient graph at its kink (relu's slope `step(x)` at x = 0) uses the registry's convention
for it and is reported; a nan or inf in the matrix is reported with the gate it first came from.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import numpy as np

from ..base.errors import GradcliError, ResourceError, ShapeError, did_you_mean
from ..core.graph import reachable_in_order
from ..core.trace import Diagnostic, DisplayMixin
from .edge_pushing import _add_scaled, _Declined, _fast_hessian, _fast_hvp
from .engine import _at, _describe
from .forward import Reach, bind_tangents, gate_tangent, identity_seeds

if TYPE_CHECKING:
    from ..core.graph import Graph, Node

# How close H[i, j] and H[j, i] must be for `Hessian.symmetric`: relative to the largest |entry|
# (rounding in the two orders of differentiation differs by a few ulps of the terms summed).
SYMMETRY_RTOL = 1e-9


def element_labels(name: str, shape: tuple[int, ...]) -> list[str]:
    """A variable's labels, one per element in C order: `x` for a scalar, `W[0,1]` for an array."""
    if shape == ():
        return [name]
    return [f"{name}[{','.join(map(str, index))}]" for index in np.ndindex(*shape)]


class Hessian(DisplayMixin):
    """The second derivatives of a scalar f at one point.

    - `f`: the value of f (a float).
    - `names`: the n labels of the rows and columns, variable by variable in the order asked for
      (by default first use): `x` for a scalar variable, one per element in C order for an array
      (`W[0,0]`, `W[0,1]`, …).
    - `gradient`: ∂f/∂v for each label, shape (n,).
    - `matrix`: ∂²f/∂vᵢ∂vⱼ, shape (n, n), float64; row i is the derivative of `gradient[i]`.
    - `variables`: {name: shape} of the variables, in `names` order.
    - `diagnostics`: the warnings (kinks, nan/inf) of the first- and second-order passes.
    """

    __slots__ = ("f", "gradient", "names", "matrix", "variables", "diagnostics", "graph")

    def __init__(self, f: float, gradient: np.ndarray, names: list[str], matrix: np.ndarray,
                 variables: dict[str, tuple[int, ...]], diagnostics: list[Diagnostic] | None = None,
                 graph: Graph | None = None) -> None:
        self.f = f
        self.gradient = gradient
        self.names = names
        self.matrix = matrix
        self.variables = variables
        self.diagnostics = diagnostics or []
        self.graph = graph

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape

    @property
    def asymmetry(self) -> float:
        """max |H[i,j] − H[j,i]| over the finite pairs (0 for a 1×1 matrix); nan if none is finite."""
        m = self.matrix
        both = np.isfinite(m) & np.isfinite(m.T)
        if not both.any():
            return math.nan if m.size else 0.0
        with np.errstate(all="ignore"):
            return float(np.max(np.abs(np.where(both, m - m.T, 0.0))))

    @property
    def symmetric(self) -> bool:
        """Whether H = Hᵀ to rounding (relative SYMMETRY_RTOL of the largest |entry|), non-finite
        entries included (nan pairs with nan, inf with the same inf). Schwarz's theorem says it is
        wherever f is twice continuously differentiable; at a kink it need not be."""
        m = self.matrix
        same_kind = (np.isnan(m) == np.isnan(m.T)) & (np.isinf(m) == np.isinf(m.T))
        infinite = np.isinf(m)
        if not same_kind.all() or not np.array_equal(m[infinite], m.T[infinite]):
            return False
        finite = np.isfinite(m)
        scale = float(np.max(np.abs(m[finite]))) if finite.any() else 0.0
        return self.asymmetry <= SYMMETRY_RTOL * scale

    @property
    def warnings(self) -> list[str]:
        return [d.message for d in self.diagnostics]

    def index(self, label: str) -> int:
        """The row (and column) of a label such as `x` or `W[0,1]`."""
        try:
            return self.names.index(label)
        except ValueError:
            hint = did_you_mean(label, self.names) or f"the labels are: {', '.join(self.names[:10])}"
            raise GradcliError(f"{label!r} is not a row of this Hessian", hint=hint) from None

    def block(self, a: str, b: str | None = None) -> np.ndarray:
        """∂²f/∂a∂b for variables a and b (b = a by default), shape a.shape + b.shape: for a matrix
        W, `block("W")[i, j, k, l]` is ∂²f/∂W[i,j]∂W[k,l]."""
        b = a if b is None else b
        spans = self._spans()
        for name in (a, b):
            if name not in spans:
                hint = did_you_mean(name, spans) or f"the variables are: {', '.join(spans)}"
                raise GradcliError(f"{name!r} is not a variable of this Hessian", hint=hint)
        (ra, sa), (rb, sb) = spans[a], spans[b]
        return self.matrix[ra, rb].reshape(sa + sb)

    def _spans(self) -> dict[str, tuple[slice, tuple[int, ...]]]:
        spans, start = {}, 0
        for name, shape in self.variables.items():
            size = math.prod(shape)
            spans[name] = (slice(start, start + size), shape)
            start += size
        return spans

    def __repr__(self) -> str:
        with np.printoptions(precision=6, threshold=64, edgeitems=3):
            matrix = repr(self.matrix)
        return f"Hessian(f={self.f!r}, names={self.names!r},\n        matrix={matrix})"


def hessian(graph: Graph, values: Mapping[str, object] | None = None, wrt: Sequence[str] | None = None,
            *, max_memory: int | None = None, method: str = "auto") -> Hessian:
    """The Hessian of the scalar output of `graph` at `values`, with respect to the variables
    `wrt` (by default every variable with a value, in first-use order).

    `method`: "auto" runs a graph of scalars on Python floats without building the gradient's
    graph (`_fast_hessian`, else `_ScalarPass`) where it can, else the gradient graph's pass
    (`_TangentPass`); "graph" always the latter (the tests hold them together).

    Raises MissingValueError (a variable without a value), ShapeError (f is not a scalar),
    GradcliError (no variables, or a `wrt` name that is not one), ResourceError (more memory
    than `max_memory` bytes)."""
    if method == "auto" and wrt is None and max_memory is None:
        quick = _ordinary_hessian(graph, values or {})
        if quick is not None:
            return quick
    first = graph.evaluate(dict(values or {}), trace=False, max_memory=max_memory)
    if np.ndim(first.value) != 0:
        raise ShapeError(f"the Hessian needs a scalar f, but f has shape {np.shape(first.value)}",
                         hint="reduce f to one number first, e.g. sum(...) or mean(...)")
    names = _chosen(first.gradients, wrt)
    shapes = {name: np.shape(first.gradients[name]) for name in names}
    n = sum(math.prod(s) for s in shapes.values())
    if max_memory and 8 * n * n > max_memory:
        raise ResourceError(f"a Hessian of {n} × {n} entries needs more memory than the limit",
                            hint="choose fewer variables with --wrt, or raise --max-memory")
    from ..inputs.values import to_arrays

    arrays = to_arrays(values or {})
    scalars = all(a.ndim == 0 for a in arrays.values())  # then no broadcast to undo in the graph
    if method not in ("auto", "graph"):
        raise ValueError(f"method is 'auto' or 'graph', not {method!r}")
    fast = _ScalarPass(graph, arrays, names) if scalars and method == "auto" else None
    matrix = None
    if fast is not None:
        try:
            with np.errstate(all="raise", under="ignore"):
                matrix = _fast_hessian(graph, arrays, names)[2]
        except (_Declined, ArithmeticError, ValueError, TypeError):
            matrix = fast.run()
    if matrix is not None:
        found = fast.diagnostics
    else:
        from ..differentiation.derivative import gradient_graph

        nodes, nodes_of = gradient_graph(graph, names, scalars=scalars)
        # gradient_graph's nodes start with its copies of f's own nodes, in order: the
        # first-order pass has reported their kinks
        own = set(nodes[:len(graph.nodes)])
        pass_ = _TangentPass(own, arrays, names, shapes, n, max_memory)
        matrix = pass_.run(nodes, [nodes_of[name] for name in names])
        found = pass_.diagnostics
    diagnostics = list(first.diagnostics)
    seen = {d.message for d in diagnostics}
    for diagnostic in found:
        if diagnostic.message not in seen:
            seen.add(diagnostic.message)
            diagnostics.append(diagnostic)
    labels = [label for name in names for label in element_labels(name, shapes[name])]
    if not np.isfinite(matrix).all():
        bad = [f"H[{labels[i]},{labels[j]}]" for i, j in zip(*np.nonzero(~np.isfinite(matrix)))]
        listed = ", ".join(bad[:4]) + (f" and {len(bad) - 4} more" if len(bad) > 4 else "")
        diagnostics.append(Diagnostic("domain", f"the Hessian holds {_describe(matrix)} at {listed}"))
    gradient = np.concatenate([np.ravel(np.asarray(first.gradients[name], dtype=np.float64))
                               for name in names]) if names else np.zeros(0)
    return Hessian(float(first.value), gradient, labels, matrix, shapes, diagnostics, graph)


class HVP(DisplayMixin):
    """A Hessian-vector product: H·v for one tangent v, with f and the gradient, at one point.

    - `f`: the value of f (a float).
    - `variables`: {name: shape} of every variable with a value, in first-use order.
    - `gradients`: ∂f/∂name per variable (a float for a scalar, an array of its shape).
    - `tangent`: v per variable (a float for a scalar, an array of its shape; 0 where none was
      given).
    - `hvp`: (H·v) per variable, ∂/∂name of the directional derivative ∇f·v (a float for a
      scalar, an array of its shape): Σ_w ∂²f/∂name∂w · v_w.
    - `names`: the element labels (`x`, `W[0,1]`) in `variables` order, as a Hessian's rows.
    - `diagnostics`: the warnings (kinks, nan/inf) of the first- and second-order passes.
    """

    __slots__ = ("f", "variables", "gradients", "tangent", "hvp", "diagnostics", "graph")

    def __init__(self, f: float, variables: dict, gradients: dict, tangent: dict, hvp: dict,
                 diagnostics: list[Diagnostic] | None = None, graph: Graph | None = None) -> None:
        self.f = f
        self.variables = variables
        self.gradients = gradients
        self.tangent = tangent
        self.hvp = hvp
        self.diagnostics = diagnostics or []
        self.graph = graph

    @property
    def names(self) -> list[str]:
        return [label for name, shape in self.variables.items() for label in element_labels(name, shape)]

    @property
    def warnings(self) -> list[str]:
        return [d.message for d in self.diagnostics]

    def flat(self, part: str) -> np.ndarray:
        """`gradients`, `tangent` or `hvp` as one float64 vector in `names` order."""
        parts = getattr(self, part)
        if not parts:
            return np.zeros(0)
        return np.concatenate([np.ravel(np.asarray(parts[name], dtype=np.float64)) for name in self.variables])

    def __repr__(self) -> str:
        return f"HVP(f={self.f!r}, hvp={self.hvp!r})"


def hvp(graph: Graph, values: Mapping[str, object] | None, tangent: Mapping[str, object],
        *, max_memory: int | None = None, method: str = "auto") -> HVP:
    """The Hessian-vector product H·v of the scalar output of `graph` at `values`, for the
    tangent v: `tangent` maps a variable's name to its direction (a number, nested list or
    array of the variable's shape); a variable it does not name has direction 0. One
    forward-over-reverse pass with one tangent column, never the whole Hessian.

    `method`: as for `hessian` ("auto": a graph of scalars on Python floats where it can).
    Raises what `hessian` raises, and GradcliError (a tangent name that is not a variable with
    a value), ShapeError (a tangent not of its variable's shape), ValueFormatError (a tangent
    that is not numbers, or not finite)."""
    if method == "auto" and max_memory is None:
        quick = _ordinary_hvp(graph, values or {}, tangent)
        if quick is not None:
            return quick
    first = graph.evaluate(dict(values or {}), trace=False, max_memory=max_memory)
    if np.ndim(first.value) != 0:
        raise ShapeError(f"a Hessian-vector product needs a scalar f, but f has shape {np.shape(first.value)}",
                         hint="reduce f to one number first, e.g. sum(...) or mean(...)")
    names = _chosen(first.gradients, None)
    shapes = {name: () if g.__class__ is float else np.shape(g) for name, g in first.gradients.items()}
    directions = bind_tangents(tangent, shapes)
    if method not in ("auto", "graph"):
        raise ValueError(f"method is 'auto' or 'graph', not {method!r}")
    from ..inputs.values import to_arrays

    values = values or {}
    if all(v.__class__ is float or v.__class__ is int for v in values.values()):
        arrays, scalars = values, True  # (as to_arrays would make them, without its conversions)
    else:
        arrays = to_arrays(values)
        scalars = all(a.ndim == 0 for a in arrays.values())
    products = None
    found: list[Diagnostic] = []
    if scalars and method == "auto":
        try:
            with np.errstate(all="raise", under="ignore"):
                products = _fast_hvp(graph, arrays, names, {name: float(v) for name, v in directions.items()})[2]
        except (_Declined, ArithmeticError, ValueError, TypeError):
            products = None
    if products is None:
        from ..differentiation.derivative import gradient_graph

        arrays = to_arrays(values)
        nodes, nodes_of = gradient_graph(graph, names, scalars=scalars)
        own = set(nodes[:len(graph.nodes)])
        seeds = {name: np.reshape(directions[name], shapes[name] + (1,)) for name in names}
        pass_ = _TangentPass(own, arrays, names, shapes, 1, max_memory, seeds)
        column = pass_.run(nodes, [nodes_of[name] for name in names])[:, 0]
        found = pass_.diagnostics
        products, start = [], 0
        for name in names:
            size = math.prod(shapes[name])
            products.append(column[start:start + size].reshape(shapes[name]))
            start += size
    product = {name: float(p) if shapes[name] == () else np.asarray(p, dtype=np.float64)
               for name, p in zip(names, products)}
    diagnostics = list(first.diagnostics)
    seen = {d.message for d in diagnostics}
    for diagnostic in found:
        if diagnostic.message not in seen:
            seen.add(diagnostic.message)
            diagnostics.append(diagnostic)
    finite = math.isfinite(sum(product.values())) if scalars else all(np.isfinite(p).all() for p in product.values())
    bad = [] if finite else [
        label for name in names for label, v in zip(element_labels(name, shapes[name]), np.ravel(product[name]))
        if not math.isfinite(v)]
    if bad:
        listed = ", ".join(bad[:4]) + (f" and {len(bad) - 4} more" if len(bad) > 4 else "")
        kinds = _describe(np.array([v for name in names for v in np.ravel(product[name])]))
        diagnostics.append(Diagnostic("domain", f"the Hessian-vector product holds {kinds} at {listed}"))
    gradients = {name: float(first.gradients[name]) if shapes[name] == ()
                 else np.asarray(first.gradients[name], dtype=np.float64) for name in names}
    return HVP(float(first.value), shapes, gradients, directions, product, diagnostics, graph)


def _ordinary_hvp(graph: Graph, values: Mapping[str, object], tangent: Mapping[str, object]) -> HVP | None:
    """H·v with f and the gradient from the float pass alone, where `_ordinary_values` allows;
    None otherwise (the engine runs first)."""
    names = _ordinary_values(graph, values)
    if names is None:
        return None
    shapes = dict.fromkeys(names, ())
    directions = bind_tangents(tangent, shapes)
    try:
        with np.errstate(all="raise", under="ignore"):
            f, gradients, products = _fast_hvp(graph, values, names, directions)
    except (_Declined, ArithmeticError, ValueError, TypeError):
        return None
    return HVP(f, shapes, dict(zip(names, gradients)), directions, dict(zip(names, products)),
               list(graph.notes), graph)


def _ordinary_values(graph: Graph, values: Mapping[str, object]) -> list[str] | None:
    """The variables, in first-use order, where the first-order pass would be an ordinary run of
    the scalar engine (every value a Python float for a variable of the graph, none missing; the
    float passes check the rest: finite, no gate that needs a gradient at its kink); else None.
    Then the float pass's gradient is the engine's (the same products summed in the same order)
    and the engine's diagnostics are the graph's notes, so the engine need not run first."""
    if not values or not all(v.__class__ is float for v in values.values()):
        return None
    variables = graph.variables
    names = [name for name in variables if name in values]
    if len(names) != len(values) or any(node.default is None and name not in values
                                        for name, node in variables.items()):
        return None
    return names


def _ordinary_hessian(graph: Graph, values: Mapping[str, object]) -> Hessian | None:
    """The Hessian from the float pass alone, where `_ordinary_values` allows; None otherwise."""
    names = _ordinary_values(graph, values)
    if names is None:
        return None
    try:
        with np.errstate(all="raise", under="ignore"):
            f, gradient, matrix = _fast_hessian(graph, values, names)
    except (_Declined, ArithmeticError, ValueError, TypeError):
        return None
    return Hessian(f, np.array(gradient, dtype=np.float64), names, matrix, dict.fromkeys(names, ()),
                   list(graph.notes), graph)


def _chosen(gradients: Mapping[str, object], wrt: Iterable[str] | None) -> list[str]:
    """The variables of the rows: `wrt` (checked, in its order, each once) or all of them."""
    if not gradients:
        raise GradcliError("nothing to differentiate: the expression has no variables",
                           hint='give an expression of variables, e.g. gradcli hessian "x**2*y" x=1 y=2')
    if wrt is None:
        return list(gradients)
    names = []
    for name in wrt:
        if name not in gradients:
            hint = did_you_mean(name, gradients) or f"variables: {', '.join(gradients)}"
            raise GradcliError(f"--wrt {name}: not a variable of the expression with a value", hint=hint)
        if name not in names:
            names.append(name)
    if not names:
        raise GradcliError("--wrt needs at least one variable name", hint="write --wrt x,y")
    return names


def _kink(node: Node) -> Diagnostic:
    return Diagnostic("kink", f"second derivative: gate {_at(node)} is at its kink; using the "
                              f"convention {node.op.kink_rule}", node)


class _TangentPass:
    """Values and tangents of the gradient graph's nodes, in topological order (see the module)."""

    def __init__(self, own: set, arrays: dict, names: list[str], shapes: dict, n: int,
                 max_memory: int | None, seeds: dict | None = None) -> None:
        self.own = own
        self.arrays = arrays
        self.n = n
        self.max_memory = max_memory
        self.diagnostics: list[Diagnostic] = []
        # by default the identity (every column of the Hessian); an HVP's one tangent column
        self.seeds: dict[str, np.ndarray] = seeds or identity_seeds(names, shapes, n)
        self.shapes = shapes
        self.names = names

    def run(self, nodes: list[Node], outputs: list[Node]) -> np.ndarray:
        order = reachable_in_order(nodes, *outputs)
        with np.errstate(all="ignore"):
            values, tangents = self._sweep(order, careful=False)
            matrix = self._rows(outputs, tangents)
            if not np.isfinite(matrix).all():  # again, gate by gate, to say where it came from
                self._sweep(order, careful=True)
        return matrix

    def _rows(self, outputs: list[Node], tangents: dict) -> np.ndarray:
        n = self.n
        rows = []
        for name, node in zip(self.names, outputs):
            shape = self.shapes[name]
            t = tangents.get(node)
            size = math.prod(shape)
            rows.append(np.zeros((size, n)) if t is None
                        else np.broadcast_to(t, shape + (n,)).reshape(size, n))
        return np.array(np.concatenate(rows), dtype=np.float64) if rows else np.zeros((0, 0))

    def _sweep(self, order: list[Node], careful: bool):
        own = self.own
        values: dict = {}
        tangents: dict = {}
        n = self.n
        limit = self.max_memory
        held = 0
        reported = False
        reached = Reach(order, self.seeds, n, values.__getitem__)  # (made only if asked for)
        for node in order:
            kind = node.kind
            if kind == "var":
                value = self.arrays.get(node.name)
                values[node] = np.float64(node.default) if value is None else value
                seed = self.seeds.get(node.name)
                if seed is not None:
                    tangents[node] = seed
                continue
            if kind == "const":
                values[node] = np.float64(node.default)
                continue
            op = node.op
            args = [values[i] for i in node.inputs]
            ans = op.forward(*args, **node.params) if node.params else op.forward(*args)
            values[node] = ans
            ins = [tangents.get(i) for i in node.inputs]
            if all(t is None for t in ins):
                continue  # (no variable moves it: not across a kink either)
            if (op.kink is not None or op.kink_offset is not None) and node not in own and not careful:
                if op.at_kink(*args, **node.params) and _kink_crossed(
                        op, args, ([None if t is None else t[..., c] for t in ins] for c in range(n))):
                    self.diagnostics.append(_kink(node))
            try:
                tangent = gate_tangent(node, ans, args, ins, n, max_memory=self.max_memory,
                                       reach=lambda index, node=node: reached.of(node.inputs[index]))
            except ResourceError as exc:
                raise ResourceError(exc.message.replace("forward mode", "the Hessian's pass", 1),
                                    hint="choose fewer variables with --wrt, or raise --max-memory") from None
            if tangent is None:
                continue  # (only inputs it reads the shape of move)
            if limit:
                held += tangent.nbytes
                if held > limit:
                    raise ResourceError("the Hessian's pass needs more memory than the limit",
                                        hint="choose fewer variables with --wrt, or raise --max-memory")
            tangents[node] = tangent
            if careful and not reported:
                finite_in = all(np.isfinite(a).all() for a in args) and \
                    all(t is None or np.isfinite(t).all() for t in ins)
                if finite_in and not (np.isfinite(ans).all() and np.isfinite(tangent).all()):
                    bad = ans if not np.isfinite(ans).all() else tangent
                    self.diagnostics.append(Diagnostic(
                        "domain", f"second derivative: gate {_at(node)} produced {_describe(bad)} "
                                  "from finite inputs", node))
                    reported = True
        return values, tangents


class _ScalarPass:
    """Forward-over-reverse for a graph of scalars, on Python floats, without building the
    gradient's graph: the reverse sweep of `gradient_nodes` run on dual numbers. Each edge's
    local gradient (or VJP) is its rule's compiled template (`derivative.RULES`), evaluated step
    by step with the registry's float kernels (`Op.scalar`); each number carries its tangent, a
    dict {column: ∂/∂variable} over the few variables it depends on (sparse: a node of a big
    scalar graph depends on few of them). The numbers are those of the gradient graph's pass,
    the same rules evaluated in the same order; building that graph costs more than this
    whole pass.

    `run` returns None where it cannot answer, and the gradient-graph pass then runs: a gate
    without a float kernel, a floating-point error, a nan or inf anywhere (that pass says where
    it came from)."""

    def __init__(self, graph: Graph, arrays: dict, names: list[str]) -> None:
        self.graph = graph
        self.arrays = arrays
        self.names = names
        self.diagnostics: list[Diagnostic] = []

    def run(self) -> np.ndarray | None:
        if any(node.kind == "gate" and node.op.scalar is None for node in self.graph.nodes):
            return None
        with np.errstate(all="raise", under="ignore"):
            try:
                matrix = self._sweep()
            except (ArithmeticError, ValueError, TypeError):  # math.pow, math.sqrt, NumPy raise
                return None
        if matrix is None or not np.isfinite(matrix).all():
            return None
        return matrix

    def _sweep(self) -> np.ndarray | None:
        from ..differentiation.derivative import _COTANGENT, RULES

        self.cotangent = _COTANGENT

        graph = self.graph
        nodes = graph.nodes
        columns = {name: i for i, name in enumerate(self.names)}
        targets = {graph.variables[name] for name in self.names}
        values: dict = {}
        depends: dict = {}
        for node in nodes:
            kind = node.kind
            if kind == "var":
                value = self.arrays.get(node.name)
                values[node] = float(node.default if value is None else value)
                depends[node] = node in targets
            elif kind == "const":
                values[node] = float(node.default)
                depends[node] = False
            else:
                values[node] = node.op.scalar.forward(*[values[i] for i in node.inputs])
                depends[node] = any(depends[i] for i in node.inputs)
        if not math.isfinite(values[graph.output]):
            return None

        # the edges of the reverse sweep, their templates, and the forward tangents they read
        edges = []
        read: set = set()
        for node in reversed(nodes):
            if node.kind != "gate" or not depends[node]:
                continue
            op = node.op
            for index, inp in enumerate(node.inputs):
                if depends[inp]:
                    template = RULES.template(op, index, True)
                    if template is None or template.result is None:
                        continue
                    for step_op, _, refs in template.steps:
                        if step_op.scalar is None or step_op.body is not None:
                            return None
                        read.update(node.inputs[r[1]] for r in refs if r[0] == "arg" and r[1] != _COTANGENT)
                    if template.result[0] == "arg" and template.result[1] != _COTANGENT:
                        read.add(node.inputs[template.result[1]])
                    edges.append((node, index, inp, template))
        needed = set()
        for node in reversed(nodes):
            if (node in read or node in needed) and depends[node]:
                needed.add(node)
                if node.kind == "gate":
                    needed.update(i for i in node.inputs if depends[i])

        # forward tangents of the nodes the rules read
        tangents: dict = {}
        for node in nodes:
            if node not in needed:
                continue
            if node.kind == "var":
                tangents[node] = {columns[node.name]: 1.0}
                continue
            scalar = node.op.scalar
            args = [values[i] for i in node.inputs]
            tangents[node] = _combine(scalar.locals, values[node], args,
                                      [tangents.get(i) for i in node.inputs])

        # the reverse sweep on dual numbers (value, tangent dict or None)
        cotangents: dict = {graph.output: (1.0, None)}
        for node, index, inp, template in edges:
            g = cotangents.get(node)
            if g is None:
                continue
            args = [(values[i], tangents.get(i)) for i in node.inputs]
            local = self._apply(template, node, args, g)
            if local is None:
                continue
            part = local if not node.op.elementwise else _dual_mul(g, local)
            before = cotangents.get(inp)
            cotangents[inp] = part if before is None else _dual_add(before, part)

        n = len(self.names)
        matrix = np.zeros((n, n))
        for name, row in columns.items():
            dual = cotangents.get(graph.variables[name])
            if dual is not None and dual[1]:
                for column, v in dual[1].items():
                    matrix[row, column] = v
        return matrix

    def _apply(self, template, node: Node, args: list, g):
        """The template on dual numbers (the gate's inputs, the cotangent g); None for zero."""
        done = []
        for op, _, refs in template.steps:
            ins = [(g if value == self.cotangent else args[value]) if kind == "arg" else
                   (value, None) if kind == "const" else done[value] for kind, value in refs]
            vals = [d[0] for d in ins]
            scalar = op.scalar
            ans = scalar.forward(*vals)
            if op.kink_offset is not None and op.kink_offset(*vals) == 0 and _kink_crossed(
                    op, vals, _dict_columns([d[1] for d in ins])):
                self.diagnostics.append(Diagnostic(
                    "kink", f"second derivative: the slope of gate {_at(node)} is at the kink of "
                            f"{op.call_name}; using the convention {op.kink_rule}", node))
            done.append((ans, _combine(scalar.locals, ans, vals, [d[1] for d in ins])))
        kind, value = template.result
        if kind == "arg":
            return g if value == self.cotangent else args[value]
        return (value, None) if kind == "const" else done[value]


def _kink_crossed(op, args: list, columns) -> bool:
    """Whether a gate at its kink is moved across it by the variables: at the elements where its
    offset is 0, a small step along some variable's tangent (`columns` gives, per variable, each
    input's tangent or None) makes the offset non-zero. A gate that moves with its kink stays on
    it, and no derivative is taken across the jump: equal(v, max(v)) at v's largest element, in
    the rule of max, is no second-order kink unless v has a tie (which max itself reports)."""
    if op.kink_offset is None:  # a kink that is not an elementwise offset: say so
        return True
    at = np.asarray(op.kink_offset(*args)) == 0
    size = max([1.0] + [float(np.max(np.abs(a))) for a in args if np.size(a) and np.isfinite(a).all()])
    for column in columns:
        if all(t is None or not np.any(t) for t in column):
            continue
        for step in (1e-6 * size, -1e-6 * size):
            moved = [a if t is None else a + step * t for a, t in zip(args, column)]
            offset, where = np.broadcast_arrays(np.asarray(op.kink_offset(*moved)), at)
            if np.any(offset[where] != 0):
                return True
    return False


def _dict_columns(tangents: list):
    """Per column of the dict tangents (see _ScalarPass), each input's tangent there or None."""
    columns = set().union(*(t for t in tangents if t))
    for c in sorted(columns):
        yield [None if not t else t.get(c, 0.0) for t in tangents]


def _combine(locals_, ans: float, args: list, tangents: list) -> dict | None:
    """Σₖ localₖ · tangentₖ over the inputs that carry a tangent (dicts {column: value})."""
    out = None
    for k, tk in enumerate(tangents):
        if not tk:
            continue
        local = locals_[k]
        if not isinstance(local, float):
            local = local(ans, *args)
        if local == 0.0:
            continue
        if not math.isfinite(local):
            raise FloatingPointError  # (the NumPy pass handles it)
        if out is None:
            out = dict(tk) if local == 1.0 else {c: local * v for c, v in tk.items()}
        else:
            _add_scaled(out, local, tk)
    return out


def _dual_mul(a, b):
    """(a·b, a'·b + a·b') for dual numbers (value, tangent dict or None)."""
    (va, ta), (vb, tb) = a, b
    tangent = None
    if ta:
        tangent = {c: v * vb for c, v in ta.items()} if vb != 0.0 else None
    if tb and va != 0.0:
        if tangent is None:
            tangent = {c: va * v for c, v in tb.items()}
        else:
            _add_scaled(tangent, va, tb)
    return (va * vb, tangent)


def _dual_add(a, b):
    (va, ta), (vb, tb) = a, b
    if not ta:
        return (va + vb, tb)
    if not tb:
        return (va + vb, ta)
    tangent = dict(ta)
    _add_scaled(tangent, 1.0, tb)  # (1.0 · v is v, bit for bit)
    return (va + vb, tangent)
