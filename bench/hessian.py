"""Second derivatives of a scalar function of 100 variables: gradcli's Hessian against HIPS
autograd's, and gradcli's Hessian-vector product against one gradient, same run.

f(x) = Σᵢ₌₀⁹⁸ sin(xᵢ)·xᵢ₊₁ + Σᵢ₌₀⁹⁹ log(1 + xᵢ²), at random x (fixed seed).

- Hessian, gradcli: `gradcli.hessian(source, values)`, end to end: parsing the 199-term program
  over the scalar variables x0 … x99 (gradcli has no indexing, so that is how the function is
  written in it), the first-order pass, and the second-order pass (for a graph of scalars: edge
  pushing on Python floats with second-order locals compiled from the rules). Also timed, for
  information: the same from a parsed graph (`gradcli.evaluation.hessian.hessian(graph, values)`)
  and the general path, which builds the gradient graph and runs the tangent pass over it in
  NumPy (`method="graph"`).
- Hessian, autograd: `autograd.hessian(f)(x)` with f written the idiomatic way, vectorised NumPy
  on one array x (autograd's jacobian of its gradient: one reverse pass per row). Tracing is
  included, as gradcli's parse is. Target: gradcli <= 0.5x autograd.
- Hessian-vector product: `gradcli.evaluation.hessian.hvp(graph, values, tangent)` (f, the
  gradient and H·v for one tangent, forward over reverse) against one gradient,
  `graph.evaluate(values, trace=False)`, on the same parsed graph (each reusing what it cached on
  the graph after its first run). Target: hvp <= 4x the gradient. autograd's
  `hessian_vector_product` is timed for information, and so is H·v against one gradient on
  arrays (a two-layer network's loss: the general path, the gradient graph's tangent pass).

Times are processor time (user + system), the best of the repeats, interleaved. A report, not a
test: it exits 0 whatever the ratios, 1 if a result disagrees with autograd's (beyond 1e-9
relative to the largest entry). Needs autograd (`pip install autograd`, or the `bench` extra);
without it, it says so and exits 0.

    python bench/hessian.py [--variables 100] [--repeats 9]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import gradcli
from gradcli.evaluation.hessian import hessian as hessian_of_graph
from gradcli.evaluation.hessian import hvp as hvp_of_graph

from options import positive

HESSIAN_TARGET = 0.5  # gradcli / autograd
HVP_TARGET = 4.0  # hvp / gradient


def source(n: int) -> str:
    terms = [f"sin(x{i})*x{i + 1}" for i in range(n - 1)] + [f"log(1 + x{i}**2)" for i in range(n)]
    return " + ".join(terms)


def timed(run) -> tuple[float, object]:
    start = time.process_time()
    out = run()
    return time.process_time() - start, out


def verdict(ratio: float, target: float) -> str:
    return "ok" if ratio <= target else "OVER TARGET"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variables", type=positive, default=100)
    parser.add_argument("--repeats", type=positive, default=9)
    args = parser.parse_args()
    try:
        import autograd
        import autograd.numpy as anp
    except ImportError:
        print("autograd is not installed (pip install autograd, or pip install -e '.[bench]'): skipped")
        return 0

    n = args.variables
    rng = np.random.default_rng(12)
    x = rng.uniform(-2.0, 2.0, n)
    v = rng.normal(size=n)
    values = {f"x{i}": float(a) for i, a in enumerate(x)}
    tangent = {f"x{i}": float(a) for i, a in enumerate(v)}
    text = source(n)
    graph = gradcli.parse(text)

    def f(w):
        return anp.sum(anp.sin(w[:-1]) * w[1:]) + anp.sum(anp.log(1.0 + w ** 2))

    # for information: the general (array) path, a two-layer network's loss
    net_rng = np.random.default_rng(3)
    net_values = {"X": net_rng.normal(size=(1000, 20)), "W1": 0.3 * net_rng.normal(size=(20, 50)),
                  "b1": 0.1 * net_rng.normal(size=50), "W2": 0.3 * net_rng.normal(size=(50, 1)),
                  "Y": net_rng.normal(size=(1000, 1))}
    net_tangent = {name: net_rng.normal(size=np.shape(a)) for name, a in net_values.items()}
    net = gradcli.parse("sum((tanh(X @ W1 + b1) @ W2 - Y)**2) / 4")

    autograd_hessian = autograd.hessian(f)
    autograd_hvp = autograd.hessian_vector_product(f)
    runs = {
        "gradcli": lambda: gradcli.hessian(text, values),
        "gradcli, parsed graph": lambda: hessian_of_graph(graph, values),
        "gradcli, gradient graph": lambda: hessian_of_graph(graph, values, method="graph"),
        "autograd": lambda: autograd_hessian(x),
        "hvp": lambda: hvp_of_graph(graph, values, tangent),
        "gradient": lambda: graph.evaluate(values, trace=False),
        "autograd hvp": lambda: autograd_hvp(x, v),
    }
    # the network's big arrays, in its own loop afterwards: between the others, they slowed
    # gradcli's parse (end to end) by a tenth or more
    network = {
        "network hvp": lambda: hvp_of_graph(net, net_values, net_tangent),
        "network gradient": lambda: net.evaluate(net_values, trace=False),
    }
    timings: dict[str, list[float]] = {name: [] for name in [*runs, *network]}
    results = {}
    for group in (runs, network):
        for _ in range(args.repeats):  # interleaved, so that a busy moment hits them all alike
            for name, run in group.items():
                seconds, results[name] = timed(run)
                timings[name].append(seconds)
    best = {name: min(times) for name, times in timings.items()}

    print(f"Hessian of a function of {n} variables (Σ sin(xᵢ)·xᵢ₊₁ + log(1 + xᵢ²)), "
          f"best of {args.repeats}, processor time")
    for name in ("gradcli", "gradcli, parsed graph", "gradcli, gradient graph", "autograd"):
        print(f"  {name:<24} {best[name] * 1e3:8.2f} ms   {best[name] / best['autograd']:5.2f}x autograd")
    ratio = best["gradcli"] / best["autograd"]
    print(f"gradcli / autograd = {ratio:.2f} (target <= {HESSIAN_TARGET:g}): {verdict(ratio, HESSIAN_TARGET)}")
    print(f"Hessian-vector product, same function and parsed graph")
    for name in ("hvp", "gradient", "autograd hvp"):
        print(f"  {name:<24} {best[name] * 1e3:8.2f} ms   {best[name] / best['gradient']:5.2f}x gradient")
    hvp_ratio = best["hvp"] / best["gradient"]
    print(f"hvp / gradient = {hvp_ratio:.2f} (target <= {HVP_TARGET:g}): {verdict(hvp_ratio, HVP_TARGET)}")
    print(f"for information, on arrays (a two-layer network's loss, X 1000x20, 50 hidden units; the gradient "
          f"graph's tangent pass in NumPy): hvp / gradient = {best['network hvp'] / best['network gradient']:.2f}")

    theirs = np.asarray(results["autograd"])
    scale = max(float(np.max(np.abs(theirs))), 1.0)
    error = float(np.max(np.abs(results["gradcli"].matrix - theirs)))
    hvp_error = max(float(np.max(np.abs(results["hvp"].flat("hvp") - theirs @ v))),
                    float(np.max(np.abs(results["hvp"].flat("hvp") - results["autograd hvp"]))))
    print(f"max |gradcli - autograd|: Hessian {error:.1e}, H·v {hvp_error:.1e} (largest entry {scale:.3g})")
    if not (error <= 1e-9 * scale and hvp_error <= 1e-9 * scale * max(1.0, float(np.max(np.abs(v))))):
        print("error: gradcli and autograd disagree", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
