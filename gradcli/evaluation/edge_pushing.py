"""The second derivatives of a graph of scalars on Python floats, without building the gradient's
graph: each op's rule (gradcli.core.ops) differentiated once into straight-line code
(`_second_order`), then
- `_fast_hessian`: edge pushing, one forward and one reverse sweep; each nonlinear gate adds its
  adjoint times its second derivatives times its inputs' (sparse) gradients to the matrix;
- `_fast_hvp`: a Hessian-vector product H·v, forward over reverse with one tangent (one float
  beside each value and each adjoint), from flat columns cached on the graph (`_HvpPlan`).
They decline (`_Declined`) at anything unusual; gradcli.evaluation.hessian then runs its general
passes, which report it. See that module's docstring for how the two fit.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..core.graph import Graph

def _add_scaled(out: dict, scale: float, tangent: dict) -> None:
    """out += scale · tangent, for sparse tangents {column: value} (a missing column is 0)."""
    get = out.get
    for c, v in tangent.items():
        out[c] = get(c, 0.0) + scale * v


class _Declined(Exception):
    """The fast scalar pass does not answer this run (a rule at its kink, a floating-point error,
    a gate without a float kernel…): the dual-number pass or the gradient graph's pass does."""


_SECOND: dict = {}  # (id(op), moving) -> (op, per input j: (pattern, phi))


def _second_order(op, moving: tuple) -> tuple:
    """Per input j of an op with a float kernel: (pattern, phi), phi(*inputs) giving
    ∂localⱼ/∂inputₖ for k in pattern (a tuple), the inputs k that the variables move
    (`moving[k]`: the others' derivatives are never computed: pow's exponent's local log(x) has
    no place in x**2); phi None where localⱼ is a constant. Each phi
    is the rule's template (`derivative.RULES`) differentiated step by step with the steps' own
    float locals, compiled once per op into straight-line Python. A step at its kink (the
    `step(x)` of relu's rule at x = 0) raises _Declined (the dual-number pass reports it)."""
    cached = _SECOND.get((id(op), moving))
    if cached is not None:
        return cached[1]
    from ..differentiation.derivative import _COTANGENT, RULES

    per_input = []
    for j, local in enumerate(op.scalar.locals):
        if isinstance(local, float):
            per_input.append(((), None))
            continue
        template = RULES.template(op, j, True)
        per_input.append(((), None) if template is None or template.result is None
                         else _compile_second(template, moving, _COTANGENT))
    result = tuple(per_input)
    _SECOND[(id(op), moving)] = (op, result)  # (the op is kept: its id is never another's)
    return result


def _compile_second(template, moving: tuple, cotangent: int) -> tuple:
    """(pattern, phi) for one rule: the template's steps in forward mode, each step's derivative
    with respect to the moving inputs the sum of its own float locals times its inputs'
    derivatives, structural zeros and ones folded while the code is written. A rule that reads
    the cotangent (a VJP) or a step without a float kernel gives a phi that always declines."""
    arity = len(moving)
    env: dict = {"_Declined": _Declined}
    lines: list[str] = []
    args = [f"x{i}" for i in range(arity)]
    steps: list[tuple[str, list]] = []  # per step: its value's name, its derivatives (None: zero)

    def constant(value: float) -> str:
        name = f"c{len(env)}"
        env[name] = value
        return name

    def ref(r):
        kind, value = r
        if kind == "arg":
            if value == cotangent:
                raise _Declined
            return args[value], ["1" if k == value and moving[k] else None for k in range(arity)]
        if kind == "const":
            return constant(float(value)), [None] * arity
        return steps[value]

    # a step's value is computed where a later step reads it or a local used reads it (`Op.reads`):
    # cos(x) in sin's rule is not, only its local -sin(x) is
    referenced = {value for _, _, refs in template.steps for kind, value in refs if kind == "step"}
    try:
        for m, (op, params, refs) in enumerate(template.steps):
            if params or op.scalar is None or op.body is not None:
                raise _Declined
            ins = [ref(r) for r in refs]
            call = ", ".join(name for name, _ in ins)
            used = [i for i, (_, d) in enumerate(ins) if any(d)]
            reads = op.reads
            if m in referenced or (used and (reads is None and op.uses_output
                                             or reads is not None and any("ans" in reads[i] for i in used))):
                env[f"F{m}"] = op.scalar.forward
                lines.append(f"s{m} = F{m}({call})")
            else:
                lines.append(f"s{m} = None")
            if op.kink_offset is not None:
                env[f"K{m}"] = op.kink_offset
                lines.append(f"if K{m}({call}) == 0: raise _Declined")
            locals_: dict[int, str] = {}
            ds = []
            for k in range(arity):
                terms = []
                for i, (_, d) in enumerate(ins):
                    if d[k] is None:
                        continue
                    local = op.scalar.locals[i]
                    if isinstance(local, float):
                        if local == 0.0:
                            continue
                        factor = constant(local)
                    elif i in locals_:
                        factor = locals_[i]
                    else:
                        env[f"L{m}_{i}"] = local
                        factor = locals_[i] = f"l{m}_{i}"
                        lines.append(f"{factor} = L{m}_{i}(s{m}, {call})")
                    terms.append(factor if d[k] == "1" else f"{factor} * {d[k]}")
                if terms:
                    lines.append(f"d{m}_{k} = " + " + ".join(terms))
                    ds.append(f"d{m}_{k}")
                else:
                    ds.append(None)
            steps.append((f"s{m}", ds))
        _, d = ref(template.result)
    except _Declined:
        return ((), _declined)
    pattern = tuple(k for k in range(arity) if d[k] is not None)
    if not pattern:
        return ((), None)
    values = ", ".join("1.0" if d[k] == "1" else d[k] for k in pattern)
    lines.append(f"return ({values},)")
    exec(f"def phi({', '.join(args)}):\n" + "".join(f"    {line}\n" for line in lines), env)
    return (pattern, env["phi"])


def _declined(*args):
    raise _Declined


def _scalar_forward(graph: Graph, arrays: dict, targets) -> tuple:
    """Every node's value (floats, by node id), whether it depends on a target variable, and the
    gates that do, in order, as (k, i, j, op) (node ids; j = -1: unary). _Declined for a gate
    without a float kernel, one of three inputs, a nan/inf, or a gate that moves with a variable
    at its kink (as the scalar engine: the NumPy engine reports it)."""
    nodes = graph.nodes
    vals = [0.0] * len(nodes)
    dep = [False] * len(nodes)
    gates = []
    for node in nodes:
        k = node.id
        kind = node.kind
        if kind == "gate":
            op = node.op
            scalar = op.scalar
            ins = node.inputs
            if scalar is None or node.params or len(ins) > 2:
                raise _Declined
            i = ins[0].id
            if len(ins) == 1:
                vals[k] = scalar.forward(vals[i])
                if dep[i]:
                    dep[k] = True
                    gates.append((k, i, -1, op))
                    if op.kink_offset is not None and op.kink_offset(vals[i]) == 0:
                        raise _Declined
            else:
                j = ins[1].id
                vals[k] = scalar.forward(vals[i], vals[j])
                if dep[i] or dep[j]:
                    dep[k] = True
                    gates.append((k, i, j, op))
                    if op.kink_offset is not None and op.kink_offset(vals[i], vals[j]) == 0:
                        raise _Declined
        elif kind == "var":
            value = arrays.get(node.name)
            vals[k] = float(node.default if value is None else value)
            dep[k] = k in targets
        else:
            vals[k] = float(node.default)
    if not math.isfinite(sum(vals)):
        raise _Declined
    return vals, dep, gates


def _fast_hessian(graph: Graph, arrays: dict, names: list[str]) -> tuple[float, list, np.ndarray]:
    """The Hessian of a graph of scalars by edge pushing, one forward and one reverse sweep:
    H = Σ over gates g of ḡ · Σⱼₖ ∂²g/∂uⱼ∂uₖ · ∇uⱼ ∇uₖᵀ, with ḡ = ∂f/∂g (the reverse sweep's
    adjoint), ∂²g/∂uⱼ∂uₖ the derivative of g's local gradient (its rule, `_second_order`) and
    ∇u an input's gradient with respect to the variables (forward, sparse dicts, only for the
    nodes such a gate reads). A linear gate (+, -) costs one float. Returns f, the gradient
    and H; _Declined where the dual-number pass must answer."""
    n = len(names)
    column = {graph.variables[name].id: c for c, name in enumerate(names)}
    vals, dep, gates = _scalar_forward(graph, arrays, column)
    adj = [-0.0] * len(vals)  # (summed as the scalar engine sums: see _fast_hvp)
    if dep[graph.output.id]:
        adj[graph.output.id] = 1.0
    needed = [False] * len(vals)
    # the gates the forward half visits, in reverse order: (k, i, j, local toward i, toward j,
    # second-order rules if the gate pushes a term, whether a later gate reads its gradient)
    work = []
    for k, i, j, op in reversed(gates):
        g = adj[k]
        locals_ = op.scalar.locals
        if j < 0:
            a = locals_[0]
            if a.__class__ is not float:
                a = a(vals[k], vals[i])
            adj[i] += a * g
            second = None
            if g != 0.0:
                rules = _second_order(op, _UNARY)
                if rules[0][1] is not None:
                    second = rules
            need = needed[k]
            if need or second is not None:
                needed[i] = True
                work.append((k, i, j, a, None, second, need))
            continue
        x, y = vals[i], vals[j]
        di, dj = dep[i], dep[j]
        a = b = None
        if di:
            a = locals_[0]
            if a.__class__ is not float:
                a = a(vals[k], x, y)
            adj[i] += a * g
        if dj:
            b = locals_[1]
            if b.__class__ is not float:
                b = b(vals[k], x, y)
            adj[j] += b * g
        second = None
        if g != 0.0 and not (locals_[0].__class__ is float and locals_[1].__class__ is float):  # (+, -)
            rules = _second_order(op, (di, dj))
            if (di and rules[0][0]) or (dj and rules[1][0]):
                second = rules
        need = needed[k]
        if need or second is not None:
            if di:
                needed[i] = True
            if dj:
                needed[j] = True
            work.append((k, i, j, a, b, second, need))
    if not math.isfinite(sum(adj)):
        raise _Declined
    # forward: the gradients ∇u that pushing gates read, and their terms
    tangents: dict = {k: {c: 1.0} for k, c in column.items()}
    rows: list = []
    cols: list = []
    entries: list = []
    for k, i, j, a, b, second, need in reversed(work):
        if second is not None:
            g = adj[k]
            if j < 0:
                t = tangents[i]
                c = g * second[0][1](vals[i])[0]
                for r, ta in t.items():
                    ca = c * ta
                    for q, tb in t.items():
                        rows.append(r), cols.append(q), entries.append(ca * tb)
            else:
                x, y = vals[i], vals[j]
                for u, (pattern, phi) in zip((i, j), second):
                    tu = tangents.get(u) if pattern else None
                    if tu is None:
                        continue
                    terms = phi(x, y)
                    for p, w in enumerate(pattern):
                        tw = tangents[j if w else i]
                        c = g * terms[p]
                        for r, ta in tu.items():
                            ca = c * ta
                            for q, tb in tw.items():
                                rows.append(r), cols.append(q), entries.append(ca * tb)
        if need:
            ti = tangents.get(i) if a is not None else None
            out = None if ti is None else {c: a * v for c, v in ti.items()}
            tj = tangents.get(j) if b is not None else None
            if tj is not None:
                if out is None:
                    out = {c: b * v for c, v in tj.items()}
                else:
                    _add_scaled(out, b, tj)
            tangents[k] = out
    matrix = np.bincount(np.array(rows, dtype=np.intp) * n + np.array(cols, dtype=np.intp),
                         weights=entries, minlength=n * n).reshape(n, n) if entries else np.zeros((n, n))
    if not np.isfinite(matrix).all():
        raise _Declined
    return vals[graph.output.id], [adj[k] for k in column], matrix


_UNARY = (True,)


class _HvpPlan:
    """What `_fast_hvp` reads, per gate, in flat lists of node ids (topological order), built once
    per graph and set of variables and cached on the Graph, as the scalar engine's plan is: a
    parsed graph's next H·v (a new point, a new tangent) reads no node object.

    `forward` = (ks, fs, is, js): every gate's value, vals[k] = f(vals[i][, vals[j]]) (j = -1:
    unary). `moving` = (ks, is, js, las, lbs, seconds): the gates a variable moves; la (lb) the
    local gradient toward input i (j) as in `Scalar.locals`, None where no variable moves that
    input; `second` the gate's `_second_order` rules (None for a unary gate with a constant
    local)."""

    __slots__ = ("template", "variables", "forward", "moving", "kinks", "output", "output_needs")

    def __init__(self, graph: Graph, names: list[str]) -> None:
        nodes = graph.nodes
        self.template = [0.0] * len(nodes)
        self.variables = [graph.variables[name].id for name in names]
        targets = set(self.variables)
        dep = [False] * len(nodes)
        forward = ([], [], [], [])
        moving = ([], [], [], [], [], [])
        self.kinks = []  # (offset, i, j) of the moving gates with a kink, as the scalar engine's
        for node in nodes:
            k = node.id
            if node.kind != "gate":
                if node.default is not None:
                    self.template[k] = float(node.default)
                dep[k] = k in targets
                continue
            op = node.op
            scalar = op.scalar
            ins = node.inputs
            if scalar is None or node.params or len(ins) > 2:
                raise _Declined
            i = ins[0].id
            j = ins[1].id if len(ins) == 2 else -1
            for column, value in zip(forward, (k, scalar.forward, i, j)):
                column.append(value)
            di, dj = dep[i], j >= 0 and dep[j]
            if not (di or dj):
                continue
            dep[k] = True
            if op.kink_offset is not None:
                self.kinks.append((op.kink_offset, i, j))
            if j < 0:
                second = _second_order(op, _UNARY)[0][1]
                la, lb = scalar.locals[0], None
            else:
                second = _second_order(op, (di, dj))
                la = scalar.locals[0] if di else None
                lb = scalar.locals[1] if dj else None
            for column, value in zip(moving, (k, i, j, la, lb, second)):
                column.append(value)
        self.forward = forward
        self.moving = moving
        self.output = graph.output.id
        self.output_needs = dep[self.output]


_NO_PLAN = object()  # a graph with a gate that the float pass cannot run


def _hvp_plan(graph: Graph, names: list[str]) -> _HvpPlan:
    plans = graph.__dict__.get("_hvp_plans")
    if plans is None:
        plans = graph._hvp_plans = {}
    key = tuple(names)
    plan = plans.get(key)
    if plan is None:
        try:
            plan = plans[key] = _HvpPlan(graph, names)
        except _Declined:
            plan = plans[key] = _NO_PLAN
    if plan is _NO_PLAN:
        raise _Declined
    return plan


def _fast_hvp(graph: Graph, arrays: dict, names: list[str], direction: dict) -> tuple[float, list, list]:
    """H·v on a graph of scalars, forward over reverse with one tangent: forward, each node's
    value and its derivative along v (ṫ = Σⱼ localⱼ·ṫⱼ); reverse, each adjoint ḡ and its
    derivative along v (u̇ += localⱼ·ġ + ḡ·Σₖ ∂localⱼ/∂uₖ·ṫₖ, the second factor compiled from the
    rules as for the Hessian). Returns f, the gradient and H·v (in `names` order); _Declined
    where the gradient graph's pass must answer."""
    plan = _hvp_plan(graph, names)
    vals = plan.template[:]
    t = [0.0] * len(vals)
    for k, name in zip(plan.variables, names):
        vals[k] = float(arrays[name])
        t[k] = direction[name]
    for k, f, i, j in zip(*plan.forward):
        vals[k] = f(vals[i]) if j < 0 else f(vals[i], vals[j])
    if not math.isfinite(sum(vals)):
        raise _Declined
    for offset, i, j in plan.kinks:  # (the engine reports a gate at its kink, the graph's pass the rest)
        if (offset(vals[i]) if j < 0 else offset(vals[i], vals[j])) == 0:
            raise _Declined
    ks, is_, js, las, lbs, seconds = plan.moving
    first_a, first_b = [], []  # each moving gate's local gradients (0.0 toward an unmoved input)
    for k, i, j, a, b in zip(ks, is_, js, las, lbs):
        if j < 0:
            if a.__class__ is not float:
                a = a(vals[k], vals[i])
            t[k] = a * t[i]
            first_a.append(a)
            first_b.append(0.0)
            continue
        x, y = vals[i], vals[j]
        if a is None:
            a = 0.0
        elif a.__class__ is not float:
            a = a(vals[k], x, y)
        if b is None:
            b = 0.0
        elif b.__class__ is not float:
            b = b(vals[k], x, y)
        t[k] = a * t[i] + b * t[j]
        first_a.append(a)
        first_b.append(b)
    # the adjoints as the scalar engine sums them (-0.0, the identity of IEEE addition, then the
    # same products in the same order): the same gradient to the bit
    adj = [-0.0] * len(vals)
    if plan.output_needs:
        adj[plan.output] = 1.0
    adt = [0.0] * len(vals)
    for k, i, j, a, b, second, la, lb in zip(reversed(ks), reversed(is_), reversed(js), reversed(first_a),
                                             reversed(first_b), reversed(seconds), reversed(las), reversed(lbs)):
        g = adj[k]
        gt = adt[k]
        if j < 0:
            adj[i] += a * g
            if second is not None and g != 0.0:
                adt[i] += a * gt + g * second(vals[i])[0] * t[i]
            else:
                adt[i] += a * gt
            continue
        x, y = vals[i], vals[j]
        if la is not None:
            adj[i] += a * g
            s = a * gt
            pattern, phi = second[0]
            if pattern and g != 0.0:
                terms = phi(x, y)
                for p, w in enumerate(pattern):
                    s += g * terms[p] * t[j if w else i]
            adt[i] += s
        if lb is not None:
            adj[j] += b * g
            s = b * gt
            pattern, phi = second[1]
            if pattern and g != 0.0:
                terms = phi(x, y)
                for p, w in enumerate(pattern):
                    s += g * terms[p] * t[j if w else i]
            adt[j] += s
    if not math.isfinite(sum(adj) + sum(adt) + sum(t)):
        raise _Declined
    return vals[plan.output], [adj[k] for k in plan.variables], [adt[k] for k in plan.variables]
