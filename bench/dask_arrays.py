"""A gradient larger than memory: sum(tanh(X @ w)) and its gradient in w, for X a Dask array of
2·10^8 float64 values (1.6 GB: 10^7 rows × 20 columns), made block by block and never whole.

`gradcli.evaluate(EXPRESSION, X=X, w=w)` builds the lazy graph (gradcli.evaluation.array_api:
the registry's rules, run through the array API standard); `dask.compute(r.value,
r.gradients["w"])` then computes f and ∂f/∂w chunk by chunk, each block of X generated, used by
the forward (X @ w) and the backward (Xᵀ·sech²(X @ w)) and dropped. ∂f/∂X (as large as X) is in the
graph too, and is not asked for.

It prints the time, the process's peak resident memory (ru_maxrss: imports included) against the
target of issue 17 (≤ 1 GB), and checks f and ∂f/∂w against the same sums written by hand in NumPy,
block by block over the same blocks (exit 1 if they differ beyond 1e-9 relative).

    python bench/dask_arrays.py [--rows 10000000] [--columns 20] [--chunk 250000]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # Dask's threads run the blocks in parallel

import numpy as np  # noqa: E402

import dask  # noqa: E402
import dask.array as da  # noqa: E402

import gradcli  # noqa: E402

from options import positive  # noqa: E402

EXPRESSION = "sum(tanh(X @ w))"
TARGET = 2**30  # bytes of peak resident memory (issue 17)


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kilobytes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=positive, default=10_000_000)
    parser.add_argument("--columns", type=positive, default=20)
    parser.add_argument("--chunk", type=positive, default=250_000, help="rows per block")
    args = parser.parse_args()
    rows, columns = args.rows, args.columns
    X = da.random.default_rng(17).uniform(-1.0, 1.0, size=(rows, columns), chunks=(args.chunk, columns))
    w = np.linspace(-0.5, 0.5, columns)
    before = peak_rss()

    start = time.perf_counter()
    result = gradcli.evaluate(EXPRESSION, X=X, w=w)
    built = time.perf_counter() - start
    value, gradient = dask.compute(result.value, result.gradients["w"])
    seconds = time.perf_counter() - start
    peak = peak_rss()

    # the same sums by hand, over the same blocks
    total, expected = 0.0, np.zeros(columns)
    for block in X.blocks:
        x = block.compute()
        z = x @ w
        total += np.sum(np.tanh(z))
        expected += x.T @ (1.0 / np.cosh(z) ** 2)
    ok = np.isclose(float(value), total, rtol=1e-9) and np.allclose(gradient, expected, rtol=1e-9, atol=0)

    size = rows * columns
    print(f"{EXPRESSION}: X of {size:.3g} float64 ({size * 8 / 1e9:.2f} GB) in blocks of {args.chunk:,} rows "
          f"({args.chunk * columns * 8 / 1e6:.0f} MB), w of {columns}")
    print(f"  graph built in {built * 1e3:.0f} ms; f and df/dw computed in {seconds:.1f} s "
          f"({size / seconds / 1e6:.0f} M values/s)")
    print(f"  peak resident memory {peak / 2**20:.0f} MiB (before the run {before / 2**20:.0f} MiB), "
          f"target <= {TARGET / 2**20:.0f} MiB: {'met' if peak <= TARGET else 'MISSED'}")
    print(f"  f = {float(value):.10g}; matches NumPy block by block: {'yes' if ok else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
