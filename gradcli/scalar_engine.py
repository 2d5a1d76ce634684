"""Forward and backward on Python floats, for big graphs of scalars (issue 7).

On scalars, NumPy costs about a microsecond per call whatever the work, so the general engine
spends ~100 µs per term of Σ (aᵢ·bᵢ + sin(aᵢ))·e^(−cᵢ). Here every value is a Python float, each
op runs its `Op.scalar` kernel (the same formulas, see gradcli.ops.Scalar), and the per-node work
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
  - trace=True (the per-edge records are the engine's), or a max_memory that the run might need.
"""

from __future__ import annotations

import math

import numpy as np

from .graph import Graph
from .trace import Result

_INT_LIMIT = 2**53  # larger integers go through NumPy, which converts (or refuses) them its own way


class _Plan:
    """What a run of the graph reads, per node, in flat lists of node ids (topological order).

    `forward`: per gate (k, f, i, j): vals[k] = f(vals[i]) or f(vals[i], vals[j]) (j = -1: unary).
    `backward`: per gate that needs a gradient, in reverse order, (k, i, j, li, lj): the local
    gradient toward input i (j) is li(ans, x[, y]), a float constant, or None if that input needs
    no gradient. Which inputs need one depends on the named constants given a value (`pi` is a
    constant unless given one), so a graph has a plan per set of such names (nearly always one).
    """

    __slots__ = ("template", "forward", "backward", "kinks", "output", "output_needs", "gradients",
                 "required", "size")

    def __init__(self, graph: Graph, bound: frozenset) -> None:
        nodes = graph.nodes
        template = [0.0] * len(nodes)  # constants and named constants; variables are filled in
        needs = [False] * len(nodes)
        forward, backward, kinks = [], [], []
        add_forward, add_backward = forward.append, backward.append
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
            inputs = node.inputs
            if kernel is None or op.body is not None or node.params:
                raise _NoKernel
            i = inputs[0].id
            if len(inputs) == 2:
                j = inputs[1].id
                need_j = needs[j]
                edges += 2
            else:
                j, need_j = -1, False
                edges += 1
            add_forward((k, kernel.forward, i, j))
            need_i = needs[i]
            if need_i or need_j:
                needs[k] = True
                if op.kink_offset is not None:
                    kinks.append((op.kink_offset, i, j))
                local = kernel.locals
                add_backward((k, i, j, local[0] if need_i else None, local[1] if need_j else None))
        backward.reverse()
        self.template = template
        self.forward = forward
        self.backward = backward
        self.kinks = kinks
        self.output = graph.output.id
        self.output_needs = needs[self.output]
        self.gradients = [(name, node.id) for name, node in graph.variables.items() if needs[node.id]]
        self.required = required
        self.size = (len(forward) + 2 * edges + 3) * 8  # bytes: the NumPy engine's largest estimate


class _NoKernel(Exception):
    """A gate that only the NumPy engine runs."""


def _scalar(value) -> float | None:
    """A finite real scalar as a float, else None (the NumPy engine handles it)."""
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
    return value if -math.inf < value < math.inf else None


def run(graph: Graph, values: dict, *, trace: bool = False, max_memory: int | None = None) -> Result | None:
    """The Result of the NumPy engine's `run`, computed on floats; None where that path does not
    apply or something unusual happened (the caller then runs the NumPy engine)."""
    if trace:
        return None
    plans = graph.__dict__.get("_scalar_plans")
    if plans is None:
        plans = graph._scalar_plans = {}
    elif plans is _NO_PLAN:
        return None
    variables = graph.variables
    bound = []  # named constants given a value
    given = []
    for name, value in values.items():
        node = variables.get(name)
        if node is None:
            return None  # the engine notes the unused value
        if type(value) is not float or not -math.inf < value < math.inf:
            value = _scalar(value)
            if value is None:
                return None
        given.append((node.id, value))
        if node.default is not None:
            bound.append(name)
    key = frozenset(bound)
    plan = plans.get(key)
    if plan is None:
        try:
            plan = plans[key] = _Plan(graph, key)
        except _NoKernel:
            graph._scalar_plans = _NO_PLAN
            return None
    if len(given) - len(bound) < plan.required:
        return None  # the engine raises MissingValueError
    if max_memory is not None and given and plan.size > max_memory:
        return None  # the engine decides whether the run fits

    vals = plan.template[:]
    for k, value in given:
        vals[k] = value
    try:
        with np.errstate(all="raise", under="ignore"):
            gradients = _forward_backward(plan, vals)
    except (ArithmeticError, ValueError):  # FloatingPointError, ZeroDivisionError, OverflowError; math's domain errors
        return None
    if gradients is None:
        return None
    return Result(graph, vals[plan.output], gradients, None, list(graph.notes))


_NO_PLAN: dict = {}  # a graph with a gate that has no scalar kernel


def _forward_backward(plan: _Plan, vals: list) -> dict[str, float] | None:
    for k, f, i, j in plan.forward:
        vals[k] = f(vals[i]) if j < 0 else f(vals[i], vals[j])
    if not math.isfinite(sum(vals)):  # a nan or inf anywhere (or values adding up past 1e308)
        return None
    for offset, i, j in plan.kinks:
        if (offset(vals[i]) if j < 0 else offset(vals[i], vals[j])) == 0:
            return None

    # -0.0 is the identity of IEEE addition (-0.0 + r is r, also for r = -0.0), so every gradient
    # is the sum of its arrivals in the engine's order, exactly as the engine adds them.
    grads = [-0.0] * len(vals)
    if plan.output_needs:
        grads[plan.output] = 1.0
    for k, i, j, li, lj in plan.backward:
        g = grads[k]
        if j < 0:
            grads[i] += (li if li.__class__ is float else li(vals[k], vals[i])) * g
            continue
        x, y = vals[i], vals[j]
        if li is not None:
            grads[i] += (li if li.__class__ is float else li(vals[k], x, y)) * g
        if lj is not None:
            grads[j] += (lj if lj.__class__ is float else lj(vals[k], x, y)) * g
    if not math.isfinite(sum(grads)):
        return None
    return {name: grads[k] for name, k in plan.gradients}
