"""The forward and backward pass on an array library other than NumPy (array_api_strict, Dask,
CuPy, PyTorch…), through the array API standard (array-api-compat gives the namespace).

Reverse mode here is the gradient graph (gradcli.differentiation.derivative.gradient_graph: each
op's `rule`, the one statement of its derivative, instantiated per gate), run forward through the
standard's functions (gradcli.core.array_api.FORWARDS). So a Dask value gives a lazy Dask graph of
f and of every gradient, computed chunk by chunk when asked (`dask.compute(r.value,
r.gradients)`), for arrays larger than memory; a CuPy value computes on its GPU.

The NumPy engine's `run` chooses this module once per run, when a value is an array of another
library (gradcli.core.array_api.namespace_of); NumPy values never come here (nor to the scalar
engine before it, which declines every value that is not a NumPy number).

nan/inf warnings: every input, gate and gradient gets a finiteness flag (`all(isfinite(v))`),
computed with the values. An eager library's run (CuPy, array_api_strict) reads them at once; a
lazy run's result is a `LazyResult`, whose `compute()` computes the value, the gradients and the
flags in one `dask.compute` and then adds the warnings: `result.diagnostics` holds none of them
before. When a flag is false, the NumPy engine runs once on the inputs copied to the host and
its nan/inf diagnostics (the same messages as for NumPy values) are added; past
HOST_CHECK_BYTES of inputs, one warning per non-finite gate or gradient instead. No NumPy
RuntimeWarning leaves a run or `compute()` (computing `r.value` yourself may print them).
What NumPy's engine adds and this does not: kinks (relu at 0 …), float64's rescues of
overflowing partial sums, and max_memory. The per-gate records (`result.trace`) are made when
first read, by the NumPy engine on the values copied to the host (which computes a lazy value
whole).
"""

from __future__ import annotations

import math
import warnings
from contextlib import contextmanager

import numpy as np

from ..base.errors import GradcliError
from ..core.array_api import FORWARDS, is_lazy
from ..core.graph import Graph, Node
from ..core.kernels import array_op_shape, broadcast_error
from ..core.trace import Diagnostic, Result
from ..core.ops import OPS
from ..differentiation.derivative import RULES, Builder, copy_nodes, gradient_nodes, topological, zero_like
from ..inputs.values import to_array

# the inputs, in bytes, up to which a non-finite flag makes the NumPy engine look closer on the host
HOST_CHECK_BYTES = 2**28


@contextmanager
def quiet():
    """No NumPy RuntimeWarning (divide by zero in log …) printed while a run computes: they are
    the run's diagnostics to say. (The warnings filter is the process's, so Dask's worker threads
    obey it too; np.errstate covers this thread.)"""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


class LazyResult(Result):
    """The Result of a lazy (Dask) run: `value` and `gradients` are lazy arrays, and
    `diagnostics` holds no nan/inf warning until `compute()`."""

    __slots__ = ("_check",)

    def compute(self) -> "LazyResult":
        """Compute the value, the gradients and the finiteness flags at once (one
        `dask.compute`, no NumPy warning printed), replace them by NumPy arrays (a float for a
        scalar) and add the nan/inf diagnostics, as for NumPy values. Returns self; a second
        call does nothing."""
        if self._check is None:
            return self
        import dask

        flags, arrays, numpy_run = self._check
        with quiet():
            value, gradients, flags = dask.compute(self.value, dict(self.gradients), flags)
        self.value = float(value) if np.ndim(value) == 0 else np.asarray(value)
        self.gradients = {n: float(g) if np.ndim(g) == 0 else np.asarray(g) for n, g in gradients.items()}
        self.diagnostics.extend(_non_finite(self.graph, flags, arrays, numpy_run))
        self._check = None
        return self


def run(graph: Graph, values: dict, xp, *, bind, numpy_run, trace: bool | None = None) -> Result:
    """f and its gradients in namespace `xp` (the values' own; numbers and NumPy arrays among
    them are moved to it). Returns a Result whose value and gradients are arrays of `xp`: lazy
    ones for Dask. Raises MissingValueError, ShapeError (found from the shapes, before any
    computing), GradcliError for an op the namespace cannot compute (erf outside Dask).

    The NumPy engine's run (gradcli.evaluation.engine.run, which calls this) hands over its
    `bind` (bind_values: the values checked against the variables, with the same messages) and
    itself, `numpy_run`, for the records (none with trace=False)."""
    device = _device_of(values.values())
    arrays, diagnostics = bind(graph, values, finite=False,
                               convert=lambda given: _to_namespace(given, xp, device))
    diagnostics[:0] = graph.notes
    names = tuple(n for n in graph.variables if n in arrays)
    output, gradients = _gradient_nodes(graph, names)
    lazy = is_lazy(xp)
    with quiet():
        computed = _forward(topological([output, *gradients.values()]), arrays, xp, device)
    value = computed[output]
    results = {}
    for name, node in gradients.items():
        gradient = computed[node]
        shape = tuple(arrays[name].shape)
        if tuple(gradient.shape) != shape:  # a gradient standing for its broadcast
            gradient = xp.broadcast_to(gradient, shape)
        results[name] = gradient if lazy or shape else float(gradient)
    with quiet():
        flags = _flags(computed, topological([output]), results, xp)
    if not lazy and value.ndim == 0:
        value = float(value)

    def records():
        with quiet():
            host = {n: to_numpy(a) for n, a in arrays.items()}
        return numpy_run(graph, host, trace=True).trace

    records = None if trace is False else records
    if not lazy:
        diagnostics += _non_finite(graph, {k: bool(f) for k, f in flags.items()}, arrays, numpy_run)
        return Result(graph, value, results, None, diagnostics, records=records)
    result = LazyResult(graph, value, results, None, diagnostics, records=records)
    result._check = (flags, arrays, numpy_run)
    return result


def _flags(computed: dict, forward: list[Node], gradients: dict, xp) -> dict:
    """{(kind, key): all(isfinite(value))} for each input and gate of f (kind "node", key the
    node's label and place) and each gradient (kind "gradient", key the variable's name)."""
    flags = {}
    for node in forward:
        if node.kind in ("var", "gate"):
            at = repr(node.label) if node.kind == "var" else f"{node.label!r} ({node.gate_name}, {node.span.where()})"
            flags[("node", node.kind, at)] = xp.all(xp.isfinite(computed[node]))
    for name, gradient in gradients.items():
        flags[("gradient", name)] = xp.all(xp.isfinite(xp.asarray(gradient)))
    return flags


def _non_finite(graph: Graph, flags: dict, arrays: dict, numpy_run) -> list:
    """The nan/inf diagnostics of a run whose finiteness flags are computed: none when every flag
    is true; else the NumPy engine's own (run on the inputs copied to the host), or, past
    HOST_CHECK_BYTES, one per non-finite gate and gradient."""
    if all(bool(f) for f in flags.values()):
        return []
    size = sum(math.prod(tuple(a.shape)) * 8 for a in arrays.values())
    if size <= HOST_CHECK_BYTES:
        with quiet():
            host = {n: to_numpy(a) for n, a in arrays.items()}
        return [d for d in numpy_run(graph, host, trace=False).diagnostics if d.kind == "domain"]
    found = []
    for key, finite in flags.items():
        if bool(finite):
            continue
        if key[0] == "gradient":
            found.append(Diagnostic("domain", f"the gradient with respect to {key[1]!r} holds a nan or inf"))
        elif key[1] == "var":
            found.append(Diagnostic("domain", f"the value of {key[2]} holds a nan or inf"))
        else:
            found.append(Diagnostic("domain", f"gate {key[2]} produced a nan or inf"))
    return found


def to_numpy(array) -> np.ndarray:
    """An array of any library as a NumPy array on the host (a Dask array is computed)."""
    get = getattr(array, "get", None)  # CuPy's copy to the host
    if callable(get) and type(array).__module__.startswith("cupy"):
        return get()
    return np.asarray(array)


def _device_of(values):
    import array_api_compat

    for value in values:
        if array_api_compat.is_array_api_obj(value) and not isinstance(value, np.ndarray):
            return array_api_compat.device(value)
    return None


def _to_namespace(values: dict, xp, device) -> dict:
    import array_api_compat

    arrays = {}
    for name, value in values.items():
        if array_api_compat.is_array_api_obj(value) and not isinstance(value, np.ndarray):
            if any(n is None or (isinstance(n, float) and math.isnan(n)) for n in value.shape):
                raise GradcliError(f"{name}'s shape is unknown (a Dask array with unknown chunk sizes); "
                                   f"call {name}.compute_chunk_sizes()",
                                   hint="a boolean mask (X[X > 0]) leaves the sizes unknown until computed")
            if value.dtype != xp.float64:
                if not (xp.isdtype(value.dtype, "real floating") or xp.isdtype(value.dtype, "integral")
                        or value.dtype == xp.bool):
                    raise GradcliError(f"value of {name}: {value.dtype} values are not real numbers")
                value = xp.astype(value, xp.float64)
            arrays[name] = value
        else:
            arrays[name] = xp.asarray(to_array(value, f"value of {name}"), device=device)
    return arrays


def _gradient_nodes(graph: Graph, names: tuple) -> tuple[Node, dict[str, Node]]:
    """The copy of f's output and each gradient's node (of sum(f) for an array f), built once per
    graph and set of names. The seed is 1 spread over f's shape (`expand_as(1, f)`): every
    cotangent then has its gate's shape, as the standard's functions need (the NumPy engine lets
    a scalar stand for its broadcast instead)."""
    cache = graph.__dict__.setdefault("_array_api_gradients", {})
    if names not in cache:
        copies = copy_nodes(graph.nodes)  # (f's own nodes, copied: a Graph numbers its nodes)
        builder = Builder(lambda node: None)
        builder.know(copies.values())
        output = copies[graph.output]
        span = graph.output.span
        seed = builder.gate(OPS["expand_as"], (builder.const(1.0, span), output), {}, span)
        variables = [copies[graph.variables[n]] for n in names]
        nodes = gradient_nodes(output, variables, builder, RULES, seed=seed)
        cache[names] = (output, {n: zero_like(v, builder, span) if d is None else d
                                 for n, v, d in zip(names, variables, nodes)})
    return cache[names]


def _forward(order: list[Node], arrays: dict, xp, device) -> dict:
    """Every node's value, inputs before gates; a gate's shapes are checked before it runs, with
    the NumPy engine's checks and messages."""
    computed = {}
    for node in order:
        if node.kind == "var" and node.name in arrays:
            computed[node] = arrays[node.name]
            continue
        if node.kind != "gate":
            computed[node] = xp.asarray(float(node.default), dtype=xp.float64, device=device)
            continue
        args = [computed[i] for i in node.inputs]
        _check_shapes(node, [tuple(a.shape) for a in args])
        computed[node] = _gate(node, args, xp, device)
    return computed


def _check_shapes(node: Node, shapes: list) -> None:
    if node.op.elementwise and node.op.body is None:
        if len(shapes) > 1 and any(s != shapes[0] for s in shapes):
            try:
                np.broadcast_shapes(*shapes)
            except ValueError:
                raise broadcast_error(node, *shapes) from None
    elif node.op.body is None:
        array_op_shape(node, shapes)


def _gate(node: Node, args: list, xp, device):
    op = node.op
    if op.body is not None:  # a function the program defines: its body, on these arguments
        body = op.body.body
        bound = dict(zip(op.body.params, args))
        computed = _forward(topological(body.output), {n: v for n, v in bound.items() if n in body.variables},
                            xp, device)
        return computed[body.output]
    try:
        forward = FORWARDS[op.name]
        return forward(xp, *args, **node.params)
    except (KeyError, NotImplementedError):
        raise GradcliError(f"{op.call_name} has no array API function, so it cannot run on "
                           f"{xp.__name__} arrays (gate {node.label!r})", span=node.span,
                           hint="pass NumPy arrays (numpy.asarray(value)) for this expression") from None
