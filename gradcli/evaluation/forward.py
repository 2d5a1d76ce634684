"""Forward mode: the Jacobian-vector product (JVP) ∂f·t of a graph for a tangent t, gate by gate.

Beside each node's value the forward pass carries its tangent, the directional derivative of the
node along t: t itself at a variable (0 where none was given), and at a gate Σₖ Jₖ·tₖ over its
inputs k, Jₖ the gate's Jacobian in input k. The mirror image of the backward pass: the same
local gradients, multiplied by the incoming tangents instead of the upstream gradient; one pass
gives f and ∂f·t whatever the number of variables (Griewank & Walther, "Evaluating Derivatives",
ch. 3; JAX's `jvp`).

Every tangent rule comes from the op registry (gradcli.core.ops), none is written here:
- an elementwise gate: tangent = Σₖ localₖ · tₖ, `Op.locals` (∂gate/∂input, the backward table's
  local gradients), each tₖ broadcast to the gate's shape;
- a gate with a VJP that is linear in input k (a sum, a mean, a transpose, either side of @ or
  dot, `expand_as`, `sum_as`: `derivative._ZERO_IF`): Jₖ·tₖ is the op itself with tₖ in place of
  input k (@ and dot: one call for all n tangent columns, `_product_columns`);
- an axis reduction whose VJP is not linear (max, min, logsumexp, norm): each input element feeds
  one output element, so VJP(ones) holds the whole Jacobian (one nonzero per column) and
  J·t = Σ over the reduced axes of VJP(ones) · t;
- any other gate (a user function that is not elementwise): its Jacobian read row by row from
  its VJP with unit cotangents (a VJP is linear in its cotangent), times t.

A zero tangent times an infinite or nan local gradient counts 0, not nan, where the zero is
structural: the input's element is not reached, i.e. does not depend (through the graph's edges,
whatever the numbers) on a seeded variable element of that column (a seed's elements that are 0:
a JVP's direction, the identity's other columns). A direction that does not move an input does
not move the gate through it (sqrt(x) + y at x = 0 along y has tangent 1; sqrt(x) at x = [0, 1]
has 0 off the Jacobian's diagonal). Where the element is reached and its tangent is 0 by the
numbers, the product is local·0 = nan, as reverse mode's engine gives: (x**3)**(1/3) at 0 along
x has tangent nan (x³'s tangent is 3·0²·1 = 0), not a silent 0. The reached masks (`Reach`) ride
the same machinery on indicators: an elementwise gate ORs its inputs' masks; a reduction reaches
an output element from any element it reduces; an op linear in an input is applied to the float
mask with ones for the other inputs (a numerical zero hides no dependence), > 0; any other op
reaches all its output from any reached input. They cost nothing on the common path: they are
made only where an infinite local meets a zero tangent, up to that gate, once per pass.
An input with no tangent at all (a constant, a variable the tangent leaves out) is skipped; a
gate none of whose inputs carries one has none (0 in the records).

Kinks and domains as in reverse mode (gradcli.evaluation.engine), with the same messages and
conditions: a gate at its kink that depends on a variable with a value gets the engine's kink
warning and convention; a gate that produces nan or inf from a floating-point error, its domain
warning; a value holding nan or inf, or given for a name the expression does not use, the input
warnings. Forward mode adds one: the gate where a tangent first becomes nan or inf.

Three passes give the same numbers:
- a graph of scalars: on Python floats with the registry's float kernels (`Op.scalar`), records
  and all, declining to the NumPy passes at anything unusual (`_scalar_pass`);
- the lean pass (untraced runs on arrays): values and tangents only, each let go after its last
  reader, no per-gate scans: NumPy calls a flag on any floating-point error, and f and ∂f·t are
  checked once at the end (not even that on finite inputs of elementwise gates, where only a
  flagged error makes a nan or inf); a tangent that dies at a gate is multiplied by its local in
  its own array where the registry says how (`Op.in_place.times`);
- the careful pass (`trace=True`, small runs, and any run where the lean pass saw something
  unusual): gate by gate with every check, and the records (`ForwardRecord`) if asked.

`tangent_columns` runs n tangents at once (a trailing axis of n columns on every tangent): the
Jacobian's forward mode, and the Hessian's forward-over-reverse pass (gradcli.evaluation.hessian)
takes each gate's tangent from `gate_tangent` here.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Mapping

import numpy as np

from ..base.errors import GradcliError, ResourceError, ShapeError, did_you_mean
from ..core.graph import depends_on
from ..core.kernels import _check_broadcast, _forward_array_op
from ..core.trace import Diagnostic, DisplayMixin
from .engine import (KEEP_BYTES, _all_finite, _at, _at_its_kink, _close, _describe, _FloatingPointFlag,
                     _produced, bind_values, value_diagnostics)

if TYPE_CHECKING:
    from ..core.graph import Graph, Node

# Axis reductions whose VJP is not linear but routes each input element to one output element:
# VJP(ones) is their whole Jacobian.
_ROUTED = frozenset(("amax", "amin", "logsumexp", "norm"))


class ForwardRecord:
    """One gate of the forward-mode table (records are gates only, in topological order).

    - `node`: the gate.
    - `value`: its output (float or array).
    - `locals`: per input, ∂gate/∂input (a float, or an array in the gate's shape) for an
      elementwise op; for an op with a VJP, text (`_jvp_text`): a reduction's formula element by
      element, else the op applied to the input's tangent ("jvp: da @ b").
    - `tangents_in`: per input, the input's tangent (0.0 where none: constants, variables the
      tangent leaves out).
    - `products`: per input, its term of the gate's tangent: local × tangent_in in the gate's
      shape for an elementwise op, Jₖ·tₖ for the others (0.0 where the input has no tangent).
    - `tangent`: Σ products, ∂gate·t (a float, or an array in the gate's shape).
    """

    __slots__ = ("node", "value", "locals", "tangents_in", "products", "tangent")

    def __init__(self, node: Node, value, locals_: tuple, tangents_in: tuple, products: tuple, tangent) -> None:
        self.node = node
        self.value = value
        self.locals = locals_
        self.tangents_in = tangents_in
        self.products = products
        self.tangent = tangent

    def __repr__(self) -> str:
        return f"ForwardRecord(node={self.node!r}, value={self.value!r}, tangent={self.tangent!r})"


class JVP(DisplayMixin):
    """A Jacobian-vector product: f and its directional derivative ∂f·t at one point.

    - `graph`: the graph evaluated.
    - `value`: f (a float for a scalar f, else an array of f's shape).
    - `tangent`: ∂f·t, of f's type and shape.
    - `seeds`: {name: t} per variable with a value (a float for a scalar, an array of its shape;
      0 where no tangent was given).
    - `variables`: {name: shape} of the variables with a value, in first-use order.
    - `records`: the forward-mode table (list of ForwardRecord); made when first read if the run
      kept none.
    - `diagnostics` / `warnings`: kinks, nan/inf and input warnings, as reverse mode gives them,
      and where a tangent became nan or inf.

    Unpacks as `(value, tangent)`: `f, df = gradcli.jvp(...)`.
    """

    __slots__ = ("graph", "value", "tangent", "_seeds", "variables", "diagnostics", "_records", "_make")

    def __init__(self, graph: Graph, value, tangent, seeds: dict, variables: dict,
                 diagnostics: list[Diagnostic], records: list | None = None, make=None) -> None:
        self.graph = graph
        self.value = value
        self.tangent = tangent
        self._seeds = seeds  # (those given; the zeros of the others are made when first read)
        self.variables = variables
        self.diagnostics = diagnostics
        self._records = records
        self._make = make if records is None else None

    @property
    def seeds(self) -> dict:
        """{name: t} per variable with a value, in `variables` order (0 where none was given)."""
        seeds = self._seeds
        if seeds.keys() != self.variables.keys():
            self._seeds = seeds = {name: seeds[name] if name in seeds else 0.0 if shape == () else np.zeros(shape)
                                   for name, shape in self.variables.items()}
        return seeds

    @property
    def records(self) -> list[ForwardRecord]:
        if self._records is None and self._make is not None:
            self._records = self._make()
            self._make = None
        return self._records if self._records is not None else []

    @property
    def warnings(self) -> list[str]:
        return [d.message for d in self.diagnostics]

    def __iter__(self):
        return iter((self.value, self.tangent))

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int):
        return (self.value, self.tangent)[index]

    def __repr__(self) -> str:
        return f"JVP(value={self.value!r}, tangent={self.tangent!r})"


def bind_tangents(tangents: Mapping[str, object], shapes: dict[str, tuple]) -> dict:
    """The tangent per variable of `shapes` ({name: shape}, the variables with a value): a float
    for a scalar, a float64 array of the variable's shape otherwise; 0 for those `tangents` does
    not name.

    Raises TypeError (`tangents` is not a mapping), GradcliError (a name that is not a variable
    with a value, with a did-you-mean hint), ShapeError (a tangent not of its variable's shape),
    ValueFormatError (not numbers, or not finite)."""
    given = _given_tangents(tangents, shapes)
    return {name: given[name] if name in given else 0.0 if shape == () else np.zeros(shape)
            for name, shape in shapes.items()}


def _given_tangents(tangents: Mapping[str, object], shapes: dict[str, tuple], arrays: dict | None = None,
                    finite_ids: set | None = None) -> dict:
    """bind_tangents for the names `tangents` gives only, in `shapes` order. With `arrays` (the
    bound values) and `finite_ids` (a set), a tangent and its variable's value are checked in one
    pass, a dot product of the two (finite only if both are: a nan, or an inf times anything,
    even 0, is not), and the ids of the values so found finite are added to `finite_ids`."""
    from ..base.errors import ValueFormatError
    from ..inputs.values import to_array

    if not isinstance(tangents, Mapping):
        raise TypeError(f"the tangent is a mapping name -> value, not {type(tangents).__name__}")
    for name in tangents:
        if name not in shapes:
            hint = did_you_mean(str(name), shapes) or (f"variables: {', '.join(shapes)}" if shapes
                                                       else "the expression has no variables with a value")
            raise GradcliError(f"tangent {name}: not a variable of the expression with a value", hint=hint)
    directions: dict = {}
    for name, shape in shapes.items():
        if name not in tangents:
            continue
        v = tangents[name]
        if v.__class__ is float and shape == ():  # (the common case, without NumPy's conversions)
            if not math.isfinite(v):
                raise ValueFormatError(f"tangent {name}: a tangent's numbers must be finite (not nan or inf)")
            directions[name] = v
            continue
        v = to_array(v, f"the tangent of {name}")
        if v.shape != shape:
            def show(s):
                return "a scalar" if s == () else f"shape {s}"

            raise ShapeError(f"tangent {name}: the tangent is {show(v.shape)}, but {name} is {show(shape)}",
                             hint="a tangent has its variable's shape: " + (
                                 "one number" if shape == () else f"{math.prod(shape)} numbers laid out as {name}'s"))
        value = arrays.get(name) if arrays is not None and finite_ids is not None and v.ndim else None
        if value is not None and value.shape == v.shape and value.dtype == v.dtype == np.float64 \
                and value.flags.c_contiguous and v.flags.c_contiguous:
            with np.errstate(all="ignore"):
                both = math.isfinite(np.dot(value.reshape(-1), v.reshape(-1)))
            if both:
                finite_ids.add(id(value))
        else:
            both = False
        if not both and not _all_finite(v):
            raise ValueFormatError(f"tangent {name}: a tangent's numbers must be finite (not nan or inf)")
        directions[name] = float(v) if shape == () else v
    return directions


# -- one gate's tangent -----------------------------------------------------------------------------

def gate_tangent(node: Node, ans, args: list, ins: list, n: int | None = None, *,
                 max_memory: int | None = None, terms: list | None = None, guard: bool = True, reach=None):
    """Σₖ Jₖ·tₖ for one gate: `ans` its output, `args` its inputs' values, `ins` their tangents
    (None where an input has none). With n, each tangent has a trailing axis of n columns (the
    tangent of an input may also be of a shape that broadcasts to the input's). Returns None
    where no input with a tangent moves the gate. `terms` (a list) receives each input's term
    (None where it has none).

    `guard`: where an infinite (or nan) local meets a zero tangent, the product is 0 if that
    zero is structural (the input's element is not reached by the seeds in that column: see
    the module) and local·0 = nan otherwise. `reach(k)` gives input k's reached mask (a bool
    array of tₖ's shape, or one broadcasting to it; None: nothing reached); it is called only
    where such a meeting happens. Without `reach`, every zero counts as structural. With
    guard=False (the lean pass) the product is plain local·t: a nan makes its final check run
    the careful pass."""
    op = node.op
    if op.vjp is None:
        total = None
        for k, tk in enumerate(ins):
            if tk is None:
                if terms is not None:
                    terms.append(None)
                continue
            term = times(op.locals[k](ans, *args), tk, n, guard,
                         None if reach is None else (lambda k=k: reach(k)))
            if terms is not None:
                terms.append(term)
            total = term if total is None else total + term
        return total
    return _array_tangent(node, ans, args, ins, n, max_memory, terms, reach if guard else _EVERYWHERE)


def times(local, tangent, n: int | None = None, guard: bool = True, reach=None):
    """local · tangent (local in the gate's shape, or a shape that broadcasts to it; with n the
    tangent has a last axis of n columns); with `guard`, where local is not finite a zero
    tangent gives 0 if it is structural: not reached, by `reach()` (the tangent's reached mask,
    asked for only where such a meeting happens; None, or no `reach`: nothing reached), else
    local·0 = nan."""
    if isinstance(local, float):
        if local == 1.0:
            return tangent
        if not guard or math.isfinite(local):
            return local * tangent
        return _structural(local * tangent, np.asarray(tangent) == 0, reach)
    if n is not None:
        local = np.asarray(local)
        if local.ndim:
            local = local[..., None]
    product = local * tangent
    if guard:
        finite = np.isfinite(local)
        if not finite.all():
            zero = ~finite & (np.asarray(tangent) == 0)
            if zero.any():
                product = _structural(product, zero, reach)
    return product


def _structural(product, zero, reach):
    """`product` with 0 where `zero` (a zero tangent met an infinite or nan local) and the
    element is not reached (`reach()`: a bool mask broadcasting to the product, or None)."""
    mask = None if reach is None else reach()
    if mask is not None:
        zero = zero & ~mask
    return np.where(zero, 0.0, product)


def _EVERYWHERE(k):  # (guard=False: every zero counts as reached, local·0 = nan)
    return np.True_


def _array_tangent(node: Node, ans, args: list, ins: list, n: int | None, max_memory: int | None,
                   terms: list | None, reach=None):
    """Σₖ Jₖ·tₖ for a gate that is not elementwise (see the module for the three ways); `reach`
    as gate_tangent's (where an infinite slope meets a zero tangent)."""
    from ..differentiation.derivative import _ZERO_IF

    op = node.op
    params = node.params
    out_shape = np.shape(ans)
    m = math.prod(out_shape)
    columns = 1 if n is None else n
    linear = _ZERO_IF.get(op.name, ()) if op.body is None else ()
    total = None
    for k, tk in enumerate(ins):
        if tk is None or (op.body is None and k < len(op.rule) and op.rule[k] is None):
            if terms is not None:
                terms.append(None)
            continue  # (no rule: the output does not depend on that input, only on its shape)
        in_shape = np.shape(args[k])
        t = np.broadcast_to(tk, in_shape + (columns,) if n is not None else in_shape)
        if n is None:
            t = t[..., None]  # one column

        def mask(k=k, t=t):  # input k's reached mask in t's shape (None: nothing reached)
            got = None if reach is None else reach(k)
            if got is None:
                return None
            return np.broadcast_to(got[..., None] if n is None else got, t.shape)

        d = len(in_shape)
        if op.name in ("sum", "mean") and op.body is None:
            axis = params.get("axis")
            axes = tuple(range(d)) if axis is None else axis % max(d, 1)
            term = op.forward(t, axis=axes) if d else np.array(t, dtype=np.float64)
        elif op.name == "T" and op.body is None:
            term = np.transpose(t, tuple(range(d - 1, -1, -1)) + (d,))
        elif op.name in ("matmul", "dot") and op.body is None:
            term = _product_columns(op, args, k, t, out_shape, mask)
        elif k in linear and (n is None or columns <= m) and all(
                np.isfinite(a).all() for i, a in enumerate(args) if i != k):
            # (a non-finite other input: the Jacobian's way, where a structural zero tangent counts 0)
            term = np.empty(out_shape + (columns,))
            for c in range(columns):
                # (contiguous: @ on a broadcast view with zero strides skips BLAS)
                moved = [np.ascontiguousarray(t[..., c]) if i == k else a for i, a in enumerate(args)]
                term[..., c] = op.forward(*moved, **params)
        elif op.name in _ROUTED and op.body is None:
            weights = np.asarray(op.vjp(np.ones(out_shape), ans, *args, index=k, **params), dtype=np.float64)
            product = weights[..., None] * t
            if not np.isfinite(weights).all():
                product = _structural(product, ~np.isfinite(weights)[..., None] & (t == 0), mask)
            axis = params.get("axis")
            axes = tuple(range(d)) if axis is None else axis % max(d, 1)
            term = _registry_sum(product, axis=axes) if d else product
        else:
            term = _jacobian_term(node, ans, args, k, t, max_memory, mask)
        term = np.asarray(term, dtype=np.float64)
        if n is None:
            term = term[..., 0]
            term = term[()] if term.ndim == 0 else term
        if terms is not None:
            terms.append(term)
        total = term if total is None else total + term
    return total


# -- reached masks: which zeros are structural ------------------------------------------------------

# reductions over an axis: each output element depends on every input element it reduces
_REDUCTIONS = frozenset(("sum", "mean")) | _ROUTED


class Reach:
    """Forward mode's reached masks, made only when first asked for (see the module): per node,
    a bool array of its tangent's shape (node shape, + (n,) with n columns) saying which
    elements depend, through the graph's edges whatever the numbers, on a seeded variable
    element of the column (a seed's mask: seed != 0), or None where none does.

    `order`: the nodes in the pass's order; `seeds`: {variable name: seed}; `value_of(node)`:
    a node's value (its shape; the pass has evaluated it). `of(node)`, for a node the pass has
    reached, makes the masks of every node up to it in `order` (once each)."""

    __slots__ = ("order", "seeds", "n", "value_of", "masks", "next")

    def __init__(self, order, seeds: dict, n: int | None, value_of) -> None:
        self.order = order
        self.seeds = seeds
        self.n = n
        self.value_of = value_of
        self.masks: dict = {}
        self.next = 0

    def of(self, node: Node):
        masks = self.masks
        if node not in masks:
            order = self.order
            while self.next < len(order):
                made = order[self.next]
                self.next += 1
                masks[made] = self._make(made)
                if made is node:
                    break
        return masks.get(node)

    def _make(self, node: Node):
        if node.kind == "var":
            seed = self.seeds.get(node.name)
            return None if seed is None else np.asarray(seed) != 0
        if node.kind != "gate":
            return None
        value = self.value_of
        return reach_gate(node, value(node), [value(i) for i in node.inputs],
                          [self.masks.get(i) for i in node.inputs], self.n)


def reach_gate(node: Node, ans, args: list, masks: list, n: int | None):
    """A gate's reached mask from its inputs' (`masks`, None where nothing is reached): an
    elementwise gate ORs its inputs' masks (broadcast); a reduction reaches an output element
    from any element it reduces; a transpose transposes; an op linear in the input (@, dot,
    expand_as, sum_as, ...) is applied to the float mask with ones for its other inputs (so that
    no numerical zero hides a dependence), > 0; any other op (a user function's body, `scalar`)
    reaches every output element from any reached input element. None where nothing is reached."""
    from ..differentiation.derivative import _ZERO_IF

    op = node.op
    out_shape = np.shape(ans)
    total = None
    if op.vjp is None:
        for m in masks:
            if m is not None:
                total = m if total is None else total | m
        return total
    columns = 1 if n is None else n
    params = node.params
    for k, m in enumerate(masks):
        if m is None or (op.body is None and k < len(op.rule) and op.rule[k] is None):
            continue
        in_shape = np.shape(args[k])
        t = np.broadcast_to(m, in_shape + (columns,) if n is not None else in_shape)
        if n is None:
            t = t[..., None]
        d = len(in_shape)
        if op.body is None and op.name in _REDUCTIONS:
            axis = params.get("axis")
            axes = tuple(range(d)) if axis is None else axis % max(d, 1)
            got = t.any(axis=axes) if d else t
        elif op.body is None and op.name == "T":
            got = np.transpose(t, tuple(range(d - 1, -1, -1)) + (d,))
        elif op.body is None and k in _ZERO_IF.get(op.name, ()):
            got = np.empty(out_shape + (columns,), dtype=bool)
            for c in range(columns):
                moved = [np.ascontiguousarray(t[..., c], dtype=np.float64) if i == k else np.ones(np.shape(a))
                         for i, a in enumerate(args)]
                got[..., c] = np.asarray(op.forward(*moved, **params)) > 0
        else:
            got = np.broadcast_to(t.reshape(-1, columns).any(axis=0) if t.size else np.zeros(columns, bool),
                                  out_shape + (columns,))
        if n is None:
            got = got[..., 0]
        total = got if total is None else total | got
    return total


def _product_columns(op, args: list, k: int, t: np.ndarray, out_shape: tuple, mask=None) -> np.ndarray:
    """a @ b's (or dot's) term for the tangent t of input k (t of the input's shape + (n,)), all
    n columns in one call of the op (one BLAS product, the registry's overflow rescue and all),
    shape out_shape + (n,). The op takes vectors and matrices only (1-D or 2-D a and b):
    - k = 1: t (k,) + b's trailing axes + (n,) is read as a (k, p·n) matrix: a @ that is
      a's rows × p·n, whose columns are laid out as b's trailing axes then n;
    - k = 0: the column axis moved to the front, t is (n·m, k) (m: a's rows, 1 for a vector),
      each row a row of one column's a; (that @ b) is (n, out) again, the column axis put back
      last.
    Column c is the op on column c of t (to rounding: BLAS may sum a product of many columns in
    another order than one of a single column).
    Where the other input holds a nan or inf, the product runs with 0 in its place and each such
    element's products are added after, a zero tangent counting 0 where it is structural
    (`mask()`: t's reached mask, None for nothing reached; see the module), else nan."""
    columns = t.shape[-1]
    if t.size == 0:  # (no columns, or an empty inner axis: reshape cannot infer a length)
        return np.zeros(out_shape + (columns,))
    a, b = (np.asarray(x, dtype=np.float64) for x in args)
    other = a if k == 1 else b
    finite = np.isfinite(other)
    bad = not finite.all()
    if bad:
        other = np.where(finite, other, 0.0)
    if k == 1:
        flat = np.ascontiguousarray(t.reshape(t.shape[0], -1))  # (k, p·n)
        term = np.asarray(op.forward(other, flat), dtype=np.float64)
        if bad:
            rows = term.reshape(-1, flat.shape[1])  # (a's rows, p·n), a view of term
            a2 = a.reshape(1, -1) if a.ndim == 1 else a
            structural = _unreached(flat == 0, mask, lambda m: m.reshape(t.shape[0], -1))
            for i, j in zip(*np.nonzero(~np.isfinite(a2))):
                rows[i] += np.where(structural[j], 0.0, a2[i, j] * flat[j])
        return term.reshape(out_shape + (columns,))
    inner = t.shape[-2]
    flat = np.ascontiguousarray(np.moveaxis(t, -1, 0).reshape(-1, inner))  # (n·m, k)
    term = np.asarray(op.forward(flat, other), dtype=np.float64)
    if bad:
        cols = term.reshape(flat.shape[0], -1)  # (n·m, b's columns), a view of term
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        structural = _unreached(flat == 0, mask, lambda m: np.moveaxis(m, -1, 0).reshape(-1, inner))
        for j, i in zip(*np.nonzero(~np.isfinite(b2))):
            cols[:, i] += np.where(structural[:, j], 0.0, flat[:, j] * b2[j, i])
    return np.moveaxis(term.reshape((columns,) + out_shape), 0, -1)


def _unreached(zero, mask, laid_out):
    """`zero` (a tangent's zeros) where not reached: `mask()` (None: nothing reached) laid out
    as the zeros by `laid_out`; the mask is asked for only where there is a zero."""
    got = mask() if mask is not None and zero.any() else None
    return zero if got is None else zero & ~laid_out(got)


def _registry_sum(x, axis):
    """The registry's own sum (it rescues a partial sum that overflowed)."""
    from ..core.ops import OPS

    return OPS["sum"].forward(x, axis=axis)


def _jacobian_term(node: Node, ans, args: list, k: int, t: np.ndarray, max_memory: int | None, mask=None):
    """Jₖ·t with Jₖ (output size × input size) read row by row from the op's VJP with unit
    cotangents; t has a last axis of columns. An infinite slope times a zero tangent is 0 where
    that zero is structural (`mask()`: t's reached mask, None for nothing reached), else nan."""
    op = node.op
    out_shape = np.shape(ans)
    m = math.prod(out_shape)
    in_shape = np.shape(args[k])
    size = math.prod(in_shape)
    columns = t.shape[-1]
    if max_memory and 8 * m * size > max_memory:
        raise ResourceError(f"forward mode would need a Jacobian of {m} × {size} at gate {_at(node)}, "
                            "more memory than the limit", hint="raise --max-memory")
    jacobian = np.empty((m, size))
    cotangent = np.zeros(out_shape)
    for j in range(m):
        cotangent.flat[j] = 1.0
        row = op.vjp(cotangent, ans, *args, index=k, **node.params)
        jacobian[j] = np.broadcast_to(row, in_shape).ravel()
        cotangent.flat[j] = 0.0
    flat = t.reshape(size, columns)
    finite = np.isfinite(jacobian)
    if finite.all():
        term = jacobian @ flat
    else:  # an infinite slope times a structural zero tangent is 0 (see the module)
        term = np.where(finite, jacobian, 0.0) @ flat
        reached = None
        if mask is not None and (flat[np.nonzero(~finite)[1]] == 0).any():
            reached = mask()
            reached = None if reached is None else reached.reshape(size, columns)
        for j, s in zip(*np.nonzero(~finite)):
            zero = flat[s] == 0
            if reached is not None:
                zero &= ~reached[s]
            term[j] += np.where(zero, 0.0, jacobian[j, s] * flat[s])
    return term.reshape(out_shape + (columns,))


# -- the passes ---------------------------------------------------------------------------------

def _forward(node: Node, args: list):
    """The gate's output, as the engine computes it (its shape errors name the gate)."""
    op = node.op
    if op.vjp is not None:
        return _forward_array_op(node, args)
    if len(args) >= 2:
        _check_broadcast(node, args)
    return op.forward(*args)


def _variable_value(node: Node, arrays: dict):
    value = arrays.get(node.name)
    if value is None:
        return np.float64(node.default)
    return value[()] if value.ndim == 0 else value


def _non_finite_tangent(node: Node, tangent) -> Diagnostic:
    return Diagnostic("domain", f"the tangent of gate {_at(node)} is {_describe(tangent)}", node)


def _careful(graph: Graph, arrays: dict, seeds: dict, diagnostics: list, keep: bool,
             n: int | None = None, max_memory: int | None = None):
    """The careful pass: values and tangents gate by gate, the engine's checks at every gate
    (appended to `diagnostics`), and with `keep` the records. Returns (value, tangent, records)."""
    nodes = graph.nodes
    needs = depends_on(graph, arrays)  # the gates reverse mode visits, and so checks for kinks
    values: list = [None] * len(nodes)
    tangents: list = [None] * len(nodes)
    records: list | None = [] if keep else None
    kinks: list = []
    moved: list = []  # where a tangent became nan or inf
    reached = Reach(nodes, seeds, n, lambda node: values[node.id])  # (made only if asked for)
    flag = _FloatingPointFlag()
    with np.errstate(all="call", under="ignore", call=flag):
        for node in nodes:
            k = node.id
            if node.kind == "var":
                values[k] = _variable_value(node, arrays)
                tangents[k] = seeds.get(node.name)
                continue
            if node.kind == "const":
                values[k] = np.float64(node.default)
                continue
            op = node.op
            args = [values[i.id] for i in node.inputs]
            flag.raised = False
            ans = _forward(node, args)
            if (flag.raised or op.body is not None) and not np.isfinite(ans).all():
                diagnostics.append(_produced(node, ans, all(np.isfinite(a).all() for a in args)))
            values[k] = ans
            if needs[k] and op.at_kink(*args, **node.params):
                kinks.append(_at_its_kink(node))
            ins = [tangents[i.id] for i in node.inputs]
            terms: list = []
            if any(t is not None for t in ins):
                tangent = gate_tangent(node, ans, args, ins, n, max_memory=max_memory, terms=terms,
                                       reach=lambda index, node=node: reached.of(node.inputs[index]))
                if tangent is not None and not np.isfinite(tangent).all() and all(
                        t is None or np.isfinite(t).all() for t in ins):
                    moved.append(_non_finite_tangent(node, tangent))
            else:
                tangent = None
                terms = [None] * len(ins)
            tangents[k] = tangent
            if keep:
                records.append(_record(node, ans, args, ins, terms, tangent, n))
    # the kinks after the forward pass's warnings, output first, as the engine finds them in its
    # backward pass; then the tangents'
    kinks.reverse()
    diagnostics += kinks + moved
    out = graph.output.id
    return values[out], tangents[out], records


def _record(node: Node, ans, args: list, ins: list, terms: list, tangent, n: int | None) -> ForwardRecord:
    op = node.op
    shape = np.shape(ans)

    def full(x):
        if x is None:
            return 0.0
        if shape == () and np.ndim(x) == 0:
            return float(x)
        target = shape if n is None else shape + (n,)
        return x if np.shape(x) == target else np.array(np.broadcast_to(x, target))

    if op.vjp is None:
        locals_ = []
        for k in range(len(args)):
            local = op.locals[k](ans, *args)
            if isinstance(local, float) or np.ndim(local) == 0:
                local = float(local)
            elif np.shape(local) != shape:
                local = np.array(np.broadcast_to(local, shape))
            locals_.append(local)
        locals_ = tuple(locals_)
    else:
        locals_ = tuple(_jvp_text(op, k) for k in range(len(args)))
    tangents_in = tuple(0.0 if t is None else (float(t) if np.ndim(t) == 0 else t) for t in ins)
    value = float(ans) if np.ndim(ans) == 0 else ans
    return ForwardRecord(node, value, locals_, tangents_in, tuple(full(t) for t in terms), full(tangent))


def _jvp_text(op, k: int) -> str:
    """A non-elementwise gate's local for input k as forward mode reads it: the op's formula where
    it gives ∂ans/∂input element by element (a reduction's: "1 for each element", "x/‖x‖"); where
    it is a VJP ("vjp: g·bᵀ", an op linear in that input) the term is the op applied to the
    input's tangent, written so: "jvp: da @ b", "jvp: T(da)"."""
    text = op.formulas[k] if k < len(op.formulas) else ""
    if not text.startswith("vjp:"):
        return text
    args = ["d" + letter if i == k else letter for i, letter in enumerate("abc"[:op.arity])]
    if op.symbol == "@":
        return f"jvp: {args[0]} @ {args[1]}"
    return f"jvp: {op.call_name}({', '.join(args)})"


class _Unusual(Exception):
    """The lean pass met something its shortcuts do not cover: the careful pass runs instead."""


_TINY = float(np.finfo(np.float64).tiny)


def _scale(a: float, b: float) -> float:
    """a × b for two scalar factors (Python floats overflow to inf silently): _Unusual where
    the product is not finite, or subnormal, or a zero that neither factor is."""
    p = a * b
    if math.isfinite(p) and (abs(p) >= _TINY or (p == 0.0 and (a == 0.0 or b == 0.0))):
        return p
    raise _Unusual


class _Pool:
    """The arrays the lean pass made (`take`), with how many slots (values, tangents) hold each:
    one held by a single slot that dies at this gate may be written into, and one no slot holds
    any more is handed to the next `take` of its shape (no new pages to fault in). An array
    given to code that may return a view of it or the array itself (an op with a VJP, a forward
    that is not a ufunc) is pinned: never written into nor handed out again."""

    __slots__ = ("held", "free")

    def __init__(self) -> None:
        self.held: dict[int, list] = {}
        self.free: list[np.ndarray] = []

    def take(self, shape: tuple) -> np.ndarray:
        free = self.free
        for index, array in enumerate(free):
            if array.shape == shape:
                del free[index]
                break
        else:
            array = np.empty(shape)
        self.held[id(array)] = [array, 0]
        return array

    def hold(self, array) -> None:
        entry = self.held.get(id(array))
        if entry is not None and entry[0] is array:
            entry[1] += 1

    def drop(self, array) -> None:
        entry = self.held.get(id(array))
        if entry is not None and entry[0] is array:
            entry[1] -= 1
            if entry[1] <= 0:
                del self.held[id(array)]
                self.free.append(array)

    def sole(self, array) -> bool:
        entry = self.held.get(id(array))
        return entry is not None and entry[0] is array and entry[1] == 1

    def adopt(self, array):
        """A new array NumPy made for the pass (held by no slot yet), to be reused."""
        if isinstance(array, np.ndarray) and array.ndim and array.base is None:
            self.held[id(array)] = [array, 0]
            return _FRESH
        return _READ_ONLY

    def pin(self, array) -> None:
        entry = self.held.get(id(array))
        if entry is not None and entry[0] is array:
            del self.held[id(array)]


def _lean(graph: Graph, arrays: dict, seeds: dict, inputs_finite: bool = False):
    """The lean pass: (value, tangent, kinks), or None where something unusual happened (a
    floating-point error, a nan or inf in f or its tangent, a scalar factor out of the normal
    range): the careful pass then runs.

    A tangent here is a pair (t, c) standing for c·t, c a Python float: a scalar local gradient
    (a negation, the w of w·x, a seed that is a number times a local that is an array) scales c
    and costs no pass over an array; c is applied where two tangents with different factors
    meet, and at the end. Values and tangents are let go after their last reader, and an array
    that dies at a gate is written in place there (`_Pool`).

    `inputs_finite`: the values, seeds and constants hold no nan or inf. Then, on a graph of the
    registry's elementwise ops, a nan or inf can only come from a floating-point error, which
    raises the flag (0·inf is an invalid operation, an overflow and a division by zero are
    errors): f and ∂f·t need no pass of their own to be known finite."""
    from .shapes import _reads

    needs, last = _lean_plan(graph, arrays)
    nodes = graph.nodes
    out = graph.output.id
    values: list = [None] * len(nodes)
    tangents: list = [None] * len(nodes)
    factors: list = [1.0] * len(nodes)
    pool = _Pool()
    kinks: list = []
    flag = _FloatingPointFlag()
    try:
        with np.errstate(all="call", under="ignore", call=flag):
            for node in nodes:
                k = node.id
                kind = node.kind
                if kind == "var":
                    values[k] = _variable_value(node, arrays)
                    t = seeds.get(node.name)
                    if t is not None:
                        tangents[k] = t
                    continue
                if kind == "const":
                    values[k] = np.float64(node.default)
                    continue
                op = node.op
                inputs = node.inputs
                args = [values[i.id] for i in inputs]
                if (op.kink is not None or op.kink_offset is not None) and needs[k] and \
                        op.at_kink(*args, **node.params):
                    kinks.append(_at_its_kink(node))
                moving = [index for index, i in enumerate(inputs) if tangents[i.id] is not None]
                ufunc = op.ufunc
                if op.vjp is None and ufunc is not None:
                    if len(args) == 2:
                        _check_broadcast(node, args)
                        sa, sb = np.shape(args[0]), np.shape(args[1])
                        shape = sa if sa == sb or not sb else sb if not sa else np.broadcast_shapes(sa, sb)
                    else:
                        shape = np.shape(args[0])
                    if shape:
                        read = {r for index in moving for r in _reads(node, index)}
                        into = None
                        for index, (i, a) in enumerate(zip(inputs, args)):
                            if (last[i.id] == k and i.id != out and index not in read and pool.sole(a)
                                    and a.shape == shape):
                                into = a
                                break
                        if into is None:
                            into = pool.take(shape)
                        ans = ufunc(*args, out=into)
                    else:
                        ans = ufunc(*args)
                else:
                    for a in args:
                        pool.pin(a)
                    ans = _forward(node, args)
                values[k] = ans
                pool.hold(ans)
                if op.vjp is None:
                    tangent, factor = _lean_elementwise(node, k, ans, args, tangents, factors, pool, last)
                elif moving:
                    ins = []
                    for i in inputs:  # (the factors applied: an op with a VJP takes plain tangents)
                        t = tangents[i.id]
                        c = factors[i.id]
                        pool.pin(t)
                        ins.append(t if t is None or c == 1.0 else t * c)
                    tangent, factor = gate_tangent(node, ans, args, ins, guard=False), 1.0
                else:
                    tangent, factor = None, 1.0
                if tangent is not None:
                    tangents[k] = tangent
                    factors[k] = factor
                    pool.hold(tangent)
                for i in inputs:  # (let go of what no later gate reads)
                    j = i.id
                    if last[j] == k and j != out:
                        a = values[j]
                        if a is not None:
                            values[j] = None
                            pool.drop(a)
                        t = tangents[j]
                        if t is not None:
                            tangents[j] = None
                            pool.drop(t)
                args = ans = tangent = t = a = into = None
            value, tangent, factor = values[out], tangents[out], factors[out]
            if tangent is not None and factor != 1.0:
                if pool.sole(tangent) and tangent is not value:
                    np.multiply(tangent, factor, out=tangent)
                else:
                    tangent = tangent * factor
    except (_Unusual, ArithmeticError):  # (Python floats raise where NumPy's would flag)
        return None
    if flag.raised:
        return None
    if not (inputs_finite and _elementwise_only(graph)) and (not _all_finite(np.asarray(value)) or (
            tangent is not None and not _all_finite(np.asarray(tangent)))):
        return None
    kinks.reverse()
    return value, tangent, kinks


# how writable a term of _lean_elementwise is: not at all (a value, a seed, an array held
# elsewhere), in place though its input's slot holds it (that slot lets go of it at this gate),
# or made for this gate alone (to be let go of if abandoned)
_READ_ONLY, _BORROWED, _FRESH = 0, 1, 2


def _lean_elementwise(node: Node, k: int, ans, args: list, tangents: list, factors: list, pool: _Pool,
                      last: list):
    """(t, c) for an elementwise gate in the lean pass (see _lean), or (None, 1.0)."""
    op = node.op
    kernel = op.in_place
    terms = []
    shape = np.shape(ans)
    for index, inp in enumerate(node.inputs):
        j = inp.id
        tk = tangents[j]
        if tk is None:
            continue
        made = []

        def fresh():
            array = pool.take(shape)
            made.append(array)
            return array

        if (kernel is not None and kernel.times is not None and tk.__class__ is np.ndarray and tk.shape == shape
                and last[j] == k and pool.sole(tk) and node.inputs.count(inp) == 1):
            # (t dies here: multiplied by the local in its own array, no array for the local)
            got = kernel.times(index, tk, ans, *args)
            if got is not None:
                terms.append((tk, _scale(factors[j], got), _BORROWED))
                continue
        got = kernel.local(index, fresh, ans, *args) if kernel is not None else None
        if got is None:
            local, c = op.locals[index](ans, *args), factors[j]
        else:
            local, c = got
            c = _scale(c, factors[j])
        mine = bool(made) and local is made[0]  # an array made for this edge alone
        for array in made[1 if mine else 0:]:
            pool.drop(array)
        if local.__class__ is float or np.ndim(local) == 0:
            if mine:
                local = local[()]
                pool.drop(made[0])
            terms.append((tk, _scale(c, float(local)), _READ_ONLY))
            continue
        if tk.__class__ is float or np.ndim(tk) == 0:  # a number: it joins the factor
            terms.append((local, _scale(c, float(tk)), _FRESH if mine else _READ_ONLY))
            continue
        if mine and local.shape == np.broadcast_shapes(local.shape, tk.shape):
            terms.append((np.multiply(local, tk, out=local), c, _FRESH))
        elif (last[j] == k and pool.sole(tk) and tk.shape == np.broadcast_shapes(local.shape, tk.shape)
              and node.inputs.count(inp) == 1):
            terms.append((np.multiply(tk, local, out=tk), c, _BORROWED))
        else:
            if mine:
                pool.drop(local)
            product = local * tk
            terms.append((product, c, pool.adopt(product)))
    if not terms:
        return None, 1.0
    tangent, factor, state = terms[0]
    for term, c, other in terms[1:]:
        if c != factor:
            if factor == 0.0:
                raise _Unusual
            ratio = c / factor
            if not (math.isfinite(ratio) and abs(ratio) >= _TINY):
                raise _Unusual
            if other != _READ_ONLY:
                term = np.multiply(term, ratio, out=term)
            else:
                term = term * ratio
                other = pool.adopt(term)
        both = np.broadcast_shapes(np.shape(tangent), np.shape(term))
        if state != _READ_ONLY and np.shape(tangent) == both:
            np.add(tangent, term, out=tangent)
            if other == _FRESH:
                pool.drop(term)
        elif other != _READ_ONLY and np.shape(term) == both:
            if state == _FRESH:
                pool.drop(tangent)
            tangent = np.add(term, tangent, out=term)
            state = other
        else:
            if state == _FRESH:
                pool.drop(tangent)
            if other == _FRESH:
                pool.drop(term)
            tangent = tangent + term
            state = pool.adopt(tangent)
    return tangent, factor


def _elementwise_only(graph: Graph) -> bool:
    """Whether every gate is a registry op that is elementwise, and every constant finite (kept
    on the graph): a graph whose floating-point errors NumPy's flag sees, each one."""
    known = graph.__dict__.get("_forward_elementwise")
    if known is None:
        known = graph._forward_elementwise = all(
            node.op.vjp is None and node.op.body is None if node.kind == "gate"
            else node.kind != "const" or math.isfinite(node.default) for node in graph.nodes)
    return known


def _floats(graph: Graph) -> bool:
    """Whether every gate has a kernel on Python floats (kept on the graph)."""
    known = graph.__dict__.get("_forward_floats")
    if known is None:
        known = graph._forward_floats = all(
            node.op.scalar is not None and node.op.body is None for node in graph.nodes if node.kind == "gate")
    return known


def _scalar_pass(graph: Graph, arrays: dict, seeds: dict, keep: bool):
    """Forward mode for a graph of scalars on Python floats, with the registry's float kernels
    (`Op.scalar`: the NumPy kernels' results to the bit): (value, tangent, kinks, records), or
    None at anything unusual (a floating-point error, a nan or inf, a value or local gradient
    that is not finite), where the NumPy passes take over and report it."""
    needs, _ = _lean_plan(graph, arrays)
    nodes = graph.nodes
    values: list = [0.0] * len(nodes)
    tangents: list = [None] * len(nodes)
    kinks: list = []
    records: list | None = [] if keep else None
    isfinite = math.isfinite
    try:
        with np.errstate(all="raise", under="ignore"):
            for node in nodes:
                k = node.id
                kind = node.kind
                if kind == "var":
                    given = arrays.get(node.name)
                    value = float(node.default if given is None else given)
                    if not isfinite(value):
                        return None
                    values[k] = value
                    tangents[k] = seeds.get(node.name)
                    continue
                if kind == "const":
                    values[k] = float(node.default)
                    continue
                op = node.op
                scalar = op.scalar
                inputs = node.inputs
                args = [values[i.id] for i in inputs]
                ans = scalar.forward(*args)
                if not isfinite(ans):
                    return None
                values[k] = ans
                if (op.kink is not None or op.kink_offset is not None) and needs[k] and \
                        op.at_kink(*args, **node.params):
                    kinks.append(_at_its_kink(node))
                tangent = None
                if keep:
                    locals_, ins, products = [], [], []
                for index, inp in enumerate(inputs):
                    tk = tangents[inp.id]
                    if tk is None and not keep:
                        continue
                    local = scalar.locals[index]
                    if local.__class__ is not float:
                        local = float(local(ans, *args))
                    if not isfinite(local):
                        return None
                    if tk is not None:
                        term = tk if local == 1.0 else local * tk
                        tangent = term if tangent is None else tangent + term
                    if keep:
                        locals_.append(local)
                        ins.append(0.0 if tk is None else tk)
                        products.append(0.0 if tk is None else term)
                if tangent is not None and not isfinite(tangent):
                    return None
                tangents[k] = tangent
                if keep:
                    records.append(ForwardRecord(node, ans, tuple(locals_), tuple(ins), tuple(products),
                                                 0.0 if tangent is None else tangent))
    except (ArithmeticError, ValueError, TypeError):  # math's and NumPy's raised errors
        return None
    out = graph.output.id
    kinks.reverse()
    return values[out], tangents[out], kinks, records


def _lean_plan(graph: Graph, arrays: dict):
    """(needs, last reader of each node), kept on the graph for the same variables with values."""
    key = frozenset(name for name in graph.variables if name in arrays)
    cached = graph.__dict__.get("_forward_plan")
    if cached is not None and cached[0] == key:
        return cached[1]
    needs = depends_on(graph, arrays)  # the gates reverse mode visits, and so checks for kinks
    last = [-1] * len(graph.nodes)
    for node in graph.nodes:
        for i in node.inputs:
            last[i.id] = node.id
    graph._forward_plan = (key, (needs, last))
    return needs, last


def jvp(graph: Graph, values: Mapping[str, object] | None, tangents: Mapping[str, object] | None, *,
        trace: bool | None = None, max_memory: int | None = None) -> JVP:
    """f and its directional derivative ∂f·t at `values`, for the tangent t: `tangents` maps a
    variable's name to its direction (a number, nested list or array of the variable's shape; 0
    for those it leaves out). One forward pass (see the module); never the Jacobian.

    trace=True: the records at once; None (default): at once for a small run (values within
    engine.KEEP_BYTES), else made when first read; False: made when first read. The numbers and
    diagnostics are the same for all three.

    Raises MissingValueError (a variable without a value), ValueFormatError (a value or tangent
    that is not numbers; a tangent that is not finite), ShapeError (shapes that do not fit a
    gate, a tangent not of its variable's shape), GradcliError (a tangent for a name that is not
    a variable with a value), ResourceError (more memory than `max_memory` bytes)."""
    values = dict(values or {})
    if graph.assumes:
        graph._check_assumed(values)
    with np.errstate(all="ignore"):
        arrays, diagnostics = bind_values(graph, values, finite=False)
    diagnostics[:0] = graph.notes
    shapes = {name: arrays[name].shape for name in graph.variables if name in arrays}
    finite_ids: set = set()  # (values found finite with their tangent, in one pass each)
    seeds = _given_tangents(tangents if tangents is not None else {}, shapes, arrays, finite_ids)
    with np.errstate(all="ignore"):
        diagnostics += value_diagnostics(graph, arrays, finite_ids)
    if max_memory is not None:
        from .shapes import check_memory

        check_memory(graph, arrays, True, max_memory)
    small = sum(a.nbytes for a in arrays.values()) <= KEEP_BYTES
    keep = trace is True or (trace is None and small)

    def careful(keep: bool, found: list):
        with np.errstate(all="ignore"):
            return _careful(graph, arrays, seeds, found, keep, max_memory=max_memory)

    records = None
    floats = all(a.ndim == 0 for a in arrays.values()) and _floats(graph)
    if floats:  # a graph of scalars: Python floats, records and all (as cheap to keep as not)
        import gc

        collecting = gc.isenabled()
        gc.disable()  # (records, none of them garbage: no collection passes while they are made)
        try:
            lean = _scalar_pass(graph, arrays, seeds, True)
        finally:
            if collecting:
                gc.enable()
        if lean is not None:
            value, tangent, kinks, records = lean
            diagnostics += kinks
    else:
        finite = not any(d.kind == "domain" for d in diagnostics)  # (the values' nan and inf, if any)
        lean = None if keep else _lean(graph, arrays, seeds, finite)
        if lean is not None:
            value, tangent, kinks = lean
            diagnostics += kinks
    if lean is None:
        value, tangent, records = careful(keep, diagnostics)
    value, tangent = _finish(graph, arrays, value, tangent, seeds)
    if records is None:
        def make():
            again, again_tangent, made = careful(True, [])
            again, again_tangent = _finish(graph, arrays, again, again_tangent, seeds)
            if not (_close(again, value) and _close(again_tangent, tangent)):
                raise GradcliError("f or its tangent computed again for the records differs from this result's: "
                                   "an array given to jvp(), or one it returned, was changed before the records "
                                   "were read", hint="read .records before changing those arrays, or pass trace=True")
            return made
    else:
        make = None
    return JVP(graph, value, tangent, seeds, shapes, diagnostics, records, make)


def _finish(graph: Graph, arrays: dict, value, tangent, seeds: dict):
    """f and its tangent as the caller gets them: floats for a scalar f, else arrays of f's
    shape the caller owns (never an input's array)."""
    shape = np.shape(value)
    if shape == ():
        return float(value), 0.0 if tangent is None else float(tangent)
    inputs = {id(a) for a in arrays.values()} | {id(t) for t in seeds.values()}
    if id(value) in inputs or not isinstance(value, np.ndarray):
        value = np.array(value, dtype=np.float64)
    if tangent is None:
        tangent = np.zeros(shape)
    elif np.shape(tangent) != shape or id(tangent) in inputs or not isinstance(tangent, np.ndarray) \
            or not tangent.flags.writeable:
        tangent = np.array(np.broadcast_to(tangent, shape), dtype=np.float64)
    if tangent is value:
        tangent = tangent.copy()
    return value, tangent


def identity_seeds(names: list[str], shapes: dict, n: int) -> dict[str, np.ndarray]:
    """The identity over the variables' n elements (in `names` order, C order within each) as
    `tangent_columns` seeds: seeds[name] of shape shapes[name] + (n,), column j of the seeds one
    element's unit direction, so that the tangents come back as the Jacobian's columns."""
    seeds, start = {}, 0
    for name in names:
        shape = shapes[name]
        size = math.prod(shape)
        seed = np.zeros((size, n))
        seed[np.arange(size), start + np.arange(size)] = 1.0
        seeds[name] = seed.reshape(shape + (n,))
        start += size
    return seeds


def tangent_columns(graph: Graph, arrays: dict[str, np.ndarray], seeds: dict[str, np.ndarray], n: int, *,
                    max_memory: int | None = None) -> tuple:
    """Forward mode with n tangent columns at once: `seeds[name]` has shape var_shape + (n,)
    (a variable it leaves out has tangent 0). Returns (f, its tangents of shape f.shape + (n,),
    diagnostics): column c of the tangents is the JVP along column c of the seeds, so seeding
    the identity gives the Jacobian's columns.

    The diagnostics are the pass's own: the values' nan/inf, kinks and domains as in reverse
    mode, a tangent that became nan or inf; not the graph's notes nor unused-value warnings (the
    caller knows every output). Raises what `jvp` raises, ShapeError for a seed of another shape,
    GradcliError for a seed of a name that is not a variable with a value."""
    with np.errstate(all="ignore"):
        bound, found = bind_values(graph, dict(arrays))
    diagnostics = [d for d in found if d.kind != "input"]
    for name, seed in seeds.items():
        if name not in graph.variables or name not in bound:
            hint = did_you_mean(str(name), graph.variables) or None
            raise GradcliError(f"tangent {name}: not a variable of the expression with a value", hint=hint)
        want = bound[name].shape + (n,)
        if np.shape(seed) != want:
            raise ShapeError(f"tangent {name}: the seed has shape {np.shape(seed)}, not {want}")
    if max_memory is not None:  # the careful pass keeps every node's value and its n tangent columns
        from .shapes import _bytes, infer

        shapes = infer(graph, {name: a.shape for name, a in bound.items()})[0]
        need = 8 * (n + 1) * sum(math.prod(shapes[node.id]) for node in graph.nodes)
        if need > max_memory:
            raise ResourceError(f"forward mode with {n:,} tangent columns needs about {_bytes(need)}, "
                                f"more than the memory limit of {_bytes(max_memory)}",
                                hint="differentiate with respect to fewer variables, or allow more memory")
    with np.errstate(all="ignore"):
        value, tangent, _ = _careful(graph, bound, {k: np.asarray(v, dtype=np.float64) for k, v in seeds.items()},
                                     diagnostics, False, n=n, max_memory=max_memory)
    shape = np.shape(value)
    value = float(value) if shape == () else np.array(value, dtype=np.float64)
    if tangent is None:
        tangent = np.zeros(shape + (n,))
    else:
        tangent = np.array(np.broadcast_to(tangent, shape + (n,)), dtype=np.float64)
    return value, tangent, diagnostics
