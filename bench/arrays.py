"""Array throughput: gradcli's forward + backward pass vs hand-written NumPy, time and memory.

The sigmoid neuron f = 1/(1+exp(-(w0*x0+w1*x1+w2))) with x0, x1 float64 arrays of 10^6 and
10^7 elements and w0, w1, w2 scalars (fixed seed). gradcli parses the expression once and then
runs `graph.evaluate(values, trace=False)`, which returns f and the gradient of sum(f) with
respect to all five variables. The baseline is the same computation written by hand in NumPy,
as well as one reasonably can: in place where possible, so that it allocates three big arrays
(f, df/dx0, df/dx1) and nothing else.

For each size it prints, as ratios gradcli / hand-written measured in the same process:
  - time: the best (min) of several interleaved repeats;
  - peak memory ADDED during the call, from tracemalloc (NumPy reports its array buffers to it):
    tracing starts after the inputs exist, the peak is reset, the call runs, the peak is read.
The trace=True figures (every intermediate kept for the tables) are printed for information.

Target: gradcli (trace=False) <= 1.5x the hand-written baseline, for time and for peak memory.

This is a report, not a test: it exits 0 whatever the ratios. Before timing, each gradcli variant
is checked against the hand-written result (np.allclose on f and all five gradients); a variant
that disagrees or raises is reported as MISMATCH and not timed, and the script then exits 1.

    python bench/arrays.py [--sizes 1000000 10000000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc

import numpy as np

import gradcli

TARGET = 1.5
EXPRESSION = "1/(1+exp(-(w0*x0+w1*x1+w2)))"
NAMES = ("w0", "x0", "w1", "x1", "w2")


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


def inputs(n: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "w0": float(rng.normal()), "x0": rng.standard_normal(n),
        "w1": float(rng.normal()), "x1": rng.standard_normal(n),
        "w2": float(rng.normal()),
    }


def check_agree(values: dict, graph, trace: bool) -> str | None:
    """None if gradcli agrees with the hand-written NumPy, else what went wrong."""
    f_ref, g_ref = handwritten(*(values[k] for k in NAMES))
    try:
        result = graph.evaluate(values, trace=trace)
    except Exception as exc:  # a gradcli bug: report it, do not hide the other figures
        return f"raised {type(exc).__name__}: {exc}"
    problems = []
    if np.shape(result.value) != np.shape(f_ref) or not np.allclose(result.value, f_ref, rtol=1e-12, atol=0):
        problems.append("f")
    for name in NAMES:
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10**6, 10**7])
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats at 10^6 (fewer above)")
    args = parser.parse_args()

    graph = gradcli.parse(EXPRESSION)
    print(f"f = {EXPRESSION}; x0, x1 float64 arrays, w0, w1, w2 scalars")
    print(f"NumPy {np.__version__}, Python {sys.version.split()[0]}; gradcli {gradcli.__version__} "
          f"from {gradcli.__file__}")
    print("time: best of the repeats; memory: tracemalloc peak added during the call\n")

    summary = []
    failures = []
    for n in args.sizes:
        values = inputs(n)
        args_hand = tuple(values[k] for k in NAMES)
        runs = {"hand-written": lambda: handwritten(*args_hand)}
        for trace in (False, True):
            label = f"gradcli trace={trace}"
            problem = check_agree(values, graph, trace)
            if problem is None:
                runs[label] = lambda trace=trace: graph.evaluate(values, trace=trace)
            else:
                failures.append(f"n = {n:,}: {label} {problem}")
                print(f"MISMATCH n = {n:,}: {label} {problem} -- not timed")

        repeats = args.repeats if n <= 10**6 else max(3, args.repeats - 2)
        times = {label: [] for label in runs}
        for _ in range(repeats):  # interleaved, so noise hits every variant alike
            for label, call in runs.items():
                gc.collect()
                start = time.perf_counter()
                result = call()
                times[label].append(time.perf_counter() - start)
                del result
        best = {label: min(t) for label, t in times.items()}
        memory = {label: peak_added(call) for label, call in runs.items()}

        base_t, base_m = best["hand-written"], memory["hand-written"]
        big = 8 * n  # bytes of one float64 array of this size
        print(f"n = {n:,} ({repeats} repeats)")
        print(f"  {'':<20} {'time ms':>9} {'ratio':>7} {'peak MB':>9} {'ratio':>7} {'arrays of n':>12}")
        for label in runs:
            t, m = best[label], memory[label]
            print(f"  {label:<20} {t * 1e3:9.1f} {t / base_t:6.2f}x {m / 2**20:9.1f} {m / base_m:6.2f}x "
                  f"{m / big:12.1f}")
        if "gradcli trace=False" in runs:
            summary.append((n, best["gradcli trace=False"] / base_t, memory["gradcli trace=False"] / base_m))
        else:
            summary.append((n, None, None))
        print()
        del values, args_hand, runs

    for n, t_ratio, m_ratio in summary:
        for what, ratio in (("time", t_ratio), ("peak memory", m_ratio)):
            if ratio is None:
                print(f"n = {n:.0e} {what}: gradcli trace=False / hand-written = n/a "
                      f"(gradcli trace=False failed, see MISMATCH) (target <= {TARGET}x)")
                continue
            verdict = "ok" if ratio <= TARGET else "OVER TARGET"
            print(f"n = {n:.0e} {what}: gradcli trace=False / hand-written = {ratio:.2f}x "
                  f"(target <= {TARGET}x) {verdict}")
    if failures:
        print("\ngradcli disagrees with the hand-written NumPy:\n  " + "\n  ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
