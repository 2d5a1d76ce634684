"""Forward mode's cost: a Jacobian-vector product against one evaluation of f (issue 14).

On the sigmoid neuron f = 1/(1+exp(-(w0*x0+w1*x1+w2))) with x0, x1 float64 arrays of 10^6
elements (w0, w1, w2 scalars), the tangent t seeded on w0 (a number) and x0 (an array):

  - `jvp`: `gradcli.evaluation.forward.jvp(graph, values, tangents)` on a parsed graph, the
    untraced default (f and ∂f·t, records made only if read; they are not);
  - `gradcli.jvp`: the API's call (`gradcli.jvp(source, values, tangents)`, parse included);

against, in the same run:
  - the strict baseline, one evaluation of f written by hand in NumPy, in place (one big array
    allocated: f itself);
  - f written by hand as one NumPy expression (`1/(1+np.exp(-(w0*x0+w1*x1+w2)))`, what a user
    writes), for information;
  - gradcli's own `graph.evaluate(values, trace=False)` (forward and backward: f and the whole
    gradient), for information.

Times are processor time (user + system, robust to what other processes take), interleaved
repeats (one of each per round); printed: the median and the min–max range of the ratios
(each round's JVP time over the same round's baseline). One BLAS thread (no product here).

Target (issue 14): a JVP <= 3x one evaluation of f (the median ratio to the strict baseline).

Before timing, the JVP is checked against the hand-written one (f and ∂f·t, rtol 1e-12); a
mismatch is printed and the script exits 1. Otherwise a report: it exits 0 whatever the ratios.

    python bench/jvp.py [--size 1000000] [--repeats 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import gradcli  # noqa: E402
from gradcli.evaluation.forward import jvp  # noqa: E402

from options import positive  # noqa: E402

TARGET = 3.0
EXPRESSION = "1/(1+exp(-(w0*x0+w1*x1+w2)))"


def f_in_place(w0, x0, w1, x1, w2):
    """One evaluation of f by hand, in place: f is the one big array allocated."""
    f = np.multiply(x0, w0)
    t = np.multiply(x1, w1)  # (a second array: the two products must both exist once)
    f += t
    del t
    f += w2
    np.negative(f, out=f)
    np.exp(f, out=f)
    f += 1.0
    return np.reciprocal(f, out=f)


def f_expression(w0, x0, w1, x1, w2):
    return 1 / (1 + np.exp(-(w0 * x0 + w1 * x1 + w2)))


def jvp_by_hand(w0, x0, w1, x1, w2, t_w0, t_x0):
    """f and ∂f·t by hand: z = w0·x0 + w1·x1 + w2, dz = x0·t_w0 + w0·t_x0, ∂f = σ(z)(1 - σ(z))·dz."""
    z = w0 * x0 + w1 * x1 + w2
    s = 1 / (1 + np.exp(-z))
    return s, s * (1 - s) * (x0 * t_w0 + w0 * t_x0)


def cpu() -> float:
    return time.process_time()


def timed(call) -> float:
    start = cpu()
    call()
    return cpu() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=positive, default=10**6, help="elements of x0 and x1")
    parser.add_argument("--repeats", type=positive, default=15, help="interleaved rounds")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    n = args.size
    values = {"w0": float(rng.normal()), "x0": rng.standard_normal(n),
              "w1": float(rng.normal()), "x1": rng.standard_normal(n), "w2": float(rng.normal())}
    tangents = {"w0": 0.5, "x0": rng.standard_normal(n)}
    graph = gradcli.parse(EXPRESSION)
    order = ("w0", "x0", "w1", "x1", "w2")
    hand_args = tuple(values[k] for k in order)

    result = jvp(graph, values, tangents)
    f_ref, df_ref = jvp_by_hand(*hand_args, tangents["w0"], tangents["x0"])
    if not (np.allclose(result.value, f_ref, rtol=1e-12, atol=0)
            and np.allclose(result.tangent, df_ref, rtol=1e-9, atol=1e-15)):
        print("MISMATCH: gradcli's JVP differs from the hand-written one")
        return 1
    if result.warnings:
        print("unexpected warnings:", result.warnings)
        return 1

    calls = {
        "f by hand, in place": lambda: f_in_place(*hand_args),
        "f by hand, expression": lambda: f_expression(*hand_args),
        "evaluate(trace=False)": lambda: graph.evaluate(values, trace=False),
        "jvp": lambda: jvp(graph, values, tangents),
        "gradcli.jvp": lambda: gradcli.jvp(EXPRESSION, values, tangents),
    }
    times: dict[str, list[float]] = {label: [] for label in calls}
    for call in calls.values():  # warm up (page faults of the first big allocations, imports)
        call()
    for _ in range(args.repeats):
        for label, call in calls.items():
            times[label].append(timed(call))

    def ratios(label: str, base: str) -> list[float]:
        return [a / b for a, b in zip(times[label], times[base])]

    def line(label: str, base: str) -> str:
        r = ratios(label, base)
        return f"{statistics.median(r):5.2f}x (range {min(r):.2f}-{max(r):.2f})"

    print(f"JVP of the sigmoid neuron, x0 and x1 of {n:,} elements, tangent on w0 and x0; "
          f"{args.repeats} interleaved rounds, processor time")
    for label in calls:
        print(f"  {label:24s} median {statistics.median(times[label]) * 1e3:8.2f} ms")
    strict = "f by hand, in place"
    print(f"jvp / f by hand (in place, strict)   {line('jvp', strict)}")
    print(f"jvp / f by hand (expression)         {line('jvp', 'f by hand, expression')}")
    print(f"jvp / evaluate(trace=False)          {line('jvp', 'evaluate(trace=False)')}")
    print(f"gradcli.jvp / f by hand (in place)   {line('gradcli.jvp', strict)}")
    median = statistics.median(ratios("jvp", strict))
    verdict = "ok" if median <= TARGET else "OVER TARGET"
    print(f"jvp / f by hand = {median:.2f} (target <= {TARGET:g}): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
