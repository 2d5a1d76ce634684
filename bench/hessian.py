"""The Hessian of a scalar function of 100 variables: gradcli against HIPS autograd, same run.

f(x) = Σᵢ₌₀⁹⁸ sin(xᵢ)·xᵢ₊₁ + Σᵢ₌₀⁹⁹ log(1 + xᵢ²), at random x (fixed seed).

- gradcli: `gradcli.hessian(source, values)`, end to end: parsing the 199-term program over the
  scalar variables x0 … x99 (gradcli has no indexing, so that is how the function is written in
  it), the first-order pass, and the forward-over-reverse pass (for a graph of scalars, on
  Python floats with the rules' templates, without building the gradient's graph). Also timed,
  for information: the same from a parsed graph (`gradcli.evaluation.hessian.hessian(graph, values)`), and
  the general path, which builds the gradient graph (`derivative.gradient_graph`) and runs the
  tangent pass over it in NumPy (`method="graph"`).
- autograd: `autograd.hessian(f)(x)` with f written the idiomatic way, vectorised NumPy on one
  array x (autograd's jacobian of its gradient: one reverse pass per row). Tracing is included,
  as in gradcli's time.

Times are processor time (user + system), the best of the repeats, interleaved. Target: gradcli
<= 1x autograd's time (ratio gradcli / autograd). A report, not a test: it exits 0 whatever the
ratio, 1 if the two matrices disagree (beyond 1e-9 relative to the largest entry). Needs autograd
(`pip install autograd`, or the `bench` extra); without it, it says so and exits 0.

    python bench/hessian.py [--variables 100] [--repeats 7]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import gradcli
from gradcli.evaluation.hessian import hessian as hessian_of_graph

from options import positive

TARGET = 1.0  # gradcli / autograd


def source(n: int) -> str:
    terms = [f"sin(x{i})*x{i + 1}" for i in range(n - 1)] + [f"log(1 + x{i}**2)" for i in range(n)]
    return " + ".join(terms)


def best(run, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.process_time()
        out = run()
        times.append(time.process_time() - start)
    return min(times), out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variables", type=positive, default=100)
    parser.add_argument("--repeats", type=positive, default=7)
    args = parser.parse_args()
    try:
        import autograd
        import autograd.numpy as anp
    except ImportError:
        print("autograd is not installed (pip install autograd, or pip install -e '.[bench]'): skipped")
        return 0

    n = args.variables
    x = np.random.default_rng(12).uniform(-2.0, 2.0, n)
    values = {f"x{i}": float(v) for i, v in enumerate(x)}
    text = source(n)
    graph = gradcli.parse(text)

    def f(v):
        return anp.sum(anp.sin(v[:-1]) * v[1:]) + anp.sum(anp.log(1.0 + v ** 2))

    autograd_hessian = autograd.hessian(f)
    timings = {"gradcli": [], "gradcli, parsed graph": [], "gradcli, gradient graph": [], "autograd": []}
    results = {}
    for _ in range(args.repeats):  # interleaved, so that a busy moment hits all three alike
        for name, run in (("gradcli", lambda: gradcli.hessian(text, values)),
                          ("gradcli, parsed graph", lambda: hessian_of_graph(graph, values)),
                          ("gradcli, gradient graph", lambda: hessian_of_graph(graph, values, method="graph")),
                          ("autograd", lambda: autograd_hessian(x))):
            seconds, results[name] = best(run, 1)
            timings[name].append(seconds)

    ours = results["gradcli"].matrix
    theirs = np.asarray(results["autograd"])
    scale = float(np.max(np.abs(theirs)))
    error = float(np.max(np.abs(ours - theirs)))
    print(f"Hessian of a function of {n} variables (Σ sin(xᵢ)·xᵢ₊₁ + log(1 + xᵢ²)), "
          f"best of {args.repeats}, processor time")
    base = min(timings["autograd"])
    for name, times in timings.items():
        print(f"  {name:<22} {min(times) * 1e3:8.2f} ms   {min(times) / base:5.2f}x autograd")
    ratio = min(timings["gradcli"]) / base
    verdict = "ok" if ratio <= TARGET else "OVER TARGET"
    print(f"gradcli / autograd = {ratio:.2f} (target <= {TARGET:g}): {verdict}")
    print(f"max |gradcli - autograd| = {error:.1e} (largest entry {scale:.3g})")
    if not error <= 1e-9 * max(scale, 1.0):
        print("error: the two Hessians disagree", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
