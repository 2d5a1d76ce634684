"""Forward and reverse-mode backward pass over a Graph, in NumPy float64.

Backward seeds ∂f/∂f = 1 at the output and visits gates in reverse topological order. For each
edge: local (∂gate/∂input, from forward values) × upstream (∂f/∂gate) = result, which is summed
back to the input's shape and *added* to the input's gradient (gradients add at forks).
An op that is not elementwise (a reduction, a matrix product) gives its vector-Jacobian product
instead (`Op.vjp`), and the trace records the op's formula as the edge's local gradient.

`run(trace=True)` keeps every value, local gradient and result for the tables. `run(trace=False)`
(`_run_untraced`, below) returns the same numbers while keeping only what a later step reads:
arrays are written in place once dead, and scalar factors ride on a gradient until they meet an
array operation (see the comment above `_Buffers`).

Diagnostics come from one place, the traced loop (`_run_traced`): the untraced fast pass answers
only runs where nothing unusual happens (NumPy is told to raise, and its Python-float factors are
checked), which have no diagnostics but the kinks, notes and unused values it reports the same
way. At the first floating-point error, overflowing or subnormal factor, or with a nan or inf
among the inputs (looked for after the fast pass) or constants, the run is redone in the traced loop without records, freeing
each value after its last reader: the traced path's numbers and warnings, in bounded memory.
No NumPy warning leaves `run` (every entry point sets its own errstate).
"""

from __future__ import annotations

import gc
import math
import sys

import numpy as np

from ..base.errors import GradcliError, MissingValueError, ResourceError, did_you_mean, shorten
from ..core.graph import Graph, Node, depends_on
from ..core.kernels import (_check_broadcast, _dot, _edge_result, _forward_array_op, _shape, _times,
                            array_op_shape, unbroadcast)
from ..core.array_api import namespace_of
from ..core.ops import OVERLOADS, safe_sum
from .shapes import _Plan, check_memory
from .shapes import full_reduction as _full_reduction
from ..core.trace import Diagnostic, Edge, NodeTrace, Result
from ..inputs.values import to_arrays


class _FloatingPointFlag:
    """NumPy calls this on a floating-point error; the engine then checks the gate's output."""

    def __init__(self) -> None:
        self.raised = False

    def __call__(self, kind: str, flag: int) -> None:
        self.raised = True


def _describe(array) -> str:
    kinds = []
    if np.isnan(array).any():
        kinds.append("nan")
    if np.isposinf(array).any():
        kinds.append("inf")
    if np.isneginf(array).any():
        kinds.append("-inf")
    return "/".join(kinds)


def _at(node: Node) -> str:
    return f"{node.label!r} ({node.gate_name}, {node.span.where()})"


def _produced(node: Node, value, inputs_finite: bool) -> Diagnostic:
    return Diagnostic("domain", f"gate {_at(node)} produced {_describe(value)}"
                      + (" from finite inputs" if inputs_finite else ""), node)


def _at_its_kink(node: Node) -> Diagnostic:
    return Diagnostic("kink", f"gate {_at(node)} is at its kink; using the convention {node.op.kink_rule}", node)


def _non_finite_gradient(node: Node, inp: Node, result) -> Diagnostic:
    return Diagnostic("domain", f"the gradient from gate {_at(node)} to its input {inp.label!r} is "
                      f"{_describe(result)}", node)


def _non_finite_sum(inp: Node, total) -> Diagnostic:
    return Diagnostic("domain", f"the gradients arriving at {_at(inp)} "
                      f"add up to {_describe(total)}", inp)


def _all_finite(array) -> bool:
    """Whether every element is finite. A finite sum says so in one pass without a mask array
    (a nan or an infinity makes it nan or infinite); only a non-finite one is looked into."""
    if array.ndim == 0:
        return bool(np.isfinite(array))
    with np.errstate(over="ignore", invalid="ignore"):
        # a sum, not BLAS's dot: a threaded dot waits for its threads on a busy machine
        if np.isfinite(np.add.reduce(array, axis=None)):  # (an overflow only sends it the long way)
            return True
    return bool(np.isfinite(array).all())


def bind_values(graph: Graph, values: dict, *, finite: bool = True,
                convert=to_arrays) -> tuple[dict[str, np.ndarray], list[Diagnostic]]:
    """Check the given values against the graph's variables and convert them to arrays (`convert`:
    NumPy float64's by default); with `finite`, say which hold a nan or an infinity (else the
    caller does, `value_diagnostics`)."""
    diagnostics = []
    arrays = convert(values)
    for name in arrays:
        if name not in graph.variables:
            hint = did_you_mean(name, graph.variables) if graph.variables and len(diagnostics) < 20 else None
            diagnostics.append(Diagnostic(
                "input", f"a value was given for {shorten(name)!r}, which the expression does not use"
                + (f"; {hint}" if hint else "")))
    missing = [name for name in graph.required if name not in arrays]
    if missing:  # the unused names and the functions let the message say what was meant
        raise MissingValueError(missing, unused=[n for n in arrays if n not in graph.variables],
                                where=graph.variables, functions=OVERLOADS)
    if finite:
        diagnostics += value_diagnostics(graph, arrays)
    return arrays, diagnostics


def value_diagnostics(graph: Graph, arrays: dict, finite_ids=frozenset()) -> list[Diagnostic]:
    """A diagnostic for each value that holds a nan or an infinity; `finite_ids`: the ids of
    arrays already known to be finite."""
    return [Diagnostic("domain", f"the value of {name!r} holds {_describe(array)}", graph.variables[name])
            for name, array in arrays.items()
            if name in graph.variables and id(array) not in finite_ids and not _all_finite(array)]


# trace=None on arrays: a run whose values (inputs and forward values) hold at most this many
# bytes runs the traced loop and keeps its records; a bigger one runs the untraced fast pass and
# makes its records, if they are read, by one traced pass then. Measured (neuron, two-layer
# network): up to ~0.5 MB of values the traced loop is as fast as the untraced pass or faster (it
# plans nothing); past ~1 MB its allocations and page faults make it 1.5-7x slower.
KEEP_BYTES = 2**19


class _TooBig(Exception):
    """A trace=None run's values passed KEEP_BYTES: the untraced pass runs instead."""


def run(graph: Graph, values: dict, *, trace: bool | None = True, max_memory: int | None = None) -> Result:
    """Forward and backward pass. The untraced path (trace=False) gives the traced path's numbers
    and diagnostics: its fast pass answers only ordinary runs (see `_run_untraced`); a run where
    anything is unusual (a floating-point error, a nan or inf among the inputs or constants, a
    scalar factor that overflows or underflows) is run again step by step as the traced path runs
    it, keeping no records and freeing each value after its last reader.

    trace=None: a small run (its values within KEEP_BYTES) is traced and keeps its records; a
    bigger one runs untraced, and its records are made when first read, by one traced pass of
    the same values (checked against this run's value: changed inputs raise GradcliError).

    Values that are arrays of another library (Dask, CuPy, array_api_strict: see
    gradcli.core.array_api.namespace_of) run in gradcli.evaluation.array_api instead, in that library."""
    xp = namespace_of(values.values())  # the array library, once per run: None for NumPy values
    if xp is not None:  # Dask, CuPy, array_api_strict: through the array API standard
        from .array_api import run as run_array_api

        return run_array_api(graph, values, xp, bind=bind_values, numpy_run=run, trace=trace)
    # No NumPy warning leaves the engine: every floating-point error is either reported as a
    # diagnostic (the passes below set their own errstate) or harmless.
    with np.errstate(all="ignore"):
        arrays, diagnostics = bind_values(graph, values, finite=False)
        diagnostics[:0] = graph.notes
        # the values' nan and inf: looked for here, unless the run is untraced for sure (then
        # after its fast pass, which finds some of them finite on the way: _run_fast)
        checked = bool(trace) or (trace is None and sum(a.nbytes for a in arrays.values()) <= KEEP_BYTES)
        if checked:
            diagnostics += value_diagnostics(graph, arrays)
        if trace is None:
            result = _run_small(graph, arrays, diagnostics, max_memory)
            if result is not None:
                return result
        plan = None if trace else _Plan(graph, arrays)
        if max_memory is not None:
            check_memory(graph, arrays, bool(trace), max_memory, plan)
        if trace:
            return _run_traced(graph, arrays, diagnostics, None)
        result = _run_fast(graph, arrays, diagnostics, plan, checked)
    if trace is None:  # (the output's value, not the result: no reference cycle keeps a result alive)
        value, gradients = result.value, result.gradients
        result._records = lambda: _records_later(graph, arrays, value, gradients, max_memory)
    return result


def _run_small(graph: Graph, arrays: dict, diagnostics: list, max_memory: int | None) -> Result | None:
    """trace=None: the traced loop, records and all, if the run's values stay within KEEP_BYTES
    (and its traced estimate within max_memory); else None, having done at most that much work."""
    budget = KEEP_BYTES - sum(a.nbytes for a in arrays.values())
    if budget < 0:
        return None
    if max_memory is not None:
        try:
            check_memory(graph, arrays, True, max_memory)
        except ResourceError:
            return None  # the untraced run may fit
    try:
        return _run_traced(graph, arrays, list(diagnostics), None, budget=budget)
    except _TooBig:
        return None


def _records_later(graph: Graph, arrays: dict, value, gradients: dict, max_memory: int | None) -> list:
    """The records of an untraced trace=None run (whose output was `value`, its gradients
    `gradients`), by one traced pass when first read. An input array changed in place meanwhile
    shows as an f or a gradient that differs (copying or hashing the inputs on every run would
    cost the fast path its speed): refused rather than records of other numbers."""
    with np.errstate(all="ignore"):
        if max_memory is not None:
            check_memory(graph, arrays, True, max_memory)
        again = _run_traced(graph, arrays, [], None)
        same = _close(again.value, value) and again.gradients.keys() == gradients.keys() and all(
            _close(again.gradients[name], gradient) for name, gradient in gradients.items())
    if not same:
        raise GradcliError("f or a gradient computed again for the records differs from this result's: an array "
                           "given to evaluate(), or one it returned, was changed before the records were read",
                           hint="read result.trace before changing those arrays, or pass trace=True")
    return again.trace


def _close(a, b) -> bool:
    return np.shape(a) == np.shape(b) and np.allclose(a, b, rtol=1e-9, atol=0.0, equal_nan=True)


def _run_traced(graph: Graph, arrays: dict, diagnostics: list, plan: _Plan | None,
                budget: int | None = None) -> Result:
    """The traced pass. With a plan (the careful rerun of an untraced run): no records, and each
    value is let go after its last reader, as `plan` (made with the ops' own `reads`) says.
    With a budget (bytes): _TooBig as soon as the inputs and forward values hold more."""
    if plan is None:  # records, none of them garbage: no collection passes while they are made
        collecting = gc.isenabled()
        gc.disable()
        try:
            return _traced(graph, arrays, diagnostics, plan, budget)
        finally:
            if collecting:
                gc.enable()
    return _traced(graph, arrays, diagnostics, plan, budget)


def _traced(graph: Graph, arrays: dict, diagnostics: list, plan: _Plan | None, budget: int | None) -> Result:
    nodes = graph.nodes
    count = len(nodes)
    out_id = graph.output.id
    keep = plan is None
    if keep:
        needs = depends_on(graph, arrays)  # which nodes carry a gradient
    else:
        needs, fwd_last, bwd_last = plan.needs, plan.fwd_last, plan.careful_last

    flag = _FloatingPointFlag()
    values_of: list = [None] * count
    shapes: list = [()] * count
    with np.errstate(all="call", under="ignore", call=flag):
        # -- forward ---------------------------------------------------------------------
        for node in nodes:
            if node.kind == "var":
                value = arrays.get(node.name)
                values_of[node.id] = np.float64(node.default) if value is None else value
                shapes[node.id] = _shape(values_of[node.id])
                continue
            if node.kind == "const":
                values_of[node.id] = np.float64(node.default)
                continue
            args = [values_of[i.id] for i in node.inputs]
            flag.raised = False
            if node.op.vjp is not None:
                value = _forward_array_op(node, args)
            else:
                if len(args) >= 2:
                    _check_broadcast(node, args)
                value = node.op.forward(*args)
            # a composite's gates run in a pass of their own, whose floating-point errors this flag misses
            if (flag.raised or node.op.body is not None) and not np.isfinite(value).all():
                diagnostics.append(_produced(node, value, all(np.isfinite(a).all() for a in args)))
            k = node.id
            values_of[k] = value
            shapes[k] = _shape(value)
            if budget is not None:
                budget -= getattr(value, "nbytes", 8)
                if budget < 0:
                    raise _TooBig
            if not keep:
                for inp in node.inputs:
                    i = inp.id
                    if fwd_last[i] == k and bwd_last[i] == -1 and i != out_id:
                        values_of[i] = None
            args = value = None

        output_value = values_of[out_id]

        # -- backward --------------------------------------------------------------------
        grads: list = [None] * count
        records = [NodeTrace(node, values_of[node.id], None) for node in nodes] if keep else None
        if needs[out_id]:
            grads[out_id] = 1.0  # ∂f/∂f; for an array f, the gradient of sum(f)
        for k in range(count - 1, -1, -1):
            node = nodes[k]
            upstream = grads[k]
            if upstream is None:
                continue
            if keep:
                records[k].gradient = upstream
            if node.kind != "gate":
                continue
            op = node.op
            args = [values_of[i.id] for i in node.inputs]
            ans = values_of[k]
            if op.at_kink(*args, **node.params):
                diagnostics.append(_at_its_kink(node))
            if not keep:
                args = _stand_ins(node, args, shapes)
            for index, inp in enumerate(node.inputs):
                j = inp.id
                if not needs[j]:
                    continue
                flag.raised = False
                if op.vjp is not None:
                    local = op.formulas[index]  # the Jacobian is not elementwise: describe it
                    if not keep and _full_reduction(node):
                        # the same numbers, as a scalar standing for its spread over the input
                        result = upstream / max(_size(shapes[j]), 1) if op.name == "mean" else upstream
                    else:
                        result = _vjp_result(op, node, index, upstream, ans, args, shapes)
                else:
                    local = op.locals[index](ans, *args)
                    result = _edge_result(local, upstream, shapes[j], shapes[k])
                if flag.raised and not np.isfinite(result).all():
                    diagnostics.append(_non_finite_gradient(node, inp, result))
                if grads[j] is None:
                    grads[j] = result
                else:  # gradients add at a fork, and the sum of two finite ones may overflow
                    flag.raised = False
                    grads[j] = grads[j] + result
                    if flag.raised and not np.isfinite(grads[j]).all():
                        diagnostics.append(_non_finite_sum(inp, grads[j]))
                if keep:
                    edge = Edge(node, index, np.float64(local) if isinstance(local, float) else local,
                                upstream, result)
                    records[k].edges.append(edge)
                    records[j].arrivals.append(edge)
                local = result = None
            if not keep:
                grads[k] = None
                for i in {k, *(inp.id for inp in node.inputs)}:
                    if bwd_last[i] == k and i != out_id:
                        values_of[i] = None
            upstream = args = ans = None

        gradients = {}
        for name, node in graph.variables.items():
            if name not in arrays:
                continue
            grad = grads[node.id]
            shape = np.shape(arrays[name])
            if grad is None:
                grad = np.zeros(shape)
            if shape == ():
                gradients[name] = float(grad)
            else:  # a copy the caller owns, in the variable's shape (the seed of sum(f) may be a scalar)
                gradients[name] = np.array(np.broadcast_to(grad, shape), dtype=np.float64)
    if np.ndim(output_value) == 0:
        output_value = float(output_value)
    return Result(graph, output_value, gradients, records, diagnostics)


def _stand_ins(node: Node, args: list, shapes: list) -> list:
    """The gate's inputs, with one its gradients do not read (freed) replaced by a read-only
    array of zeros of its shape that costs no memory (a product's vjp reads the other's shape)."""
    if all(a is not None for a in args):
        return args
    return [np.broadcast_to(np.float64(0.0), shapes[inp.id]) if a is None else a
            for inp, a in zip(node.inputs, args)]


def _vjp_result(op, node: Node, index: int, upstream, ans, args: list, shapes: list):
    """The gradient of input `index` of an op that is not elementwise (its vector-Jacobian
    product), from the upstream gradient spread to the gate's shape."""
    out_shape = shapes[node.id]
    g = upstream if _shape(upstream) == out_shape else np.broadcast_to(upstream, out_shape)
    result = op.vjp(g, ans, *args, index=index, **node.params)
    if not isinstance(result, np.ndarray) or result.ndim == 0:
        return np.float64(result)
    return result


# -- the untraced path (trace=False): liveness-planned buffers, pending scalar factors ------------
#
# Without a trace nobody sees intermediate values, local gradients or per-edge results, so the
# engine may (1) free each forward value as soon as no later step reads it, (2) write a gate's
# output, a local gradient or a product into an array that dies at that very step, handing a
# buffer that just died to the next array of the same shape (`_Buffers`), and (3) carry scalar
# factors (a negation, ×2, ×w for a scalar w, 1/n) on a gradient as a pending `factor` applied once,
# where the gradient meets an array operation or reaches its variable. A gradient in `grads` stands
# for factor × grads[i]; a scalar there stands for its broadcast to the node's shape.


class _Buffers:
    """The float64 arrays the engine allocated, with how many slots (forward values, gradients)
    hold each. Only an array held by one slot is written into. An array whose last holder lets
    go waits in `dead` for the next request of its shape; the first request it does not fit, and
    every allocation the engine leaves to NumPy, let go of it first: a dead array is kept only
    while nothing is allocated, so it never adds to the peak memory."""

    __slots__ = ("holders", "dead")

    def __init__(self) -> None:
        self.holders: dict[int, list] = {}  # id(array) -> [array, number of slots holding it]
        self.dead: list[np.ndarray] = []

    def take(self, shape: tuple[int, ...]) -> np.ndarray:
        """An array of `shape` to write into, held by one slot."""
        dead = self.dead
        for index, array in enumerate(dead):
            if array.shape == shape:
                del dead[index]
                self.holders[id(array)] = [array, 1]
                return array
        dead.clear()
        array = np.empty(shape)
        self.holders[id(array)] = [array, 1]
        return array

    def adopt(self, array, *others) -> bool:
        """Track a new array that some NumPy call returned, held by one slot, if it is a fresh
        float64 array sharing memory with none of `others`; others it is a view of are pinned."""
        if not isinstance(array, np.ndarray) or array.ndim == 0:
            return False
        shares = False
        for other in others:
            if isinstance(other, np.ndarray) and other.ndim and np.may_share_memory(array, other):
                self.pin(other)
                shares = True
        if shares or not (array.flags.writeable and array.dtype == np.float64):
            return False
        if not array.flags.owndata:
            # a whole-array view of a fresh array that nothing else holds (`(g @ b.T).reshape(s)`)
            base = array.base
            if not (isinstance(base, np.ndarray) and base.flags.owndata and base.nbytes == array.nbytes
                    and array.flags.c_contiguous and sys.getrefcount(base) <= 3):
                return False
        self.holders[id(array)] = [array, 1]
        return True

    def hold(self, value) -> None:
        entry = self.holders.get(id(value))
        if entry is not None:
            entry[1] += 1

    def drop(self, value) -> None:
        entry = self.holders.get(id(value))
        if entry is not None:
            entry[1] -= 1
            if entry[1] == 0:
                del self.holders[id(value)]
                self.dead.append(value)

    def sole(self, value) -> bool:
        """Whether `value` is an engine array held by exactly one slot (so it may be written)."""
        entry = self.holders.get(id(value))
        return entry is not None and entry[1] == 1

    def pin(self, value) -> None:
        """Never write into `value` again (a view of it exists, or the caller gets it)."""
        self.holders.pop(id(value), None)

    def flush(self) -> None:
        """Let go of the dead arrays, before an allocation the engine does not control."""
        self.dead.clear()

    def flush_before(self, shape: tuple[int, ...]) -> None:
        """Before NumPy allocates an array of `shape` (a sum): let go of the dead arrays."""
        if shape:
            self.dead.clear()


class _Unusual(Exception):
    """The fast pass met something only the traced loop reports the way the traced path does."""


_TINY = sys.float_info.min  # the smallest normal float


def _normal(p) -> bool:
    """Whether a scalar factor is finite and is 0 or normal: a subnormal one has lost digits
    that the traced path, applying each factor as it comes, may keep."""
    return math.isfinite(p) and (p == 0.0 or abs(p) >= _TINY)


def _scale(a, b):
    """a × b for two scalar factors of the fast pass (Python floats overflow to inf silently)."""
    p = a * b
    if _normal(p) and (p != 0.0 or a == 0.0 or b == 0.0):
        return p
    raise _Unusual


def _finite(p):
    if not math.isfinite(p):
        raise _Unusual
    return p


def _is_scalar(value) -> bool:
    return not isinstance(value, np.ndarray) or value.ndim == 0


def _product_sum(local, upstream, shape, full_shape):
    """unbroadcast(local × upstream) without the product array, where both have full_shape."""
    if shape == ():
        return _dot(local, upstream)
    extra = len(full_shape) - len(shape)
    letters = "abcdefghijklmnopqrstuvwxyz"[:len(full_shape)]
    kept = "".join(letter for i, letter in enumerate(letters)
                   if i >= extra and shape[i - extra] == full_shape[i])
    summed = np.einsum(f"{letters},{letters}->{kept}", local, upstream)
    if not np.all(np.isfinite(summed)):  # a partial sum may have overflowed: sum the product safely
        summed = safe_sum(local * upstream, axis=tuple(i for i, letter in enumerate(letters) if letter not in kept))
    return summed.reshape(shape)


def _run_fast(graph: Graph, arrays: dict, diagnostics: list, plan: _Plan, checked: bool) -> Result:
    """The untraced fast pass, or the careful rerun where it declines. Unless `checked` (the
    diagnostics already say which values hold nan or inf), the values are checked after the
    pass, not before: an array the pass summed (sum(x * g) for a scalar factor of x, say) came
    out finite only if it is finite, so it needs no pass of its own."""
    finite_ids: set = set()
    result = None
    if not any(d.kind == "domain" for d in diagnostics):  # every constant is finite
        try:
            result = _run_untraced(graph, arrays, list(diagnostics), plan, finite_ids)
        except (ArithmeticError, _Unusual):  # FloatingPointError, ZeroDivisionError, OverflowError
            result = None  # (outside the handler, the fast pass's arrays are freed before the rerun)
    not_finite = [] if checked else value_diagnostics(graph, arrays, finite_ids)
    if result is not None and not not_finite:
        return result
    result = None
    diagnostics += not_finite
    return _run_traced(graph, arrays, diagnostics, plan)


def _run_untraced(graph: Graph, arrays: dict, diagnostics: list, plan: _Plan, finite_ids: set) -> Result | None:
    """The fast pass. It answers only an ordinary run, and raises (_Unusual, or the
    FloatingPointError of NumPy told to raise) at the first floating-point error or unusual
    scalar factor: then `run` reruns the evaluation in the traced loop, whose diagnostics these
    are. Every constant is finite; the inputs are checked after the pass (`_run_fast`), which
    adds to `finite_ids` the id of each array it found finite on the way (a finite sum of it, or
    of its product with another array: an inf or nan would have made it inf or nan)."""
    nodes = graph.nodes
    count = len(nodes)
    out_id = graph.output.id
    needs, fwd_last, bwd_last, wanted_of = plan.needs, plan.fwd_last, plan.bwd_last, plan.wanted_of

    buffers = _Buffers()
    values: list = [None] * count
    shapes: list = [()] * count
    with np.errstate(all="raise", under="ignore"):
        # -- forward ---------------------------------------------------------------------
        for node in nodes:
            k = node.id
            if node.kind == "var":
                value = arrays.get(node.name)
                values[k] = np.float64(node.default) if value is None else value
                shapes[k] = _shape(values[k])
                continue
            if node.kind == "const":
                values[k] = np.float64(node.default)
                continue
            op = node.op
            inputs = node.inputs
            args = [values[i.id] for i in inputs]
            if op.vjp is None and op.ufunc is not None:
                if len(args) == 2:
                    _check_broadcast(node, args)
                    full = shapes[inputs[0].id]
                    other = shapes[inputs[1].id]
                    if other != full:
                        full = np.broadcast_shapes(full, other) if full else other
                else:
                    full = shapes[inputs[0].id]
            else:
                full = None
            if full:  # an array: computed into an input that dies here, or a buffer just freed
                out = None
                for inp, arg in zip(inputs, args):
                    i = inp.id
                    if (fwd_last[i] == k and bwd_last[i] == -1 and i != out_id and shapes[i] == full
                            and buffers.sole(arg)):
                        out = arg
                        values[i] = None  # handed over to this gate: its one holder stays one
                        break
                if out is None:
                    out = buffers.take(full)
                value = op.ufunc(*args, out=out)
            elif full is not None:
                value = op.forward(*args)
            elif op.name in _PRODUCTS:
                array_op_shape(node, [shapes[i.id] for i in inputs])  # its shape errors, as the op raises them
                value, taken = _untraced_product(np.matmul if op.name == "matmul" else np.dot, *args, buffers, True)
                if not taken:
                    buffers.adopt(value, *args)
            else:
                buffers.flush()
                if op.vjp is None and len(args) >= 2:  # (an op without a ufunc: xlogy, clip)
                    _check_broadcast(node, args)
                value = _forward_array_op(node, args) if op.vjp is not None else op.forward(*args)
                buffers.adopt(value, *args)
            if op.body is not None and not _all_finite(value):
                raise _Unusual  # a composite's gates run in a pass of their own, with its own errstate
            values[k] = value
            shapes[k] = _shape(value)
            for inp in inputs:
                i = inp.id
                if fwd_last[i] == k and bwd_last[i] == -1 and i != out_id and shapes[i] != ():
                    buffers.drop(values[i])  # (a number is kept: it costs nothing and kernels may use it)
                    values[i] = None
            args = value = out = None  # a dead array must not live on in a local variable

        output_value = values[out_id]
        buffers.pin(output_value)  # the caller gets it: never written into

        # -- backward --------------------------------------------------------------------
        grads: list = [None] * count
        factors = [1.0] * count
        if needs[out_id]:
            grads[out_id] = 1.0  # ∂f/∂f; for an array f, the gradient of sum(f)

        def accumulate(j: int, result, factor: float, new: bool) -> None:
            """grads[j] += factor × result. `new`: result is a buffer held by no slot yet."""
            if not new:
                buffers.hold(result)
            total = grads[j]
            if total is None:
                grads[j], factors[j] = result, factor
                return
            old = factors[j]
            if _is_scalar(total) and _is_scalar(result):
                grads[j], factors[j] = _finite(total * old + result * factor), 1.0
                buffers.drop(result)
                return
            # write into whichever side is ours alone and already in the input's shape
            shape = shapes[j]
            if buffers.sole(total) and total.shape == shape:
                into, other, into_factor, other_factor = total, result, old, factor
            elif buffers.sole(result) and result.shape == shape:
                into, other, into_factor, other_factor = result, total, factor, old
            else:
                into = buffers.take(shape)
                np.multiply(total, old, out=into)
                buffers.drop(total)
                into_factor, other, other_factor = 1.0, result, factor
            held = other
            if into_factor != other_factor:
                ratio = into_factor / other_factor if other_factor != 0.0 else 0.0
                if ratio != 0.0 and _normal(ratio):
                    np.multiply(into, ratio, out=into)  # (into × ratio + other) × other_factor
                    into_factor = other_factor
                else:
                    if into_factor != 1.0:
                        np.multiply(into, into_factor, out=into)
                    buffers.flush()
                    other = np.multiply(other, other_factor)
                    into_factor = 1.0
            np.add(into, other, out=into)
            buffers.drop(held)
            grads[j], factors[j] = into, into_factor

        for k in range(count - 1, -1, -1):
            upstream = grads[k]
            if upstream is None:
                continue
            node = nodes[k]
            if node.kind != "gate":
                continue
            op = node.op
            inputs = node.inputs
            args = [values[i.id] for i in inputs]
            ans = values[k]
            factor = factors[k]
            if op.kink is not None or op.kink_offset is not None:
                if op.at_kink(*args, **node.params):
                    diagnostics.append(_at_its_kink(node))
            wanted = wanted_of[k]
            full = shapes[k]
            if op.name in _PRODUCTS and len(wanted) == 2 and inputs[0] is not inputs[1]:
                # the smaller gradient first (a @ b's for b reads a alone): then a, if read no
                # more, is let go before b's gradient, of a's shape, is made (in a's array)
                a_id, b_id = inputs[0].id, inputs[1].id
                if _size(shapes[b_id]) < _size(shapes[a_id]):
                    wanted = (1, 0)
                    if bwd_last[a_id] == k and a_id != out_id:
                        early = (0, a_id)
                    else:
                        early = None
                else:
                    wanted = (0, 1)
                    early = (1, b_id) if bwd_last[b_id] == k and b_id != out_id else None
            else:
                early = None
            for index in wanted:
                j = inputs[index].id
                last = index == wanted[-1]
                if op.vjp is not None:
                    result, result_factor, new = _untraced_vjp(
                        op, node, index, upstream, factor, ans, args, shapes, buffers)
                    if early is not None:
                        position, i = early
                        early = None
                        buffers.drop(values[i])
                        values[i] = args[position] = None
                else:
                    result, result_factor, new = _untraced_edge(
                        op, node, index, last, upstream, factor, ans, args, full, shapes[j],
                        bwd_last, values, buffers, finite_ids)
                accumulate(j, result, result_factor, new)
            grads[k] = None
            buffers.drop(upstream)
            for i in {k, *(inp.id for inp in inputs)}:
                if bwd_last[i] == k and i != out_id and shapes[i] != ():
                    buffers.drop(values[i])
                    values[i] = None
            upstream = args = ans = result = None

        gradients = {}
        for name, node in graph.variables.items():
            if name not in arrays:
                continue
            j = node.id
            grad, factor = grads[j], factors[j]
            grads[j] = None
            shape = np.shape(arrays[name])
            if grad is None:
                grad = np.zeros(shape) if shape else 0.0
            if shape == ():
                gradients[name] = _scale(float(grad), factor) if factor != 1.0 else float(grad)
            elif buffers.sole(grad) and grad.shape == shape:
                if factor != 1.0:
                    np.multiply(grad, factor, out=grad)
                buffers.pin(grad)  # the caller's now
                gradients[name] = grad
            else:  # a new array the caller owns (the gradient may be shared, or stand for its broadcast)
                spread = grad if _shape(grad) == shape else np.broadcast_to(grad, shape)
                gradients[name] = np.multiply(spread, factor, out=buffers.take(shape))
                buffers.drop(grad)
                buffers.pin(gradients[name])
    buffers.flush()
    if np.ndim(output_value) == 0:
        output_value = float(output_value)
    return Result(graph, output_value, gradients, None, diagnostics)


def _untraced_edge(op, node: Node, index: int, last: bool, upstream, factor: float, ans, args: list,
                   full: tuple, shape: tuple, bwd_last: list, values: list, buffers: _Buffers,
                   finite_ids: set):
    """(result, factor, new): the gradient of input `index` stands for factor × result, in the
    input's shape (or a scalar standing for its broadcast); `new`: result is an array no slot
    holds yet. A finite sum over every element of an array (or of its product with another)
    puts its id in `finite_ids`."""
    if not full:  # a scalar gate: plain numbers
        return _finite(_times(op.locals[index](ans, *args), upstream)), factor, False
    k = node.id
    kernel = op.in_place
    taken = []

    def out():
        """An array of the gate's shape for the local: a value that dies here, else a new one."""
        if last and not kernel.reads_after_write:
            for i, value in ((k, ans), *((inp.id, arg) for inp, arg in zip(node.inputs, args))):
                if bwd_last[i] == k and buffers.sole(value) and value.shape == full:
                    taken.append(False)
                    return value
        taken.append(True)
        return buffers.take(full)

    if (kernel is not None and kernel.divisor is not None and shape == full and not _is_scalar(upstream)
            and upstream.shape == full):
        got = kernel.divisor(index, out, ans, *args)
        if got is not None:  # upstream / d, in d's array (this edge's own, or a value dying here)
            divisor, local_factor = got
            return np.divide(upstream, divisor, out=divisor), _scale(factor, local_factor), taken[0]
    got = kernel.local(index, out, ans, *args) if kernel is not None else None
    if got is None:
        buffers.flush()  # the op's formula allocates its own arrays
        local, local_factor = op.locals[index](ans, *args), 1.0
        own = buffers.adopt(local, ans, *args)  # a fresh array, for this edge alone
    else:
        local, local_factor = got
        own = bool(taken) and taken[0]  # written into a new array for this edge alone
    # the local may be overwritten: it is this edge's own array, or a value that dies here
    writable = own or (last and not _is_scalar(local) and buffers.sole(local) and any(
        bwd_last[i] == k and value is local
        for i, value in ((k, ans), *((inp.id, arg) for inp, arg in zip(node.inputs, args)))))
    factor = _scale(factor, local_factor)
    if _is_scalar(local):
        factor = _scale(factor, float(local))
        if _is_scalar(upstream):  # stands for its broadcast to `full`; summed back to `shape`
            spread = _size(full) // max(_size(shape), 1)  # (an empty input: nothing to spread)
            return (_finite(upstream * spread) if spread != 1 else upstream), factor, False
        if upstream.shape == shape:
            return upstream, factor, False  # passed on as it is, scaled by a pending factor
        buffers.flush_before(shape)
        summed = unbroadcast(upstream, shape, full)
        return summed, factor, buffers.adopt(summed, upstream)
    if _is_scalar(upstream):
        factor = _scale(factor, float(upstream))
        if local.shape == shape:
            return local, factor, own
        buffers.flush_before(shape)
        summed = unbroadcast(local, shape, full)
        if shape == () and local.shape == full and math.isfinite(summed):
            finite_ids.add(id(local))
    elif local.shape == full and shape != full:  # the product summed back, without the product array
        buffers.flush_before(shape)
        summed = _product_sum(local, upstream, shape, full)
        if shape == () and math.isfinite(summed):
            finite_ids.add(id(local))
            finite_ids.add(id(upstream))
    else:
        # local × upstream into an array no one else reads: the local's, the upstream if this is
        # its last reader, or a new one
        if writable and local.shape == full:
            into, new = local, own
        elif last and buffers.sole(upstream):
            into, new = upstream, False
        else:
            into, new = buffers.take(full), True
        product = np.multiply(local, upstream, out=into)
        if own and into is not local:
            buffers.drop(local)
        if shape == full:
            return product, factor, new
        buffers.flush_before(shape)
        summed = unbroadcast(product, shape, full)
        if new:
            buffers.drop(product)
        return summed, factor, buffers.adopt(summed, product, upstream)
    if own:
        buffers.drop(local)
    return summed, factor, buffers.adopt(summed, local, upstream)


def _size(shape: tuple) -> int:
    size = 1
    for n in shape:
        size *= n
    return size


_PRODUCTS = ("matmul", "dot")


def _untraced_product(multiply, a, b, buffers: _Buffers, into: bool):
    """(a @ b or dot(a, b) as the op computes it, taken): with `into`, a matrix is written into
    a free array (taken: held by one slot). The op checks every output element for an overflow
    and rescues it; here there is nothing to check where no partial sum can overflow, else the
    output is checked, and an overflow raises _Unusual (then the op's own rescue runs)."""
    shape = a.shape[:-1] + b.shape[1:]
    taken = into and multiply is np.matmul and len(shape) == 2
    if taken:
        value = np.matmul(a, b, out=buffers.take(shape))
    else:
        buffers.flush()
        value = multiply(a, b)
    if not _product_finite(a, b, value):
        if taken:
            buffers.drop(value)
        raise _Unusual
    return value, taken


def _product_finite(a, b, value) -> bool:
    """Whether a product came out finite: from a bound on its partial sums (k × max|a| × max|b|,
    two passes over each input) where the inputs are the smaller and finite, else from the
    output itself (an input's nan or inf makes the bound nan or inf: the output is looked at)."""
    if a.size + b.size < value.size:
        k = a.shape[-1]
        bound = float(k) * max(float(np.max(a)), -float(np.min(a))) * max(float(np.max(b)), -float(np.min(b)))
        if bound < 1e300:
            return True
    return _all_finite(value)


def _untraced_vjp(op, node: Node, index: int, upstream, factor: float, ans, args: list, shapes: list,
                  buffers: _Buffers):
    """(result, factor, new) for an op that is not elementwise; every vjp is linear in the
    upstream gradient, so a pending factor stays pending."""
    inp_shape = shapes[node.inputs[index].id]
    if _full_reduction(node):
        # the upstream spread over the input: a scalar stands for its broadcast, no array needed
        if op.name == "mean":
            count = max(_size(inp_shape), 1)
            factor, scaled = factor / count, factor
            if not _normal(factor) or (factor == 0.0 and scaled != 0.0):
                raise _Unusual
        return upstream, factor, False
    out_shape = shapes[node.id]
    g = upstream if _shape(upstream) == out_shape else np.broadcast_to(upstream, out_shape)
    if any(a is None for a in args):  # inputs it does not read were freed: their shape stands in
        args = [np.broadcast_to(np.float64(0.0), shapes[inp.id]) if a is None else a
                for inp, a in zip(node.inputs, args)]
    if factor != 1.0 and op.name in ("dot", "matmul"):
        # a product is linear in each factor: scale the other operand when it is the smaller array
        other = args[1 - index]
        if np.size(other) < _size(inp_shape):
            args = list(args)
            args[1 - index] = other * factor
            factor = 1.0
    if op.name in _PRODUCTS and 0 not in out_shape and 0 not in inp_shape:
        # _product_vjp's products (as matrices: a vector a is a row, b a column), computed here
        a, b = args
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        g2 = np.reshape(g, (a2.shape[0], b2.shape[1]))
        pair = (g2, b2.T) if index == 0 else (a2.T, g2)
        try:
            result, taken = _untraced_product(np.matmul, *pair, buffers, len(inp_shape) == 2)
        except _Unusual:  # an overflow: the op's rescue
            buffers.flush()
            result = op.vjp(g, ans, *args, index=index, **node.params)
            return result, factor, buffers.adopt(result, upstream, ans, *args)
        if taken:
            return result, factor, True
        result = result.reshape(inp_shape)
        return result, factor, buffers.adopt(result, upstream, ans, *args)
    buffers.flush()
    result = op.vjp(g, ans, *args, index=index, **node.params)
    if not isinstance(result, np.ndarray) or result.ndim == 0:
        return np.float64(result), factor, False
    return result, factor, buffers.adopt(result, upstream, ans, *args)
