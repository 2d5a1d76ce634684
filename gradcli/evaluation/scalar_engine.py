"""Forward and backward on Python floats, for big graphs of scalars (issue 7).

On scalars, NumPy costs about a microsecond per call whatever the work, so the general engine
spends ~100 µs per term of Σ (aᵢ·bᵢ + sin(aᵢ))·e^(−cᵢ). Here every value is a Python float, each
op runs its `Op.scalar` kernel (the same formulas, see gradcli.core.ops.Scalar), and the per-node work
is read from flat lists built once per graph (a `_Plan`, cached on the Graph: a parsed graph is
evaluated again with new values without parsing or planning again).

This path computes what the NumPy engine computes, in the same order, and only answers when the
run was ordinary. Anything else makes `run` return None and `Graph.evaluate` re-runs the whole
evaluation in the NumPy engine, so that every warning and error comes from one place:
  - a value that is not a finite real scalar (an array, a list, text, nan, inf), a value for a
    name the expression does not use (the engine's "input" note), a missing value;
  - a gate without a scalar kernel: reductions and products, user functions, ops with params;
  - a floating-point error in any kernel (log of a negative, 1/0, overflow: NumPy is told to
    raise, Python raises anyway), or a nan/inf anywhere among the values or gradients;
  - a gate that needs a gradient sitting at its kink (relu(0), abs(0), a max/min tie);
  - a max_memory that the run might need (then the NumPy engine's estimate decides).

With trace=True (or None) the run keeps its values and gradients (two lists of floats it makes
anyway), and the records, as the engine makes them (each node's value and gradient, each edge's
local gradient, upstream gradient and result, as Python floats where the engine holds NumPy
scalars or 0-d arrays of the same numbers), are made from them when first read (`_backward_traced`;
or as columns, `_columns`, for the JSON writer).
"""

from __future__ import annotations

import math
from itertools import compress

import numpy as np

from ..core.graph import Graph
from ..core.ops import CONSTANTS
from . import shapes
from ..core.trace import Edge, NodeTrace, RecordColumns, Result

_NAMED = tuple(CONSTANTS)  # names whose variable has a default (pi, e): the parser's, in columns
_INT_LIMIT = 2**53  # larger integers go through NumPy, which converts (or refuses) them its own way


class _Plan:
    """What a run of the graph reads, per node, in flat lists of node ids (topological order).

    Forward, per gate: vals[k] = f(vals[i]) or f(vals[i], vals[j]) (j = -1: unary), from the
    lists `forward` = (ks, fs, is, js). Backward, per gate that needs a gradient, in reverse
    order, `backward` = (ks, is, js, lis, ljs): the local gradient toward input i (j) is
    li(ans, x[, y]), a float constant, or None if that input needs no gradient. Which inputs need
    one depends on the named constants given a value (`pi` is a constant unless given one), so a
    graph has a plan per set of such names (nearly always one).

    A gate of three inputs (clip) has its third in `third[k]` = (z, lz), its local gradients
    taking (ans, x, y, z), and its kink in `third_kinks`; a plan with such gates runs loops of its
    own (`_forward3`, `_backward3`), so the others' loops stay as fast as they were.

    Columns rather than a tuple per gate: a plan then holds a dozen objects that the garbage
    collector tracks, not 100,000 (whose creation would set off full collections over the graph).
    """

    __slots__ = ("template", "forward", "backward", "kinks", "third", "third_kinks", "output",
                 "output_needs", "gradients", "required", "size")

    def __init__(self, graph: Graph, bound: frozenset) -> None:
        if graph.columns is not None and self._from_columns(graph, bound):
            return
        nodes = graph.nodes
        template = [0.0] * len(nodes)  # constants and named constants; variables are filled in
        needs = [False] * len(nodes)
        fk, ff, fi, fj = [], [], [], []
        bk, bi, bj, bli, blj = [], [], [], [], []
        kinks = []
        third: dict = {}
        third_kinks = []
        required = edges = 0
        for node in nodes:
            k = node.id
            kind = node.kind
            if kind != "gate":
                if node.default is not None:
                    template[k] = float(node.default)
                    needs[k] = kind == "var" and node.name in bound
                else:
                    needs[k] = True
                    required += 1
                continue
            op = node.op
            kernel = op.scalar
            if kernel is None or node.params:  # never set for a user function; a gate's params need NumPy
                raise _NoKernel
            inputs = node.inputs
            i = inputs[0].id
            z = -1
            if len(inputs) >= 2:
                j = inputs[1].id
                need_j = needs[j]
                edges += len(inputs)
                if len(inputs) == 3:
                    z = inputs[2].id
            else:
                j, need_j = -1, False
                edges += 1
            fk.append(k)
            ff.append(kernel.forward)
            fi.append(i)
            fj.append(j)
            need_i = needs[i]
            need_z = z >= 0 and needs[z]
            if z >= 0:
                third[k] = (z, kernel.locals[2] if need_z else None)
            if need_i or need_j or need_z:
                needs[k] = True
                if op.kink_offset is not None:
                    if z < 0:
                        kinks.append((op.kink_offset, i, j))
                    else:
                        third_kinks.append((op.kink_offset, i, j, z))
                local = kernel.locals
                bk.append(k)
                bi.append(i)
                bj.append(j)
                bli.append(local[0] if need_i else None)
                blj.append(local[1] if need_j else None)
        for column in (bk, bi, bj, bli, blj):
            column.reverse()
        self.template = template
        self.forward = (fk, ff, fi, fj)
        self.backward = (bk, bi, bj, bli, blj)
        self.kinks = kinks
        self.third = third
        self.third_kinks = third_kinks
        self.output = graph.output.id
        self.output_needs = needs[self.output]
        self.gradients = ([name for name, node in graph.variables.items() if needs[node.id]],
                          [node.id for node in graph.variables.values() if needs[node.id]])
        self.required = required
        # bytes: at least the NumPy engine's estimate for these scalars, traced or not (the
        # inputs, each gate's value and gradient, each edge's local and result, a step's work)
        self.size = (2 * len(nodes) + 2 * edges + 4 * shapes.TEMPORARIES + 2 * shapes.FORMULA) * shapes.ITEM \
            + shapes.BUFFERS


    def _from_columns(self, graph: Graph, bound: frozenset) -> bool:
        """The plan from the columns the parser made (core.graph.Columns), by slicing them: what
        makes the first evaluation of a parsed graph nearly as fast as the next ones. The ids
        are the nodes' indices. False where the columns do not apply (a named constant given a
        value: which gates need a gradient then differs from what the parser recorded)."""
        columns = graph.columns
        if not columns.scalar:
            raise _NoKernel
        variables = graph.variables
        named = [name for name in _NAMED if name in variables]
        if bound and named:
            return False
        n = len(graph.nodes)
        template = [0.0] * n
        for k, value in columns.constants:
            template[k] = float(value)
        names, ids = list(variables), list(columns.position.values())
        if named:
            for name in named:
                template[variables[name].id] = float(variables[name].default)
            names = [name for name in names if name not in named]
            ids = [variables[name].id for name in names]
        flat = columns.gates
        rights = flat[3::6]
        if columns.constant_gates:  # they need no gradient: not in the backward pass
            live = [True] * len(rights)
            for p in columns.constant_gates:
                live[p] = False
            self.backward = tuple(list(compress(flat[c::6], live))[::-1] for c in (0, 2, 3, 4, 5))
        else:
            self.backward = (flat[-6::-6], flat[-4::-6], flat[-3::-6], flat[-2::-6], flat[-1::-6])
        self.template = template
        self.forward = (flat[0::6], flat[1::6], flat[2::6], rights)
        self.kinks = columns.kinks
        self.third = {}
        self.third_kinks = []
        self.output = graph.output.id
        self.output_needs = self.output not in columns.constant
        self.gradients = (names, ids)
        self.required = len(variables) - len(named)
        edges = 2 * len(rights) - rights.count(-1)
        self.size = (2 * n + 2 * edges + 4 * shapes.TEMPORARIES + 2 * shapes.FORMULA) * shapes.ITEM \
            + shapes.BUFFERS
        return True


class _NoKernel(Exception):
    """A gate that only the NumPy engine runs."""


def _scalar(value) -> float | None:
    """A real scalar as a float, else None (the NumPy engine handles it)."""
    if type(value) is not float:
        if isinstance(value, (bool, np.bool_)):
            return None
        if isinstance(value, int):
            if not -_INT_LIMIT <= value <= _INT_LIMIT:
                return None
        elif isinstance(value, np.ndarray):
            if value.ndim != 0 or value.dtype.kind not in "iuf":
                return None
        elif not isinstance(value, (float, np.floating, np.integer)):
            return None
        value = float(value)
    return value


class _Plans:
    """Cached on a Graph: what binding values needs, and a _Plan per set of named constants given."""

    __slots__ = ("position", "named", "by_bound")

    def __init__(self, graph: Graph) -> None:
        if graph.columns is not None:
            self.position = graph.columns.position  # (read only)
            self.named = [name for name in _NAMED if name in graph.variables]
        else:
            self.position = {name: node.id for name, node in graph.variables.items()}
            self.named = [name for name, node in graph.variables.items() if node.default is not None]
        self.by_bound: dict[frozenset, _Plan] = {}


def run(graph: Graph, values: dict, *, trace: bool | None = False, max_memory: int | None = None) -> Result | None:
    """The Result of the NumPy engine's `run`, computed on floats; None where that path does not
    apply or something unusual happened (the caller then runs the NumPy engine). trace=True or
    None: the records are made when first read, from the values and gradients the run kept."""
    plans = graph.__dict__.get("_scalar_plans")
    if plans is None:
        plans = graph._scalar_plans = _Plans(graph)
    elif plans is _NO_PLAN:
        return None
    position = plans.position
    try:
        ids = [position[name] for name in values]
    except KeyError:
        return None  # the engine notes the unused value
    floats = list(values.values())
    if not all(value.__class__ is float for value in floats):
        floats = [_scalar(value) for value in floats]
        if any(value is None for value in floats):
            return None
    if not math.isfinite(sum(floats)):  # a nan or inf (or values adding up past 1e308)
        return None
    key = frozenset(name for name in plans.named if name in values)
    plan = plans.by_bound.get(key)
    if plan is None:
        try:
            plan = plans.by_bound[key] = _Plan(graph, key)
        except _NoKernel:
            graph._scalar_plans = _NO_PLAN
            return None
    if len(ids) - len(key) < plan.required:
        return None  # the engine raises MissingValueError
    if max_memory is not None and ids and plan.size > max_memory:
        return None  # the engine decides whether the run fits

    vals = plan.template[:]
    for k, value in zip(ids, floats):
        vals[k] = value
    try:
        with np.errstate(all="raise", under="ignore"):
            if not (_forward3 if plan.third else _forward)(plan, vals):
                return None
            grads = (_backward3 if plan.third else _backward)(plan, vals)
    except (ArithmeticError, ValueError):  # NumPy's FloatingPointError, 1/0, math's domain errors
        return None
    if grads is None:
        return None
    names, ids = plan.gradients
    gradients = dict(zip(names, [grads[k] for k in ids]))
    # Traced (trace=True or None): the records (as objects, or as columns) are made from the kept
    # values and gradients when first read, without running anything again (the two lists are
    # the run's own: no cost).
    if trace is False:
        return Result(graph, vals[plan.output], gradients, None, list(graph.notes))
    nodes = graph.nodes
    # the records for Result.trace directly (objects, no columns first), the columns for the
    # JSON writer (no objects): whichever is read is made
    return Result(graph, vals[plan.output], gradients, None, list(graph.notes),
                  records=lambda: _backward_traced(plan, vals, grads, nodes),
                  columns=lambda: _columns(plan, vals, grads, nodes))


_NO_PLAN = object()  # a graph with a gate that has no scalar kernel


def _forward(plan: _Plan, vals: list) -> bool:
    """Every gate's value into vals; False if a value is nan or inf or a gate that needs a
    gradient sits at its kink (the NumPy engine then reports it)."""
    for k, f, i, j in zip(*plan.forward):
        vals[k] = f(vals[i]) if j < 0 else f(vals[i], vals[j])
    if not math.isfinite(sum(vals)):  # a nan or inf anywhere (or values adding up past 1e308)
        return False
    for offset, i, j in plan.kinks:
        if (offset(vals[i]) if j < 0 else offset(vals[i], vals[j])) == 0:
            return False
    return True


def _forward3(plan: _Plan, vals: list) -> bool:
    """_forward for a plan with gates of three inputs (their kinks in `third_kinks`)."""
    third = plan.third
    for k, f, i, j in zip(*plan.forward):
        if j < 0:
            vals[k] = f(vals[i])
        elif k in third:
            vals[k] = f(vals[i], vals[j], vals[third[k][0]])
        else:
            vals[k] = f(vals[i], vals[j])
    if not math.isfinite(sum(vals)):
        return False
    for offset, i, j in plan.kinks:
        if (offset(vals[i]) if j < 0 else offset(vals[i], vals[j])) == 0:
            return False
    for offset, i, j, z in plan.third_kinks:
        if offset(vals[i], vals[j], vals[z]) == 0:
            return False
    return True


def _backward(plan: _Plan, vals: list) -> list | None:
    """Every node's gradient (-0.0 where none is needed); None if one is nan or inf.

    -0.0 is the identity of IEEE addition (-0.0 + r is r, also for r = -0.0), so every gradient is
    the sum of its arrivals in the engine's order, exactly as the engine adds them."""
    grads = [-0.0] * len(vals)
    if plan.output_needs:
        grads[plan.output] = 1.0
    for k, i, j, li, lj in zip(*plan.backward):
        g = grads[k]
        if j < 0:
            grads[i] += (li if li.__class__ is float else li(vals[k], vals[i])) * g
            continue
        x, y = vals[i], vals[j]
        if li is not None:
            grads[i] += (li if li.__class__ is float else li(vals[k], x, y)) * g
        if lj is not None:
            grads[j] += (lj if lj.__class__ is float else lj(vals[k], x, y)) * g
    # an edge's nan or inf stays in the gradient it is added to (inf + -inf is nan)
    return grads if math.isfinite(sum(grads)) else None


def _backward3(plan: _Plan, vals: list) -> list | None:
    """_backward for a plan with gates of three inputs (the same sums in the same order)."""
    grads = [-0.0] * len(vals)
    if plan.output_needs:
        grads[plan.output] = 1.0
    third = plan.third
    for k, i, j, li, lj in zip(*plan.backward):
        g = grads[k]
        if j < 0:
            grads[i] += (li if li.__class__ is float else li(vals[k], vals[i])) * g
            continue
        args = (vals[k], vals[i], vals[j])
        extra = third.get(k)
        if extra is not None:
            z, lz = extra
            args += (vals[z],)
        if li is not None:
            grads[i] += (li if li.__class__ is float else li(*args)) * g
        if lj is not None:
            grads[j] += (lj if lj.__class__ is float else lj(*args)) * g
        if extra is not None and lz is not None:
            grads[z] += (lz if lz.__class__ is float else lz(*args)) * g
    return grads if math.isfinite(sum(grads)) else None


def _backward_traced(plan: _Plan, vals: list, grads: list, nodes: list) -> list:
    """The records of a run, as the NumPy engine's traced loop makes them, from its values and
    final gradients (`_backward`'s): every gate's local gradients again from the plan's kernels
    (the same calls on the same floats), each edge's result local × upstream (the product that
    `_backward` added), arrivals in the order they were added."""
    records = [NodeTrace(node, value, None, [], []) for node, value in zip(nodes, vals)]
    third = plan.third
    for k, i, j, li, lj in zip(*plan.backward):
        g = grads[k]
        node = nodes[k]
        record = records[k]
        record.gradient = g
        edges = record.edges
        ans = vals[k]
        if j < 0:
            local = li if li.__class__ is float else li(ans, vals[i])
            edge = Edge(node, 0, local, g, local * g)
            edges.append(edge)
            records[i].arrivals.append(edge)
            continue
        extra = third.get(k) if third else None
        if extra is None:  # (unrolled: a two-input gate is the common case)
            x, y = vals[i], vals[j]
            if li is not None:
                local = li if li.__class__ is float else li(ans, x, y)
                edge = Edge(node, 0, local, g, local * g)
                edges.append(edge)
                records[i].arrivals.append(edge)
            if lj is not None:
                local = lj if lj.__class__ is float else lj(ans, x, y)
                edge = Edge(node, 1, local, g, local * g)
                edges.append(edge)
                records[j].arrivals.append(edge)
            continue
        args = (ans, vals[i], vals[j], vals[extra[0]])
        for index, inp, local in ((0, i, li), (1, j, lj), (2, *extra)):
            if local is None:
                continue
            if local.__class__ is not float:
                local = local(*args)
            edge = Edge(node, index, local, g, local * g)
            edges.append(edge)
            records[inp].arrivals.append(edge)
    for name, k in zip(*plan.gradients):  # variables get theirs here: they are no gate
        records[k].gradient = grads[k]
    return records


def _columns(plan: _Plan, vals: list, grads: list, nodes: list) -> RecordColumns:
    """The records of a run as columns (core.trace.RecordColumns), as the NumPy engine's traced
    loop makes them, from its values and final gradients (`_backward`'s): every gate's local gradients
    again from the plan's kernels (the same calls on the same floats), each edge's result local ×
    upstream (the product that `_backward` added). One loop over the gates, appending floats and
    ints: no object per edge."""
    gates, indexes, inputs, locals_ = [], [], [], []
    gate, index, input_, local = gates.append, indexes.append, inputs.append, locals_.append
    gradients = [None] * len(vals)
    third = plan.third
    bk, bi, bj, bli, blj = plan.backward
    for k, i, j, li, lj in zip(bk[::-1], bi[::-1], bj[::-1], bli[::-1], blj[::-1]):  # topological order
        ans = vals[k]
        if j < 0:
            gate(k)
            index(0)
            input_(i)
            local(li if li.__class__ is float else li(ans, vals[i]))
            continue
        extra = third.get(k) if third else None
        if extra is None:  # (unrolled: a two-input gate is the common case)
            x, y = vals[i], vals[j]
            if li is not None:
                gate(k)
                index(0)
                input_(i)
                local(li if li.__class__ is float else li(ans, x, y))
            if lj is not None:
                gate(k)
                index(1)
                input_(j)
                local(lj if lj.__class__ is float else lj(ans, x, y))
            continue
        args = (ans, vals[i], vals[j], vals[extra[0]])
        for n, inp, li in ((0, i, li), (1, j, lj), (2, *extra)):
            if li is not None:
                gate(k)
                index(n)
                input_(inp)
                local(li if li.__class__ is float else li(*args))
    for k in bk:
        gradients[k] = grads[k]
    for k in plan.gradients[1]:  # variables get theirs too: they are no gate
        gradients[k] = grads[k]
    from operator import mul  # (here: the module's imports are part P's)

    results = list(map(mul, locals_, map(gradients.__getitem__, gates)))
    return RecordColumns(nodes, vals, gradients, gates, indexes, inputs, locals_, results)
