"""The engine on array libraries other than NumPy (issue 17, item 2), through the array API
standard: array-api-strict (which refuses every call the standard does not have, and any NumPy
function on its arrays), Dask arrays (lazy: nothing is computed until asked) and CuPy when a GPU
is there.

Registry-driven: every op of the registry, at the points and shapes of test_ops.py's SPEC table
(its domain, scalars, arrays, broadcasting, every axis), is evaluated with its inputs as arrays of
the library, and f and every gradient must be the NumPy engine's (itself held to central
differences and to each op's rule by test_ops.py and test_rules.py). Then the same by hand: a
composite program against central differences, laziness, chunked computing, errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradcli
from gradcli.core.array_api import FORWARDS
from gradcli.core.ops import OPS

from opcalls import SKIPPED, calls
from test_ops import SHAPES, SPEC, _points

strict = pytest.importorskip("array_api_strict", reason="array-api-strict is a test extra: pip install 'gradcli[test]'")
da = pytest.importorskip("dask.array", reason="Dask is an extra: pip install 'gradcli[dask]'")
import dask  # noqa: E402

RTOL = 1e-10
ATOL = 1e-12
SYMBOL = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**", "matmul": "@"}


def _call(op) -> str:
    names = "xyw"[:op.arity]
    if op.name in SYMBOL:
        return f"x {SYMBOL[op.name]} y"
    if op.name == "neg":
        return "-x"
    return f"{op.call_name}({', '.join(names)})"


def _programs(op):
    """(program, values) for the op at its SPEC points: one point per shape (elementwise) or
    per case (reductions, products, the ops derivative graphs are made of)."""
    if op.elementwise:
        for shapes in SHAPES[op.arity]:
            inputs = next(iter(_points(op.name, shapes)))
            yield _call(op), {n: np.asarray(v, dtype=np.float64) for n, v in zip("xyw", inputs)}
        return
    rng = np.random.default_rng(len(op.name))
    domains = SPEC[op.name].domains if SPEC[op.name].domains else ()

    def fill(shape, index):
        low, high = (domains[index][0] if index < len(domains) else (-2.0, 2.0))
        return rng.uniform(low, high, size=shape)

    for program, values in calls(op, fill):
        if op.name in SYMBOL:  # matmul: `@`, not called by name
            program = "x @ y"
        yield program, values


def _registry():
    for name, op in sorted(OPS.items()):
        if name in SKIPPED:
            continue  # diff and scalar: made by diff(f, x), covered below
        yield pytest.param(name, id=name)


def _as_strict(values):
    return {n: strict.asarray(v) for n, v in values.items()}


def _as_dask(values):
    # several chunks wherever an axis allows: the reductions and products combine partial results
    return {n: da.from_array(v, chunks=tuple(max(1, (s + 1) // 2) for s in v.shape)) for n, v in values.items()}


def _same(got, expected, what):
    got = np.asarray(got)
    assert got.shape == np.shape(expected), what
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL, err_msg=what)


def _check(program, values, convert, compute=lambda r: (r.value, r.gradients)):
    oracle = gradcli.parse(program).evaluate(values, trace=False)
    result = gradcli.parse(program).evaluate(convert(values))
    value, gradients = compute(result)
    _same(value, oracle.value, f"f of {program}")
    assert gradients.keys() == oracle.gradients.keys()
    for name, gradient in gradients.items():
        _same(gradient, oracle.gradients[name], f"d/d{name} of {program}")
    return result


def test_every_op_has_an_array_api_forward():
    missing = sorted(set(OPS) - set(FORWARDS))
    assert not missing, f"ops without a forward in gradcli.core.array_api.FORWARDS: {missing}"


@pytest.mark.parametrize("name", list(_registry()))
def test_registry_under_array_api_strict(name):
    op = OPS[name]
    if name == "erf":  # the standard has no erf: refused with a message
        with pytest.raises(gradcli.GradcliError, match="erf has no array API function"):
            gradcli.evaluate("erf(x)", x=strict.asarray([0.5]))
        return
    for program, values in _programs(op):
        result = _check(program, values, _as_strict)
        for name_, gradient in result.gradients.items():
            if np.ndim(values[name_]):
                assert type(gradient).__module__.startswith("array_api_strict"), f"{program}: {name_}'s gradient left the namespace"


@pytest.mark.parametrize("name", list(_registry()))
def test_registry_under_dask(name):
    op = OPS[name]
    for program, values in _programs(op):
        _check(program, values, _as_dask,
               compute=lambda r: dask.compute(r.value, r.gradients))


def test_cupy_on_a_gpu():
    cupy = pytest.importorskip("cupy", reason="CuPy is not installed (it needs an NVIDIA GPU and CUDA)")
    try:
        if cupy.cuda.runtime.getDeviceCount() == 0:
            pytest.skip("no GPU: CuPy sees no CUDA device")
    except cupy.cuda.runtime.CUDARuntimeError as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"no GPU: {exc}")
    X = np.random.default_rng(1).normal(size=(50, 4))
    w = np.array([0.5, -1.0, 0.25, 2.0])
    result = _check("sum(tanh(X @ w))", {"X": X, "w": w}, lambda v: {n: cupy.asarray(a) for n, a in v.items()},
                    compute=lambda r: (r.value, {n: cupy.asnumpy(g) for n, g in r.gradients.items()}))
    assert type(result.gradients["w"]).__module__.startswith("cupy")


def _central(f, values, name, h=1e-6):
    x = values[name]
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[i] += h
        minus[i] -= h
        out[i] = (f({**values, name: plus}) - f({**values, name: minus})) / (2 * h)
    return out


NETWORK = "sum(log(1 + exp(-(tanh(X @ W) @ v) * t))) / 8 + 0.1*norm(W)"


def _network_values():
    rng = np.random.default_rng(7)
    return {"X": rng.normal(size=(8, 3)), "W": rng.normal(size=(3, 4)), "v": rng.normal(size=(4,)),
            "t": np.sign(rng.normal(size=(8,)))}


def _numpy_f(values):
    h = np.tanh(values["X"] @ values["W"]) @ values["v"]
    return np.sum(np.log(1 + np.exp(-h * values["t"]))) / 8 + 0.1 * np.sqrt(np.sum(values["W"] ** 2))


@pytest.mark.parametrize("convert", [_as_strict, _as_dask], ids=["strict", "dask"])
def test_network_gradients_match_central_differences(convert):
    values = _network_values()
    result = gradcli.evaluate(NETWORK, convert(values))
    value, gradients = dask.compute(result.value, result.gradients)
    assert math.isclose(float(value), _numpy_f(values), rel_tol=1e-12)
    for name in ("X", "W", "v"):
        np.testing.assert_allclose(np.asarray(gradients[name]), _central(_numpy_f, values, name),
                                   rtol=1e-6, atol=1e-8)


def test_dask_results_are_lazy_and_computed_chunk_by_chunk():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(1000, 5))
    w = rng.normal(size=5)
    calls = []

    def counted(block):
        calls.append(block.shape)
        return block

    lazy_X = da.from_array(X, chunks=(100, 5)).map_blocks(counted, dtype=np.float64)
    result = gradcli.evaluate("sum(tanh(X @ w))", X=lazy_X, w=w)
    assert isinstance(result.value, da.Array) and isinstance(result.gradients["w"], da.Array)
    assert calls == [] or all(s == (0, 0) or 0 in s for s in calls)  # only Dask's meta probes so far
    calls.clear()
    value, gw = dask.compute(result.value, result.gradients["w"])
    assert sorted(set(calls)) == [(100, 5)] and len(calls) == 10  # ten blocks, each read once
    z = X @ w
    assert math.isclose(float(value), np.sum(np.tanh(z)), rel_tol=1e-12)
    np.testing.assert_allclose(gw, X.T @ (1 / np.cosh(z) ** 2), rtol=1e-12)


def test_numbers_and_numpy_values_join_a_dask_run():
    result = gradcli.evaluate("sum(x * y) + z", x=da.arange(4.0, chunks=2), y=[1.0, 2.0, 3.0, 4.0], z=5)
    value, gradients = dask.compute(result.value, result.gradients)
    assert float(value) == 25.0
    assert gradients["x"].tolist() == [1.0, 2.0, 3.0, 4.0] and gradients["y"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert float(gradients["z"]) == 1.0


def test_records_are_made_on_the_host_when_read():
    result = gradcli.evaluate("sum(exp(x))", x=strict.asarray([0.0, 1.0]))
    assert [r.node.label for r in result.trace][-1] == "sum(exp(x))"
    assert result.value == pytest.approx(1 + math.e)


def test_user_functions_run_in_the_namespace():
    program = "f(a, b) = a * exp(b); sum(f(x, y))"
    values = {"x": np.array([1.0, 2.0]), "y": np.array([0.5, -0.5])}
    _check(program, values, _as_strict)
    _check(program, values, _as_dask, compute=lambda r: dask.compute(r.value, r.gradients))


def test_diff_and_scalar_gates_run_in_the_namespace():
    _check("diff(sum(x**3), x)", {"x": np.array([1.0, 2.0])}, _as_strict)


def test_shape_errors_are_the_numpy_engines():
    with pytest.raises(gradcli.ShapeError) as numpy_error:
        gradcli.evaluate("x + y", x=np.zeros(3), y=np.zeros(4))
    with pytest.raises(gradcli.ShapeError) as dask_error:
        gradcli.evaluate("x + y", x=da.zeros(3), y=np.zeros(4))
    assert str(dask_error.value) == str(numpy_error.value)
    with pytest.raises(gradcli.ShapeError, match="do not align"):
        gradcli.evaluate("X @ w", X=strict.zeros((2, 3)), w=strict.zeros(4))


def test_missing_and_unused_values_are_reported_as_with_numpy():
    with pytest.raises(gradcli.MissingValueError):
        gradcli.evaluate("x + y", x=da.zeros(3))
    result = gradcli.evaluate("sum(x)", x=da.zeros(3), q=1.0)
    assert [d.kind for d in result.diagnostics] == ["input"]


def test_numpy_values_take_the_numpy_engine(monkeypatch):
    from gradcli.evaluation import array_api

    monkeypatch.setattr(array_api, "run", lambda *a, **k: pytest.fail("NumPy values left the NumPy engine"))
    assert gradcli.evaluate("sum(x*x)", x=np.arange(3.0)).gradients["x"].tolist() == [0.0, 2.0, 4.0]


# -- values from Parquet and Zarr for eval (issue 17, item 3) ------------------------------------

@pytest.fixture
def stores(tmp_path, monkeypatch):
    pa = pytest.importorskip("pyarrow", reason="pyarrow is an extra: pip install 'gradcli[dask]'")
    pq = pytest.importorskip("pyarrow.parquet")
    zarr = pytest.importorskip("zarr", reason="zarr is an extra: pip install 'gradcli[dask]'")
    monkeypatch.chdir(tmp_path)
    pq.write_table(pa.table({"x": [1.0, 2.0, 3.0], "n": [1, 2, 3], "v": [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]],
                             "s": ["a", "b", "c"], "r": [[1.0], [2.0, 3.0], [4.0]]}), "data.parquet")
    pq.write_table(pa.table({"only": [0.5, -0.5]}), "one.parquet")
    big = zarr.create_array("big.zarr", shape=(6, 2), chunks=(2, 2), dtype="f8")
    big[:] = np.arange(12.0).reshape(6, 2)
    group = zarr.open_group("group.zarr", mode="w")
    group.create_array("a", shape=(3,), dtype="i4")[:] = [1, 2, 3]
    group.create_array("b", shape=(2,), dtype="f8")[:] = [0.5, 1.5]
    return tmp_path


def test_parquet_column_and_list_column_for_eval(stores, cli):
    out = cli("eval", "sum(x*x) + sum(V @ w)", "x=@data.parquet:x", "V=@data.parquet:v", "w=[1,1]", "--format", "plain")
    assert out.exit_code == 0, out.stderr
    # f = 1+4+9 + (3+7+11); ∂f/∂x = 2x; ∂f/∂V = w in every row; ∂f/∂w = column sums of V
    assert out.stdout.split("\n")[:4] == ["f 35.0", "x [2.0,4.0,6.0]", "V [[1.0,1.0],[1.0,1.0],[1.0,1.0]]",
                                          "w [9.0,12.0]"]
    out = cli("eval", "sum(n) + sum(y)", "n=@data.parquet:n", "y=@one.parquet", "--format", "plain")
    assert out.stdout.startswith("f 6.0\n")


def test_zarr_is_read_lazily_and_computed_for_eval(stores, cli):
    from gradcli.inputs.datafiles import load_value

    lazy = load_value("big.zarr", "value of X")
    assert isinstance(lazy, da.Array) and lazy.chunks == ((2, 2, 2), (2,))
    out = cli("eval", "sum(X @ w)", "X=@big.zarr", "w=[1,2]", "--format", "plain")
    assert out.exit_code == 0, out.stderr
    # X @ w = [2, 8, …, 32], sum 102; ∂f/∂w = column sums of X (30, 36); ∂f/∂X = w in every row
    assert out.stdout.split("\n")[:3] == ["f 102.0", "X [[1.0,2.0],[1.0,2.0],[1.0,2.0],[1.0,2.0],[1.0,2.0],[1.0,2.0]]",
                                          "w [30.0,36.0]"]
    out = cli("eval", "sum(a) * sum(b)", "a=@group.zarr:a", "b=@group.zarr:b", "--format", "plain")
    assert out.stdout.startswith("f 12.0\na [2.0,2.0,2.0]\nb [6.0,6.0]\n")


@pytest.mark.parametrize("value, needles", [
    ("x=@data.parquet", ["holds 5 columns; say which one", "its columns are x, n, v, s, r"]),
    ("x=@data.parquet:q", ["has no column 'q'"]),
    ("x=@data.parquet:s", ["column 's' of data.parquet holds string values, not real numbers"]),
    ("x=@data.parquet:r", ["differ in length (row 1 has 1, row 2 has 2)"]),
    ("x=@missing.parquet", ["cannot read missing.parquet: no such file"]),
    ("x=@big.zarr:a", ["is one array, not a group"]),
    ("x=@group.zarr", ["is a group of 2 arrays", "its arrays are a, b"]),
    ("x=@missing.zarr", ["cannot read missing.zarr: no such file"]),
])
def test_bad_stores_are_one_message_and_exit_1(stores, cli, value, needles):
    out = cli("eval", "sum(x)", value)
    assert out.exit_code == 1
    assert "Traceback" not in out.stderr and out.stderr.startswith("error: ")
    for needle in needles:
        assert needle in out.stderr


def test_parquet_over_the_memory_limit_is_refused_before_reading(stores, cli):
    out = cli("eval", "sum(x)", "x=@data.parquet:x", "--max-memory", "16")
    assert out.exit_code == 1 and "3 rows: 24 bytes as float64" in out.stderr


def test_arrays_of_two_libraries_are_one_message():
    with pytest.raises(gradcli.GradcliError, match="arrays of array_api_strict and dask"):
        gradcli.evaluate("sum(x) + sum(y)", x=da.zeros(2), y=strict.zeros(2))


def test_trace_false_keeps_no_records():
    assert gradcli.parse("sum(x)").evaluate({"x": da.ones(3)}, trace=False).trace is None


def test_plain_eval_of_a_zarr_store_makes_no_host_copy(stores, cli, monkeypatch):
    from gradcli.evaluation import array_api

    monkeypatch.setattr(array_api, "to_numpy", lambda a: pytest.fail("the store was copied to the host whole"))
    out = cli("eval", "sum(X @ w)", "X=@big.zarr", "w=[1,2]", "--format", "plain")
    assert out.exit_code == 0 and out.stdout.startswith("f 102.0\n")


# -- nan/inf warnings, unknown shapes, folders of parts (FIXES items 4, 5, 10) -------------------

@pytest.fixture
def zero_store(tmp_path, monkeypatch):
    zarr = pytest.importorskip("zarr", reason="zarr is an extra: pip install 'gradcli[dask]'")
    monkeypatch.chdir(tmp_path)
    store = zarr.create_array("i.zarr", shape=(4,), chunks=(2,), dtype="f8")
    store[:] = [0.0, 1.0, 2.0, 3.0]
    np.save("i.npy", np.array([0.0, 1.0, 2.0, 3.0]))
    return tmp_path


LOG_WARNINGS = ("warning: gate 'log(A)' (log, line 1, column 5) produced -inf from finite inputs\n"
                "warning: the gradient from gate 'log(A)' (log, line 1, column 5) to its input 'A' is inf\n")


@pytest.mark.parametrize("fmt", ["table", "json", "plain"])
def test_zarr_values_warn_of_nan_and_inf_as_numpy_values_do(zero_store, cli, fmt):
    zarr_run = cli("eval", "sum(log(A))", "A=@i.zarr", "--format", fmt)
    numpy_run = cli("eval", "sum(log(A))", "A=@i.npy", "--format", fmt)
    assert zarr_run.exit_code == 0 and zarr_run.stderr == numpy_run.stderr == LOG_WARNINGS
    assert zarr_run.stdout == numpy_run.stdout  # f = log 0 = -inf; ∂f/∂A = 1/A = [inf, 1, 1/2, 1/3]


def test_zarr_run_prints_no_raw_numpy_warning(zero_store):
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run([sys.executable, "-m", "gradcli", "eval", "sum(log(A))", "A=@i.zarr", "--format", "plain"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0
    assert done.stderr == LOG_WARNINGS  # no "RuntimeWarning: divide by zero" with dask's file paths
    assert done.stdout == "f -Infinity\nA [Infinity,1.0,0.5,0.3333333333333333]\n"


def test_lazy_result_warns_once_computed_and_prints_no_runtime_warning():
    import warnings

    values = np.array([0.0, 1.0, 2.0, 3.0])
    expected = gradcli.evaluate("sum(log(X)) + sum(exp(-exp(X*300)))", X=values).warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lazy = gradcli.evaluate("sum(log(X)) + sum(exp(-exp(X*300)))", X=da.from_array(values, chunks=2))
        assert lazy.warnings == []  # nothing is computed yet
        assert lazy.compute() is lazy
        eager = gradcli.evaluate("sum(log(X)) + sum(exp(-exp(X*300)))", X=strict.asarray(values))
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(expected) == 4 and lazy.warnings == eager.warnings == expected
    assert lazy.value == -math.inf and isinstance(lazy.gradients["X"], np.ndarray)
    # 1/X, and at X = 3 exp(900) = inf times exp(-inf) = 0: nan, as NumPy values give
    np.testing.assert_array_equal(lazy.gradients["X"], [math.inf, 1.0, 0.5, math.nan])


def test_lazy_result_past_the_host_limit_names_the_gates(monkeypatch):
    from gradcli.evaluation import array_api

    monkeypatch.setattr(array_api, "HOST_CHECK_BYTES", 0)
    r = gradcli.evaluate("sum(log(X))", X=da.from_array(np.array([0.0, 1.0]), chunks=1)).compute()
    assert r.warnings == ["gate 'log(X)' (log, line 1, column 5) produced a nan or inf",
                          "gate 'sum(log(X))' (sum, line 1, column 1) produced a nan or inf",
                          "the gradient with respect to 'X' holds a nan or inf"]


def test_finite_lazy_runs_compute_no_host_copy(monkeypatch):
    from gradcli.evaluation import array_api

    monkeypatch.setattr(array_api, "to_numpy", lambda a: pytest.fail("copied to the host"))
    r = gradcli.evaluate("sum(X*X)", X=da.arange(4.0, chunks=2)).compute()
    assert r.value == 14.0 and r.warnings == [] and list(r.gradients["X"]) == [0.0, 2.0, 4.0, 6.0]


def test_unknown_chunk_sizes_are_one_message():
    x = da.arange(6.0, chunks=2)
    with pytest.raises(gradcli.GradcliError, match=r"^X's shape is unknown \(a Dask array with unknown chunk "
                                                   r"sizes\); call X.compute_chunk_sizes\(\)\n"):
        gradcli.evaluate("sum(X)", X=x[x > 2])
    known = x[x > 2]
    known.compute_chunk_sizes()
    assert float(gradcli.evaluate("sum(X)", X=known).compute().value) == 3 + 4 + 5


def test_folder_of_parquet_parts_and_unnamed_zarr_store_are_values(tmp_path, monkeypatch, cli):
    pa = pytest.importorskip("pyarrow", reason="pyarrow is an extra: pip install 'gradcli[dask]'")
    pq = pytest.importorskip("pyarrow.parquet")
    zarr = pytest.importorskip("zarr", reason="zarr is an extra: pip install 'gradcli[dask]'")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pq").mkdir()
    pq.write_table(pa.table({"w0": [1.0, 2.0]}), "pq/part0.parquet")
    pq.write_table(pa.table({"w0": [3.0]}), "pq/part1.parquet")
    zarr.create_array("store", shape=(2,), dtype="f8")[:] = [0.5, 1.5]
    (tmp_path / "empty").mkdir()
    for value in ("A=@pq/:w0", "A=@pq:w0", "A=@pq", "A=@pq/"):
        out = cli("eval", "sum(A*A)", value, "--format", "plain")  # 1 + 4 + 9; ∂f/∂A = 2A
        assert out.exit_code == 0 and out.stdout == "f 14.0\nA [2.0,4.0,6.0]\n", (value, out.stderr)
    out = cli("eval", "sum(A)", "A=@store", "--format", "plain")
    assert out.exit_code == 0 and out.stdout == "f 2.0\nA [1.0,1.0]\n"
    out = cli("eval", "sum(A)", "A=@pq:zz")
    assert out.exit_code == 1 and "pq has no column 'zz'" in out.stderr
    out = cli("eval", "sum(A)", "A=@empty")
    assert out.exit_code == 1 and "cannot tell the format of 'empty': a folder holding no .parquet file and no Zarr store" in out.stderr
