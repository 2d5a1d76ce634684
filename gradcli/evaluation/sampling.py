"""f and its derivatives sampled over a range of one variable (or a grid of two): what
`gradcli plot` draws and `--format csv|json` prints.

One array evaluation, not a loop of scalar runs: the variable becomes the array of all the
points, the others stay the numbers given, and `Graph.evaluate` runs once. Every gate that the
points flow through is elementwise (others are refused, as in `gradcli batch`), so element i of f
depends on point i only, and the gradient the engine gives (that of sum(f)) is, element by
element, f'(x_i). The second derivative is the value of the derivative graph of order 2
(gradcli.differentiation.derivative: the registry's rules applied twice, what `gradcli diff
--order 2` prints), evaluated once over the same array.

Kinks come from the registry: a gate whose op has a `kink_offset` sits at its kink where the
offset is 0, and crosses it between two points where the offset's sign changes; the crossing is
placed by linear interpolation of the offset.

A curve is broken (not drawn) on the segment between two points where it is not finite at
either end, where it jumps, or where it crosses a pole. With the next derivative d known, a
segment jumps where |Δc| > JUMP·max(|d|)·Δx (the mean value theorem bounds a smooth change by
the slope), and crosses a pole where d has one sign at both ends and c moves the other way (a
continuous c cannot). The last derivative drawn has no next one to judge by: it is broken
wherever a kink is crossed (the derivative of a kink op jumps there: relu' is step), which leaves
a gap of a segment where it happens not to jump (the f'' of |x|³).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..base.errors import GradcliError, did_you_mean
from ..core.graph import Graph, Node, depends_on

DEFAULT_POINTS = 401  # odd: a symmetric range such as -5:5 has its middle, 0, as a point
DEFAULT_GRID = 101  # per axis, for two variables
MAX_POINTS = 1_000_000
MAX_GRID = 2000  # per axis: 4·10⁶ points
MIN_POINTS = 2
# A segment whose change is more than JUMP times what the larger end slope allows is a jump.
JUMP = 8.0
MAX_KINKS = 1000  # kink marks kept (the rest counted)
THIN = 8  # a piece of more points than this many per dot column is thinned for drawing


def symbol(name: str, order: int) -> str:
    """f, ∂f/∂x, ∂²f/∂x²: the curve's name for people."""
    return "f" if order == 0 else ("∂f/∂" + name if order == 1 else f"∂²f/∂{name}²")


def key(name: str, order: int) -> str:
    """f, df/dx, d2f/dx2: the curve's name as a CSV column or JSON key (ASCII)."""
    return "f" if order == 0 else (f"df/d{name}" if order == 1 else f"d2f/d{name}2")


@dataclass
class Curve:
    """One sampled function: `values` at the points (shape (N,)), and `broken`, shape (N-1,):
    True where the segment from point i to i+1 is not drawn."""

    order: int
    label: str
    key: str
    values: np.ndarray
    broken: np.ndarray

    def runs(self) -> list[tuple[int, int]]:
        """The drawn pieces as index ranges [start, stop): consecutive finite points joined by
        unbroken segments (a piece may be one point)."""
        finite = np.isfinite(self.values)
        joined = finite[:-1] & finite[1:] & ~self.broken  # segment i drawn
        before = np.concatenate([[False], joined])  # point i joined to point i - 1
        after = np.concatenate([joined, [False]])  # point i joined to point i + 1
        starts = np.flatnonzero(finite & ~before)
        stops = np.flatnonzero(finite & ~after) + 1
        return list(zip(starts.tolist(), stops.tolist()))


    def pieces(self, x: np.ndarray, columns: int | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """The drawn pieces as (x, values) arrays. With `columns` (the plot's width in dots), a
        piece of more than THIN·columns points keeps, per half column, its first, last, lowest
        and highest points, in order: the same picture from far fewer points (a terminal plot
        of 10⁶ points draws ~1,000)."""
        out = []
        for start, stop in self.runs():
            index = np.arange(start, stop)
            if columns is not None and stop - start > THIN * columns:
                index = _extremes(self.values, start, stop, 2 * columns)
            out.append((x[index], self.values[index]))
        return out


    def drawn(self, x: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The points of `pieces(x, columns)` in one go: (x, values, first), `first` True where
        a piece starts. Vectorized: a curve broken into 10⁶ pieces costs no Python loop over them."""
        starts, stops = self._run_bounds()
        keep = np.isfinite(self.values)  # every finite point is in one run
        extra = []
        long = stops - starts > THIN * columns
        for start, stop in zip(starts[long].tolist(), stops[long].tolist()):  # (few: each is long)
            keep[start:stop] = False
            extra.append(_extremes(self.values, start, stop, 2 * columns))
        index = np.flatnonzero(keep)
        if extra:
            index = np.unique(np.concatenate([index, *extra]))
        first = np.isin(index, starts)
        return x[index], self.values[index], first

    def _run_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        finite = np.isfinite(self.values)
        joined = finite[:-1] & finite[1:] & ~self.broken
        before = np.concatenate([[False], joined])
        after = np.concatenate([joined, [False]])
        return np.flatnonzero(finite & ~before), np.flatnonzero(finite & ~after) + 1


def _extremes(values: np.ndarray, start: int, stop: int, columns: int) -> np.ndarray:
    """The indexes in [start, stop) of each of `columns` equal buckets' first, last, lowest and
    highest value, sorted."""
    edges = np.linspace(start, stop, columns + 1).astype(np.int64)
    keep = [edges[:-1], edges[1:] - 1]
    for low, high in zip(edges[:-1], edges[1:]):
        if high > low:
            chunk = values[low:high]
            keep.append(np.array([low + np.argmin(chunk), low + np.argmax(chunk)]))
    return np.unique(np.concatenate(keep))


@dataclass
class Kink:
    """Where a gate's kink lies along the range: `x`, the gate (its label and gate name), the
    registry's convention there, and whether a point sits on it exactly (else interpolated)."""

    x: float
    gate: str
    rule: str
    exact: bool
    f: float = math.nan  # f there (interpolated between the points around it)


@dataclass
class Samples:
    """f and its derivatives with respect to `wrt` at the points `x` (the others held at `held`)."""

    wrt: str
    x: np.ndarray
    curves: list[Curve]
    kinks: list[Kink]
    held: dict
    order: int
    warnings: list[str] = field(default_factory=list)
    kinks_left_off: int = 0

    def limits(self) -> tuple[float, float]:
        """A y range that shows the curves' shape: all finite values, unless a few (near a pole)
        lie far beyond the bulk; then the bulk (5th to 95th percentile) widened. (lo, hi), lo < hi."""
        return view_limits(np.concatenate([c.values for c in self.curves]))


@dataclass
class Field:
    """f and its gradient over a grid of two variables: `x` (nx,), `y` (ny,), each array (ny, nx)."""

    names: tuple[str, str]
    x: np.ndarray
    y: np.ndarray
    f: np.ndarray
    gradient: tuple[np.ndarray, np.ndarray]
    held: dict
    warnings: list[str] = field(default_factory=list)

    @property
    def norm(self) -> np.ndarray:
        """‖∇f‖ at every grid point."""
        with np.errstate(all="ignore"):
            return np.hypot(*self.gradient)


def view_limits(values: np.ndarray) -> tuple[float, float]:
    """A y range for `values`: their finite span, or the bulk when outliers (a pole) dominate."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return -1.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    if finite.size >= 20:
        q_lo, q_hi = (float(q) for q in np.percentile(finite, [5, 95]))
        spread = q_hi - q_lo
        if spread > 0 and hi - lo > 10 * spread:
            lo, hi = max(lo, q_lo - spread), min(hi, q_hi + spread)
    # (in halves and within ±LIMIT, so that hi - lo, and a plot's step per dot, stay finite)
    if hi / 2 - lo / 2 <= 0.5e-12 * max(abs(lo), abs(hi), 1.0):  # a flat curve: a band around it
        pad = max(abs(lo) * 0.1, 1.0)
        return max(lo - pad, -LIMIT), min(hi + pad, LIMIT)
    pad = 0.05 * hi - 0.05 * lo
    return max(lo - pad, -LIMIT), min(hi + pad, LIMIT)


LIMIT = 4e307  # the widest y range: ±LIMIT (a quarter of the largest float)


def check_range(low: float, high: float, what: str = "--range") -> None:
    if not (math.isfinite(low) and math.isfinite(high)):
        raise GradcliError(f"{what} {low:g}:{high:g}: both ends must be finite numbers", hint="write e.g. -5:5")
    if not math.isfinite(high - low):
        raise GradcliError(f"{what} {low:g}:{high:g} is too wide: its length overflows a float",
                           hint="write e.g. -1e300:1e300")
    if low < high and not (high - low) / 1e7 > 0:  # a plot's dots and points must differ
        raise GradcliError(f"{what} {low:g}:{high:g} is too narrow to plot", hint="write e.g. -5:5")
    if not low < high:
        raise GradcliError(f"{what} {low:g}:{high:g}: the low end must be below the high end",
                           hint=f"write e.g. {min(low, high):g}:{max(low, high):g}" if low != high else
                           "write e.g. -5:5")


def _plan(graph: Graph, names: list[str], values: dict) -> dict:
    """The values held fixed (scalars), after checking the names and that the points flow through
    elementwise gates only."""
    from ..language.composite import mixing_gate

    for name in names:
        if name not in graph.variables:
            known = ", ".join(graph.variables) or "none"
            raise GradcliError(f"--wrt {name}: not a variable of the expression",
                               hint=did_you_mean(name, list(graph.variables)) or f"its variables are: {known}")
    held = {}
    for name, value in values.items():
        if name in names or name not in graph.variables:
            continue
        # an array is held whole (x*sum(A)); f must still be a scalar at each point (_probe)
        held[name] = float(value) if np.ndim(value) == 0 else np.asarray(value, dtype=np.float64)
    mixing = mixing_gate(graph, names)
    if mixing is not None:
        node, inner = mixing
        through = "" if inner is node else f" (through its gate {inner.label!r}, {inner.gate_name})"
        raise GradcliError(
            f"plot evaluates all points at once, but gate {node.label!r} ({node.gate_name}) combines "
            f"elements{through} and {names[0]} flows into it", span=node.span,
            hint="plot a function that is elementwise in the plotted variable; "
                 "gradcli eval gives f and its gradient at one point")
    return held


def _probe(graph: Graph, names: list[str], held: dict, at: list[float]) -> None:
    """f at one point, as scalars: the engine's own errors (a missing value, a shape), and f a scalar."""
    values = dict(held)
    values.update(zip(names, at))
    result = graph.evaluate(values, trace=False)
    if np.ndim(result.value) != 0:
        raise GradcliError(f"plot needs a scalar f, and this one has shape {np.shape(result.value)}",
                           hint="plot a scalar of it, such as sum(...) or one of its elements")


def sample(graph: Graph, wrt: str, low: float, high: float, values: dict | None = None, *,
           order: int = 1, points: int = DEFAULT_POINTS, expanded: Graph | None = None) -> Samples:
    """f, ∂f/∂wrt and (order 2) ∂²f/∂wrt² at `points` evenly spaced points from `low` to `high`,
    the other variables held at `values` (numbers).

    `expanded`: the same program with its function calls expanded into primitive gates
    (parse(…, expand=True)), when it has calls: the kinks inside a function's body are found
    from its forward pass over the same points (a call is one gate of `graph`, with no kink of
    its own).

    Raises GradcliError for a name that is not a variable, a gate that combines the points (sum, @, ...), an f that is not a scalar, a missing value,
    a bad range; ValueError for an order other than 1 or 2 or points outside [2, MAX_POINTS]."""
    if order not in (1, 2):
        raise ValueError(f"the order of a plot is 1 or 2, not {order!r}")
    if not MIN_POINTS <= points <= MAX_POINTS:
        raise ValueError(f"a plot has from {MIN_POINTS} to {MAX_POINTS} points, not {points}")
    check_range(low, high)
    held = _plan(graph, [wrt], dict(values or {}))
    _probe(graph, [wrt], held, [low])
    x = np.linspace(low, high, points)
    if not (np.diff(x) > 0).all():
        raise GradcliError(f"the range {low:.17g}:{high:.17g} is too narrow for {points} points: neighbouring "
                           "points are the same number", hint="plot a wider range, or fewer points")
    arrays = dict(held)
    arrays[wrt] = x
    kink_graph = graph if expanded is None else expanded
    reached = depends_on(kink_graph, [wrt])
    kink_gates = [node for node in _kink_gates(kink_graph) if reached[node.id]]  # (the others are constant)
    with np.errstate(all="ignore"):
        result = graph.evaluate(arrays, trace=bool(kink_gates) and expanded is None)  # (records read below)
    f = _spread(result.value, points)
    df = _spread(result.gradients[wrt], points)
    columns = [f, df]
    if order == 2:
        from ..differentiation.derivative import derivative

        second = derivative(graph, wrt, 2, scalars=True)
        with np.errstate(all="ignore"):
            columns.append(_spread(second.evaluate(arrays, trace=False).value, points))
    if kink_gates and expanded is not None:
        with np.errstate(all="ignore"):
            forward = expanded.evaluate(arrays, trace=True)
    else:
        forward = result
    kinks, crossed, left_off = _kinks(kink_gates, forward, x, f)
    dx = np.diff(x)
    curves = []
    for k, values_k in enumerate(columns):
        nxt = columns[k + 1] if k + 1 < len(columns) else None
        broken = _breaks(values_k, nxt, dx, crossed if k > 0 and nxt is None else None)
        curves.append(Curve(k, symbol(wrt, k), key(wrt, k), values_k, broken))
    warnings = _non_finite_warnings(wrt, x, curves)
    return Samples(wrt, x, curves, kinks, held, order, warnings, left_off)


def sample_field(graph: Graph, names: tuple[str, str], ranges: tuple[tuple[float, float], tuple[float, float]],
                 values: dict | None = None, *, points: int = DEFAULT_GRID) -> Field:
    """f and ∇f = (∂f/∂x, ∂f/∂y) over a points × points grid of the two variables `names` over
    `ranges`, the others held at `values`, in one array evaluation. Errors as `sample`."""
    if len(names) != 2 or names[0] == names[1]:
        raise GradcliError("a field is over two different variables", hint="write --wrt x,y")
    if not MIN_POINTS <= points <= MAX_GRID:
        raise ValueError(f"a grid has from {MIN_POINTS} to {MAX_GRID} points per axis, not {points}")
    for name, (low, high) in zip(names, ranges):
        check_range(low, high, f"--range for {name}")
    held = _plan(graph, list(names), dict(values or {}))
    _probe(graph, list(names), held, [ranges[0][0], ranges[1][0]])
    x = np.linspace(*ranges[0], points)
    y = np.linspace(*ranges[1], points)
    grid_x, grid_y = np.meshgrid(x, y)
    arrays = dict(held)
    arrays[names[0]] = grid_x.ravel()
    arrays[names[1]] = grid_y.ravel()
    with np.errstate(all="ignore"):
        result = graph.evaluate(arrays, trace=False)
    shape = grid_x.shape
    f = _spread(result.value, grid_x.size).reshape(shape)
    gx = _spread(result.gradients[names[0]], grid_x.size).reshape(shape)
    gy = _spread(result.gradients[names[1]], grid_x.size).reshape(shape)
    warnings = []
    for label, array in (("f", f), (f"∂f/∂{names[0]}", gx), (f"∂f/∂{names[1]}", gy)):
        bad = int(np.count_nonzero(~np.isfinite(array)))
        if bad:
            warnings.append(f"{label} is nan or inf at {bad} of {array.size} grid points (left blank)")
    return Field(tuple(names), x, y, f, (gx, gy), held, warnings)


def _spread(value, n: int) -> np.ndarray:
    """A result as n floats: a scalar (f does not depend on the variable) repeated."""
    array = np.asarray(value, dtype=np.float64)
    if array.shape == (n,):
        return array
    return np.broadcast_to(array, (n,)).copy()


def _kink_gates(graph: Graph) -> list[Node]:
    return [n for n in graph.nodes if n.kind == "gate" and n.op.kink_offset is not None]


def _kinks(gates: list[Node], result, x: np.ndarray, f: np.ndarray):
    """The kinks along x, and per segment whether a kink (any gate) lies in it."""
    n = len(x)
    crossed = np.zeros(n - 1, dtype=bool)
    kinks: list[Kink] = []
    left_off = 0
    if not gates:
        return kinks, crossed, left_off
    trace = result.trace
    for node in gates:
        inputs = [trace[i.id].value for i in node.inputs]
        with np.errstate(all="ignore"):
            offset = np.broadcast_to(np.asarray(node.op.kink_offset(*inputs), dtype=np.float64), (n,))
        side = np.sign(offset)
        finite = np.isfinite(side)
        at = (side == 0) & finite
        change = (side[:-1] != side[1:]) & finite[:-1] & finite[1:]
        if not change.any():
            continue
        crossed |= change
        # (in arrays: a gate may cross its kink at every one of 10⁶ points)
        exact = np.flatnonzero(at)
        between = np.flatnonzero(change & (side[:-1] != 0) & (side[1:] != 0))
        with np.errstate(all="ignore"):
            a, b = offset[between], offset[between + 1]
            t = a / (a - b)
            where = np.concatenate([x[exact], x[between] + t * (x[between + 1] - x[between])])
            value = np.concatenate([f[exact], f[between] + t * (f[between + 1] - f[between])])
        is_exact = np.concatenate([np.ones(len(exact), dtype=bool), np.zeros(len(between), dtype=bool)])
        order = np.lexsort((value, is_exact, where))[:max(0, MAX_KINKS - len(kinks))]  # as tuples sort
        left_off += len(where) - len(order)
        for i in order.tolist():
            kinks.append(Kink(float(where[i]), node.label, node.op.kink_rule, bool(is_exact[i]), float(value[i])))
    kinks.sort(key=lambda k: k.x)
    return kinks, crossed, left_off


def _breaks(c: np.ndarray, d: np.ndarray | None, dx: np.ndarray, crossed: np.ndarray | None) -> np.ndarray:
    """Per segment, whether curve c is broken there (see the module's docstring)."""
    with np.errstate(all="ignore"):
        finite = np.isfinite(c)
        broken = ~(finite[:-1] & finite[1:])
        if d is not None:
            change = np.diff(c)
            d0, d1 = d[:-1], d[1:]
            slope = np.maximum(np.abs(d0), np.abs(d1))
            lo, hi = view_limits(c)
            jump = np.abs(change) > JUMP * slope * dx + 1e-9 * (hi - lo)
            pole = (d0 * d1 > 0) & (change * d0 < 0)
            broken |= np.nan_to_num(jump, nan=False).astype(bool) | pole
        if crossed is not None:
            broken |= crossed
    return broken


def _non_finite_warnings(wrt: str, x: np.ndarray, curves: list[Curve]) -> list[str]:
    warnings = []
    for curve in curves:
        bad = ~np.isfinite(curve.values)
        count = int(np.count_nonzero(bad))
        if count:
            where = x[bad]
            span = f"{wrt} = {where[0]:.6g}" if count == 1 else f"{wrt} from {where.min():.6g} to {where.max():.6g}"
            warnings.append(f"{curve.label} is nan or inf at {count} of {len(x)} points ({span}); "
                            "the curve breaks there")
    return warnings
