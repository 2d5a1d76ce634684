"""--max-memory counts every gate at its real shape (issue 11, kind 2): shapes are inferred
before the run (T, reductions with axis, dot and @, broadcasting), the estimate is an upper bound
of what NumPy allocates (measured with tracemalloc, which NumPy reports its buffers to), and a run
over the limit is refused before any work."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest

import gradcli
from gradcli.evaluation import engine, shapes
from gradcli.core.ops import OPS

from opcalls import DERIVATIVE_OPS, SKIPPED, calls


def inferred(program: str, **var_shapes) -> tuple:
    graph = gradcli.parse(program)
    return shapes.infer(graph, var_shapes)[0][graph.output.id]


@pytest.mark.parametrize("program, var_shapes, expected", [
    ("x * T(x)", {"x": (5, 1)}, (5, 5)),
    ("T(x)", {"x": (2, 3, 4)}, (4, 3, 2)),
    ("sum(x, axis=0)", {"x": (2, 3)}, (3,)),
    ("mean(x, axis=-1) + y", {"x": (2, 3), "y": (4, 1)}, (4, 2)),
    ("max(x)", {"x": (2, 3)}, ()),
    ("logsumexp(x, axis=1)", {"x": (2, 3, 4)}, (2, 4)),
    ("x @ y", {"x": (2, 3), "y": (3, 5)}, (2, 5)),
    ("dot(x, y)", {"x": (3,), "y": (3,)}, ()),
    ("dot(x, y)", {"x": (2, 3), "y": (3,)}, (2,)),
    ("x @ y", {"x": (3,), "y": (3, 4)}, (4,)),
    ("exp(x) * y - 2", {"x": (3, 1), "y": (4,)}, (3, 4)),
    ("sq(t) = t * t\nsq(x) * y", {"x": (3, 1), "y": (1, 2)}, (3, 2)),
])
def test_shapes_are_inferred_before_the_run(program, var_shapes, expected):
    assert inferred(program, **var_shapes) == expected
    values = {name: np.ones(shape) for name, shape in var_shapes.items()}
    assert np.shape(gradcli.parse(program).evaluate(values).value) == expected


@pytest.mark.parametrize("program, var_shapes, message", [
    ("x @ y", {"x": (2, 3), "y": (2, 3)}, "do not align"),
    ("x + y", {"x": (2,), "y": (3,)}, "do not broadcast"),
    ("sum(x, axis=2)", {"x": (2, 3)}, "axis 2 is out of bounds for array of dimension 2"),
])
def test_a_shape_error_is_found_before_the_run_with_the_runs_message(program, var_shapes, message):
    graph = gradcli.parse(program)
    with pytest.raises(gradcli.ShapeError, match=message) as before:
        shapes.infer(graph, var_shapes)
    with pytest.raises(gradcli.ShapeError) as during:
        graph.evaluate({name: np.ones(shape) for name, shape in var_shapes.items()})
    assert before.value.message == during.value.message


def _column(n: int) -> str:
    return json.dumps([[i / n] for i in range(n)])


@pytest.mark.parametrize("format", ["plain", "table", "json"])
def test_an_outer_product_through_a_transpose_is_counted(cli, tmp_path, format):
    path = tmp_path / "x.json"
    path.write_text(_column(5000))
    row = tmp_path / "y.json"
    row.write_text(json.dumps([i / 5000 for i in range(5000)]))
    # the example: 25,000,000 numbers (200 MB) for x * T(x), whichever way it is written
    for program, values in (("sum(x * T(x))", [f"x=@{path}"]), ("sum(x * y)", [f"x=@{path}", f"y=@{row}"])):
        result = cli("eval", program, *values, "--max-memory", "100MB", "--format", format)
        assert result.exit_code == 1, result.stdout
        assert "memory limit" in result.stderr and "25,000,000 numbers" in result.stderr
        assert result.stdout == ""


def test_the_transpose_example_runs_when_the_limit_allows_it(cli, tmp_path):
    path = tmp_path / "x.json"
    path.write_text(_column(2000))
    result = cli("eval", "sum(x * T(x))", f"x=@{path}", "--max-memory", "200MB", "--format", "plain")
    assert result.exit_code == 0, result.stderr
    x = np.arange(2000) / 2000
    f = float(result.stdout.split("\n")[0].split()[1])
    assert f == pytest.approx(x.sum() ** 2, rel=1e-12)


def _peak(call) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        result = call()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    del result
    return peak


def _estimate(graph, values, trace):
    arrays, _ = engine.bind_values(graph, values)
    plan = None if trace else engine._Plan(graph, arrays)
    return shapes.estimate(graph, {name: a.shape for name, a in arrays.items()}, trace, plan).bytes


def _programs():
    rng = np.random.default_rng(0)
    a = rng.uniform(0.5, 1.5, (200, 250))
    column, row = rng.uniform(0.5, 1.5, (200, 1)), rng.uniform(0.5, 1.5, (1, 250))
    m = rng.uniform(0.5, 1.5, (250, 120))
    symbols = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}
    for op in OPS.values():  # every op of the registry
        call = op.call_name
        if op.name in SKIPPED:
            continue
        if op.name in DERIVATIVE_OPS:
            # the SPEC shapes, each dimension above 1 made 40 times longer
            yield from calls(op, lambda shape, i: rng.uniform(0.5, 1.5, tuple(40 * n if n > 1 else n for n in shape)))
            continue
        if op.vjp is None and op.arity == 1:
            yield ("-x" if op.name == "neg" else f"{call}(x)"), {"x": a}
        elif op.vjp is None and op.arity == 3:
            yield f"{call}(x, y, z)", {"x": a, "y": a, "z": a}
            yield f"{call}(x, y, z)", {"x": a, "y": column, "z": row}
            yield f"{call}(x, y, 1.5)", {"x": a, "y": 0.5}
        elif op.vjp is None:
            program = f"x {symbols[op.name]} y" if op.name in symbols else f"{call}(x, y)"
            yield program, {"x": a, "y": a}
            yield program, {"x": column, "y": row}
            yield program, {"x": a, "y": 1.5}
        elif "axis" in op.params:
            for axis in ("", ", axis=0", ", axis=1"):
                yield f"{call}(x{axis})", {"x": a}
        elif op.arity == 2:
            yield ("x @ y" if op.name == "matmul" else f"{call}(x, y)"), {"x": a, "y": m}
        else:
            yield f"{call}(x) * y", {"x": a, "y": np.ascontiguousarray(a.T)}
    yield "sum(x * T(y))", {"x": column, "y": column}
    yield "1/(1+exp(-(w0*x0+w1*x1+w2)))", {"w0": 0.5, "x0": a, "w1": -1.5, "x1": a * 2, "w2": 0.1}
    yield "sum((tanh(tanh(X @ W1 + b1) @ W2 + b2) - Y)**2)/7", {
        "X": rng.normal(size=(500, 20)), "W1": rng.normal(size=(20, 100)), "b1": rng.normal(size=100),
        "W2": rng.normal(size=(100, 10)), "b2": rng.normal(size=10), "Y": rng.normal(size=(500, 10))}
    yield "sq(t) = t * t\nsq(x) * x + sq(y)", {"x": a, "y": row}
    yield "t = (x + 1) + ((x + 2) + ((x + 3) + (x + 4))); t * t", {"x": a}
    yield "p = x * y; q = exp(p); sum(q, axis=0) @ T(q) + norm(p)", {"x": column, "y": row}


@pytest.mark.parametrize("program, values", list(_programs()), ids=lambda p: p if isinstance(p, str) else "")
def test_the_estimate_bounds_what_numpy_allocates(program, values):
    """Inputs plus the peak allocated during the run, in the traced path, the untraced fast pass
    and its careful rerun (the traced loop without records)."""
    graph = gradcli.parse(program)
    inputs = sum(np.asarray(v).nbytes for v in values.values())
    with np.errstate(all="ignore"):
        for trace in (False, True):
            measured = inputs + _peak(lambda: graph.evaluate(values, trace=trace))
            assert measured <= _estimate(graph, values, trace), (trace, measured)
        arrays, diagnostics = engine.bind_values(graph, values)
        careful = inputs + _peak(lambda: engine._run_traced(graph, arrays, diagnostics, engine._Plan(graph, arrays)))
        assert careful <= _estimate(graph, values, False)


def test_the_estimate_is_not_far_above_a_long_graphs_need():
    """A long chain of gates over one array: values that are not read again are let go."""
    x = np.random.default_rng(1).uniform(0.5, 1.5, 100_000)
    graph = gradcli.parse("y = x" + "".join(f"\ny = tanh(y) * {i % 3 + 1} + x" for i in range(40)) + "\ny")
    measured = x.nbytes + _peak(lambda: graph.evaluate({"x": x}, trace=False))
    estimate = _estimate(graph, {"x": x}, False)
    assert measured <= estimate <= 80 * x.nbytes  # 40 tanh outputs kept for the backward pass, and a few


def test_the_networks_untraced_peak_holds_two_hidden_layers():
    """bench/arrays.py's network: the hidden pre-activation is kept for tanh's slope, so the
    product's small gradient (W2's) is made first, its hidden input let go, and then the hidden
    gradient made: two hidden-layer arrays at the peak, as the hand-written code holds."""
    rng = np.random.default_rng(3)
    rows = 4000
    values = {"X": rng.normal(size=(rows, 20)), "W1": rng.normal(size=(20, 100)) / 5, "b1": rng.normal(size=100),
              "W2": rng.normal(size=(100, 10)) / 10, "b2": rng.normal(size=10), "Y": rng.normal(size=(rows, 10))}
    graph = gradcli.parse(f"sum((tanh(tanh(X @ W1 + b1) @ W2 + b2) - Y)**2)/{rows}")
    hidden = rows * 100 * 8
    assert _peak(lambda: graph.evaluate(values, trace=False)) <= 2.45 * hidden  # (the rest: N x 20, N x 10)


def test_a_refused_run_does_no_work():
    x = np.linspace(0, 1, 5000).reshape(-1, 1)
    graph = gradcli.parse("sum(x * T(x))")
    for trace in (False, True):
        def refused():
            with pytest.raises(gradcli.ResourceError, match="more than the memory limit of 95.4 MiB"):
                graph.evaluate({"x": x}, trace=trace, max_memory=100 * 10**6)
        assert _peak(refused) < 1_000_000  # the 200 MB product was never allocated


@pytest.mark.parametrize("trace", [False, True])
def test_a_graph_of_scalars_is_estimated_as_by_the_engine(trace):
    graph = gradcli.parse("x * y + sin(x)")
    need = _estimate(graph, {"x": 1.0, "y": 2.0}, trace)
    with pytest.raises(gradcli.ResourceError):
        graph.evaluate({"x": 1.0, "y": 2.0}, trace=trace, max_memory=need - 1)
    assert graph.evaluate({"x": 1.0, "y": 2.0}, trace=trace, max_memory=need).value == pytest.approx(2 + np.sin(1))


@pytest.mark.parametrize("program", ["x * y + sin(x)", "relu(x - y) * max(x, y) ** 2 / exp(-y)",
                                     "t = x * y\nt = tanh(t) + t * x\nt = sigmoid(t) * t\nt - y"])
def test_the_scalar_engines_bound_is_at_least_the_engines_estimate(program):
    from gradcli.evaluation import scalar_engine

    graph = gradcli.parse(program)
    values = {"x": 0.5, "y": -1.5}
    assert scalar_engine.run(graph, values, max_memory=10**9) is not None  # a plan is made
    (plan,) = graph._scalar_plans.by_bound.values()
    assert plan.size >= max(_estimate(graph, values, trace) for trace in (False, True))


def test_nested_functions_are_estimated_once_per_body():
    program = "g0(t) = t * t\n" + "".join(f"g{i}(t) = g{i - 1}(t) + g{i - 1}(t)\n" for i in range(1, 41)) + "g40(x)"
    graph = gradcli.parse(program)
    values = {"x": np.ones(10)}
    arrays, _ = engine.bind_values(graph, values)
    assert 0 < shapes.estimate(graph, {"x": (10,)}, False, engine._Plan(graph, arrays)).bytes < 10**9


@pytest.mark.parametrize("size", ["5XB", "abc", "-1", "1e400"])
def test_a_max_memory_that_is_not_a_size_is_a_usage_error(cli, size):
    result = cli("eval", "x", "x=1", "--max-memory", size)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (f"error: invalid value for --max-memory: not a size (write e.g. 512MB, 8GiB, "
                             "or 0 for no limit)\nhint: gradcli eval --help describes --max-memory\n")
