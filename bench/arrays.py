"""Array throughput: gradcli's forward + backward pass vs hand-written NumPy, time and memory.

Two expressions, each run through the API's everyday call and through a parsed graph; every call
returns f and the gradient of sum(f) with respect to every variable:

  - the sigmoid neuron f = 1/(1+exp(-(w0*x0+w1*x1+w2))), x0, x1 float64 arrays of 10^6 and 10^7
    elements, w0, w1, w2 scalars;
  - a two-layer tanh network's loss f = sum((tanh(tanh(X @ W1 + b1) @ W2 + b2) - Y)**2)/N with
    N rows of 20 inputs (X), 100 hidden units, 10 outputs (Y): the hidden layer holds 10^6 and
    10^7 elements at N = 10^4 and 10^5 (gradients for X, W1, b1, W2, b2 and Y).

The gradcli variants, each timed against the same hand-written code in the same run:
  - `gradcli.evaluate(EXPRESSION, **values)` then reading `.value` and `.gradients`: what a Python
    user writes (parsing included, and whatever `evaluate`'s default path is);
  - `graph.evaluate(values, trace=False)`: the untraced engine on a parsed graph;
  - `graph.evaluate(values, trace=True)`: every intermediate kept for the tables.

Each baseline is the same computation written by hand in NumPy as well as one reasonably can: in
place wherever possible. The neuron's allocates three big arrays (f, df/dx0, df/dx1) and nothing
else; the network's allocates the two layers' outputs, the residual (later df/dY), the hidden
layer's gradient and df/dX, computes the loss as one dot product, and folds its scalar factors
into the residual, where df/dY needs them anyway (fixed seeds for all inputs).

For each size it prints, as ratios gradcli / hand-written measured in the same process:
  - time: the best (min) of interleaved repeats (15 at 10^6 elements, 5 at 10^7: on a busy
    2-core machine a handful of repeats at 10^6 can miss every quiet moment), as processor time
    (user + system of this process: robust to what other processes take) and, for information,
    as wall time; BLAS runs one thread (OPENBLAS_NUM_THREADS=1 unless set: a threaded BLAS's
    spinning workers would be counted as processor time);
  - peak memory ADDED during the call, from tracemalloc (NumPy reports its array buffers to it):
    tracing starts after the inputs exist, the peak is reset, the call runs, the peak is read.

Targets (issue 13): the API's call <= 1.1x the hand-written time (target 1); trace=False <= 1.1x
the hand-written time (the engine under the API) and <= 1.2x its peak memory; trace=True <= 1.5x
trace=False's time (target 2, its array half).

This is a report, not a test: it exits 0 whatever the ratios. Before timing, each gradcli variant
is checked against the hand-written result (np.allclose on f and every gradient); a variant that
disagrees or raises is reported as MISMATCH and not timed, and the script then exits 1.

    python bench/arrays.py [--sizes 1000000 10000000] [--rows 10000 100000] [--repeats 15]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import tracemalloc

# One BLAS thread unless told otherwise: a threaded BLAS's workers spin between its calls, and
# processor time counts their spinning (more of it the longer the NumPy code between products
# runs), which made the network's figure swing by 0.4x on a busy 2-core machine. Both sides run
# the same products either way.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402 (after the BLAS setting, which is read when NumPy loads)

import gradcli

from options import positive

TARGET = 1.1  # time, the API's call and trace=False, against hand-written (issue 13, target 1)
MEMORY_TARGET = 1.2  # trace=False's peak memory against hand-written
TRACED_TARGET = 1.5  # trace=True's time against trace=False's (issue 13, target 2)
EXPRESSION = "1/(1+exp(-(w0*x0+w1*x1+w2)))"
NAMES = ("w0", "x0", "w1", "x1", "w2")
NET = "sum((tanh(tanh(X @ W1 + b1) @ W2 + b2) - Y)**2)/{rows}"
NET_NAMES = ("X", "W1", "b1", "W2", "b2", "Y")
NET_INPUTS, NET_HIDDEN, NET_OUTPUTS = 20, 100, 10


def handwritten(w0, x0, w1, x1, w2):
    """f and the gradient of sum(f) by hand: three big allocations (f, dx0, dx1)."""
    f = np.multiply(x0, w0)  # big array 1: z, then f in place
    dx0 = np.multiply(x1, w1)  # big array 2: scratch for x1*w1, later ds, then dx0
    f += dx0
    f += w2
    np.negative(f, out=f)
    np.exp(f, out=f)
    f += 1.0
    np.reciprocal(f, out=f)  # f = s = sigmoid(z)
    ds = np.subtract(1.0, f, out=dx0)
    ds *= f  # ds = s(1-s) = df/dz
    dw0 = float(np.dot(x0, ds))  # sum(x0 * ds) without a temporary
    dw1 = float(np.dot(x1, ds))
    dw2 = float(ds.sum())
    dx1 = np.multiply(ds, w1)  # big array 3
    ds *= w0
    return f, {"w0": dw0, "x0": ds, "w1": dw1, "x1": dx1, "w2": dw2}


def handwritten_net(X, W1, b1, W2, b2, Y):
    """The network's loss and its six gradients by hand, in place: big arrays H1 (N×hidden),
    H2 and D (N×outputs), dH1 (N×hidden, freed before dX is made) and dX (N×inputs)."""
    c = float(len(X))
    H1 = X @ W1
    H1 += b1
    np.tanh(H1, out=H1)
    H2 = H1 @ W2
    H2 += b2
    np.tanh(H2, out=H2)
    D = np.subtract(H2, Y)
    f = float(np.dot(D.ravel(), D.ravel())) / c  # sum(D**2) without the square's array
    np.multiply(D, -2.0 / c, out=D)  # D is df/dY from here on
    np.multiply(H2, H2, out=H2)
    np.subtract(H2, 1.0, out=H2)
    H2 *= D  # dA2 = (1 - H2²)·(2/c)·(H2 - Y) = (H2² - 1)·dY, in H2's array
    db2 = H2.sum(axis=0)
    dW2 = H1.T @ H2
    dH1 = H2 @ W2.T
    del H2
    np.multiply(H1, H1, out=H1)
    np.subtract(1.0, H1, out=H1)
    H1 *= dH1  # dA1, in H1's array
    del dH1
    db1 = H1.sum(axis=0)
    dW1 = X.T @ H1
    dX = H1 @ W1.T
    return f, {"X": dX, "W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "Y": D}


def inputs(n: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "w0": float(rng.normal()), "x0": rng.standard_normal(n),
        "w1": float(rng.normal()), "x1": rng.standard_normal(n),
        "w2": float(rng.normal()),
    }


def net_inputs(rows: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "X": rng.standard_normal((rows, NET_INPUTS)),
        "W1": rng.standard_normal((NET_INPUTS, NET_HIDDEN)) / np.sqrt(NET_INPUTS),
        "b1": 0.1 * rng.standard_normal(NET_HIDDEN),
        "W2": rng.standard_normal((NET_HIDDEN, NET_OUTPUTS)) / np.sqrt(NET_HIDDEN),
        "b2": 0.1 * rng.standard_normal(NET_OUTPUTS),
        "Y": rng.standard_normal((rows, NET_OUTPUTS)),
    }


def check_agree(values: dict, call, hand, names) -> str | None:
    """None if gradcli agrees with the hand-written NumPy, else what went wrong."""
    f_ref, g_ref = hand(*(values[k] for k in names))
    try:
        result = call()
    except Exception as exc:  # a gradcli bug: report it, do not hide the other figures
        return f"raised {type(exc).__name__}: {exc}"
    problems = []
    if np.shape(result.value) != np.shape(f_ref) or not np.allclose(result.value, f_ref, rtol=1e-12, atol=0):
        problems.append("f")
    for name in names:
        got = result.gradients.get(name)
        if got is None or np.shape(got) != np.shape(g_ref[name]) or \
                not np.allclose(got, g_ref[name], rtol=1e-9, atol=1e-12):
            problems.append(f"df/d{name}")
    return f"wrong {', '.join(problems)}" if problems else None


def peak_added(call) -> int:
    """Bytes allocated at the peak of `call()` above what was allocated before it."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        result = call()
        _, peak = tracemalloc.get_traced_memory()
        del result
    finally:
        tracemalloc.stop()
    return peak - before


API, UNTRACED, TRACED = "gradcli.evaluate", "trace=False", "trace=True"


def api_call(source: str, values: dict):
    """What a Python user writes: parse + evaluate with the default path, then read the results."""
    result = gradcli.evaluate(source, **values)
    result.value, result.gradients  # (the reads a lazy Result would pay for)
    return result


def measure(title: str, source: str, values: dict, hand, names, repeats: int, big: int, summary: list,
            failures: list) -> None:
    """Time and peak memory of the hand-written code and of each gradcli variant, as ratios."""
    graph = gradcli.parse(source)
    args_hand = tuple(values[k] for k in names)
    runs = {"hand-written": lambda: hand(*args_hand)}
    variants = {API: lambda: api_call(source, values),
                UNTRACED: lambda: graph.evaluate(values, trace=False),
                TRACED: lambda: graph.evaluate(values, trace=True)}
    for label, call in variants.items():
        problem = check_agree(values, call, hand, names)
        if problem is None:
            runs[label] = call
        else:
            failures.append(f"{title}: {label} {problem}")
            print(f"MISMATCH {title}: {label} {problem} -- not timed")

    cpu = {label: [] for label in runs}
    wall = {label: [] for label in runs}
    for _ in range(repeats):  # interleaved, so noise hits every variant alike
        for label, call in runs.items():
            gc.collect()
            start, start_wall = time.process_time(), time.perf_counter()
            result = call()
            cpu[label].append(time.process_time() - start)
            wall[label].append(time.perf_counter() - start_wall)
            del result
    best = {label: min(t) for label, t in cpu.items()}
    best_wall = {label: min(t) for label, t in wall.items()}
    memory = {label: peak_added(call) for label, call in runs.items()}

    base_t, base_w, base_m = best["hand-written"], best_wall["hand-written"], memory["hand-written"]
    print(f"{title} ({repeats} repeats)")
    print(f"  {'':<18} {'cpu ms':>8} {'ratio':>7} {'wall ms':>8} {'ratio':>7} {'peak MB':>8} {'ratio':>7} "
          f"{'arrays of n':>12}")
    for label in runs:
        t, w, m = best[label], best_wall[label], memory[label]
        print(f"  {label:<18} {t * 1e3:8.1f} {t / base_t:6.2f}x {w * 1e3:8.1f} {w / base_w:6.2f}x "
              f"{m / 2**20:8.1f} {m / base_m:6.2f}x {m / big:12.1f}")
    print()

    def ratio(a: str, b: str, table: dict):
        return table[a] / table[b] if a in table and b in table else None

    summary.append((title, f"time: {API} / hand-written", ratio(API, "hand-written", best), TARGET))
    summary.append((title, f"time: {UNTRACED} / hand-written", ratio(UNTRACED, "hand-written", best), TARGET))
    summary.append((title, f"peak memory: {UNTRACED} / hand-written", ratio(UNTRACED, "hand-written", memory),
                    MEMORY_TARGET))
    summary.append((title, f"time: {TRACED} / {UNTRACED}", ratio(TRACED, UNTRACED, best), TRACED_TARGET))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=positive, nargs="*", default=[10**6, 10**7],
                        help="elements of the neuron's arrays")
    parser.add_argument("--rows", type=positive, nargs="*", default=[10**4, 10**5],
                        help=f"rows of the network's input (hidden layer: rows x {NET_HIDDEN})")
    parser.add_argument("--repeats", type=positive, default=15, help="timed repeats at 10^6 (a third above)")
    args = parser.parse_args()

    print(f"neuron: f = {EXPRESSION}; x0, x1 float64 arrays, w0, w1, w2 scalars")
    print(f"network: f = {NET.format(rows='N')}; X N x {NET_INPUTS}, W1 {NET_INPUTS} x {NET_HIDDEN}, "
          f"W2 {NET_HIDDEN} x {NET_OUTPUTS}, Y N x {NET_OUTPUTS}")
    print(f"NumPy {np.__version__}, Python {sys.version.split()[0]}; gradcli {gradcli.__version__} "
          f"from {gradcli.__file__}; OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}")
    print("time: best of the repeats (processor time, and wall time); memory: tracemalloc peak added during "
          "the call; 'arrays of n': the peak in arrays of the neuron's n, of the network's N x hidden")
    print(f"{API}: gradcli.evaluate(source, **values), parse included, then .value and .gradients\n")

    summary: list = []
    failures: list = []
    for n in args.sizes:
        repeats = args.repeats if n <= 10**6 else max(3, args.repeats // 3)
        measure(f"neuron n = {n:,}", EXPRESSION, inputs(n), handwritten, NAMES, repeats, 8 * n, summary, failures)
    for rows in args.rows:
        hidden = rows * NET_HIDDEN
        repeats = args.repeats if hidden <= 10**6 else max(3, args.repeats // 3)
        measure(f"network N = {rows:,}", NET.format(rows=rows), net_inputs(rows), handwritten_net, NET_NAMES,
                repeats, 8 * hidden, summary, failures)

    for title, what, ratio, target in summary:
        if ratio is None:
            print(f"{title} {what} = n/a (a variant failed, see MISMATCH) (target <= {target}x)")
            continue
        verdict = "ok" if ratio <= target else "OVER TARGET"
        print(f"{title} {what} = {ratio:.2f}x (target <= {target}x) {verdict}")
    if failures:
        print("\ngradcli disagrees with the hand-written NumPy:\n  " + "\n  ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
