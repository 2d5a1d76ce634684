"""The Jacobian's two modes on a tall and a wide map: forward mode against reverse mode, same run.

- Tall: f = A @ tanh(x), 10 inputs to 1,000 outputs (A a 1,000 × 10 constant matrix given as a
  value but left out of the columns with wrt=["x"]). Forward mode carries 10 tangent columns
  through one pass; reverse mode carries 1,000 cotangent rows back. Target: forward <= 0.2x
  reverse, and `auto` picks forward.
- Wide: f = B @ tanh(x), 1,000 inputs to 10 outputs (B 10 × 1,000). Target: reverse <= 0.2x
  forward, and `auto` picks reverse.

Each timing is `gradcli.evaluation.jacobian.jacobian(graphs, values, ["x"], mode=...)` on a
parsed graph (the values' first pass, the mode's pass, the matrix), processor time (user +
system) of `--calls` calls in a row (a few milliseconds: one call of the cheap mode is a fraction
of a millisecond, near the clock's noise), the two modes interleaved in each repeat; BLAS runs one thread (OPENBLAS_NUM_THREADS=1
unless set: a threaded BLAS's spinning workers count as processor time). Printed: the ratio of the
two modes in each repeat, its median and min-max; never an absolute time.

A report, not a test: it exits 0 whatever the ratios, 1 if the two modes' matrices disagree
(beyond 1e-12 of the largest entry), differ from the closed form A·diag(1 - tanh²x), or `auto`
picks the other mode.

    python bench/jacobian.py [--repeats 15] [--calls 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402 (after the BLAS setting, which is read when NumPy loads)

import gradcli  # noqa: E402
from gradcli.evaluation.jacobian import jacobian  # noqa: E402

from options import positive  # noqa: E402

TARGET = 0.2  # the cheaper mode's time / the other's


def timed(run, calls: int) -> float:
    start = time.process_time()
    for _ in range(calls):
        run()
    return time.process_time() - start


def case(label: str, matrix_name: str, shape: tuple[int, int], cheap: str, repeats: int, calls: int, rng) -> bool:
    """Time both modes on f = M @ tanh(x); print the ratio cheap / other; True if all is right."""
    other = "reverse" if cheap == "forward" else "forward"
    M = rng.normal(size=shape)
    x = rng.uniform(-2.0, 2.0, shape[1])
    graphs = {"f": gradcli.parse(f"{matrix_name} @ tanh(x)")}
    values = {matrix_name: M, "x": x}
    expected = M * (1 - np.tanh(x) ** 2)
    ok = True
    for mode in ("forward", "reverse"):  # (a first run of each: caches warm, results checked)
        j = jacobian(graphs, values, ["x"], mode=mode)
        if j.shape != shape or not np.allclose(j.matrix, expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max()):
            print(f"  {label}: {mode} mode's matrix is WRONG")
            ok = False
    picked = jacobian(graphs, values, ["x"]).mode
    ratios = []
    for _ in range(repeats):
        t_cheap = timed(lambda: jacobian(graphs, values, ["x"], mode=cheap), calls)
        t_other = timed(lambda: jacobian(graphs, values, ["x"], mode=other), calls)
        ratios.append(t_cheap / max(t_other, 1e-9))
    median = statistics.median(ratios)
    verdict = "ok" if median <= TARGET else "OVER TARGET"
    print(f"{label}: {shape[1]} inputs -> {shape[0]} outputs ({matrix_name} {shape[0]}x{shape[1]} @ tanh(x))")
    print(f"  {cheap} / {other}: median {median:.3f}x, min-max {min(ratios):.3f}-{max(ratios):.3f}x "
          f"over {repeats} repeats (target <= {TARGET}x): {verdict}")
    print(f"  auto picks {picked} (expected {cheap}): {'ok' if picked == cheap else 'WRONG'}")
    return ok and picked == cheap


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=positive, default=15)
    parser.add_argument("--calls", type=positive, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(14)
    ok = case("tall", "A", (1000, 10), "forward", args.repeats, args.calls, rng)
    ok = case("wide", "B", (10, 1000), "reverse", args.repeats, args.calls, rng) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
