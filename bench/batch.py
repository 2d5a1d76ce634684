"""`gradcli batch` end to end vs reading and writing the same CSVs with NumPy alone; and its memory.

The input is a CSV of N rows and the 5 columns w0,x0,w1,x1,w2 (random numbers written with 6
decimals, fixed seed), for the sigmoid neuron f = sigmoid(w0*x0 + w1*x1 + w2). gradcli writes,
per row, the 5 input cells, f and 5 gradients: an 11-column CSV.

Time (each command a fresh process, best of --repeats, interleaved):
  - gradcli: `gradcli batch EXPR --input in.csv --output out.csv`
  - baseline: a Python process that only reads in.csv and writes a CSV with NumPy, as fast as we
    know how: np.loadtxt (NumPy's C parser; much faster than np.genfromtxt) on the whole file,
    then one bulk `%r` template over array.tolist() per block (several times faster than
    np.savetxt, which formats row by row). No gradient is computed. Two sizes of output:
      "output-size": 11 columns, the size of gradcli's output (the main figure);
      "input-size": the 5 input columns again, the size of the input (a stricter reading).
    gradcli copies the 5 input cells as text and formats 6 full-precision numbers per row; the
    baselines format every cell (of the input's short 6-decimal numbers).
  Target: gradcli / baseline <= 2.

Memory: the peak RSS (resource.getrusage of the child) of `gradcli batch` at 10^5 and 10^6 rows;
the chunked reader keeps it bounded, so the ratio 10^6 / 10^5 should be ~1 (the baseline, which
holds the whole table, is shown for contrast).

This is a report, not a test: it exits 0 whatever the ratios, and 1 only when gradcli's output
disagrees with the same numbers computed here with NumPy (checked on the first rows).

    python bench/batch.py [--rows 1000000] [--small 100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

from options import positive

TARGET = 2.0
EXPRESSION = "sigmoid(w0*x0 + w1*x1 + w2)"
NAMES = ("w0", "x0", "w1", "x1", "w2")

BASELINE = r"""
import sys
import numpy as np
data = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1, dtype=np.float64)
if sys.argv[3] == "output-size":
    table = np.concatenate([data, data, data[:, :1]], axis=1)  # 11 columns, as gradcli writes
else:
    table = data
rows, columns = table.shape
template = ",".join(["%r"] * columns) + "\n"
with open(sys.argv[2], "w") as out:
    out.write(",".join(f"c{i}" for i in range(columns)) + "\n")
    step = 65536
    for start in range(0, rows, step):
        block = table[start:start + step]
        out.write((template * len(block)) % tuple(block.ravel().tolist()))
"""

MEASURE = r"""
import resource, subprocess, sys
code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)
"""


def make_input(path: str, rows: int) -> None:
    rng = np.random.default_rng(1)
    template = ",".join(["%.6f"] * 5) + "\n"
    with open(path, "w") as out:
        out.write(",".join(NAMES) + "\n")
        step = 100_000
        for start in range(0, rows, step):
            block = rng.uniform(-3, 3, size=(min(step, rows - start), 5))
            out.write((template * len(block)) % tuple(block.ravel().tolist()))


def gradcli_command() -> list[str]:
    script = os.path.join(os.path.dirname(sys.executable), "gradcli")
    return [script] if os.path.exists(script) else [sys.executable, "-m", "gradcli"]


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def peak_rss_mb(command: list[str]) -> float:
    out = subprocess.run([sys.executable, "-c", MEASURE, *command], check=True,
                         capture_output=True, text=True).stdout.split()
    if out[1] != "0":
        raise SystemExit(f"command failed: {command}")
    return int(out[0]) / 1024  # ru_maxrss is in KiB on Linux


def check(input_path: str, output_path: str, rows: int = 1000) -> bool:
    data = np.loadtxt(input_path, delimiter=",", skiprows=1, max_rows=rows)
    got = np.loadtxt(output_path, delimiter=",", skiprows=1, max_rows=rows)
    w0, x0, w1, x1, w2 = data.T
    s = 1.0 / (1.0 + np.exp(-(w0 * x0 + w1 * x1 + w2)))
    ds = s * (1 - s)
    expected = np.column_stack([data, s, ds * x0, ds * w0, ds * x1, ds * w1, ds])
    return got.shape == expected.shape and np.allclose(got, expected, rtol=1e-12, atol=1e-15)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=positive, default=1_000_000)
    parser.add_argument("--small", type=positive, default=100_000)
    parser.add_argument("--repeats", type=positive, default=2)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="gradcli-bench-")
    try:
        big = os.path.join(folder, "big.csv")
        small = os.path.join(folder, "small.csv")
        out = os.path.join(folder, "out.csv")
        make_input(big, args.rows)
        make_input(small, args.small)
        size_mb = os.path.getsize(big) / 2**20
        print(f"input: {args.rows:,} rows x 5 columns ({size_mb:.0f} MB); expression {EXPRESSION}")
        gradcli = gradcli_command() + ["batch", EXPRESSION, "--output", out, "--input"]
        baseline = [sys.executable, "-c", BASELINE]

        ok = True
        times = {"gradcli": [], "output-size": [], "input-size": []}
        for _ in range(args.repeats):
            times["gradcli"].append(timed(gradcli + [big]))
            if not check(big, out):
                ok = False
            for kind in ("output-size", "input-size"):
                times[kind].append(timed(baseline + [big, out, kind]))
        best = {k: min(v) for k, v in times.items()}
        print("\ntime, best of %d (fresh processes, start-up included):" % args.repeats)
        print(f"  gradcli batch end to end                         {best['gradcli']:7.2f} s")
        print(f"  NumPy read + write 11 columns (gradcli's output) {best['output-size']:7.2f} s")
        print(f"  NumPy read + write 5 columns (the input's size)  {best['input-size']:7.2f} s")
        for kind in ("output-size", "input-size"):
            ratio = best["gradcli"] / best[kind]
            verdict = "ok" if ratio <= TARGET else "OVER TARGET"
            print(f"  ratio gradcli / baseline ({kind:11s})         {ratio:7.2f}x   "
                  f"(target <= {TARGET}x: {verdict})")
        print(f"  gradcli throughput                               {args.rows / best['gradcli'] / 1e6:7.2f} M rows/s")

        print("\npeak memory (max RSS of the process):")
        peaks = {}
        for label, path, rows in (("small", small, args.small), ("big", big, args.rows)):
            peaks[label] = peak_rss_mb(gradcli + [path])
            base = peak_rss_mb(baseline + [path, out, "output-size"])
            print(f"  {rows:>10,} rows: gradcli {peaks[label]:7.1f} MB   baseline (whole table) {base:7.1f} MB")
        growth = peaks["big"] / peaks["small"]
        verdict = "ok, bounded" if growth <= 1.2 else "GROWS WITH THE INPUT"
        print(f"  ratio gradcli {args.rows:,} / {args.small:,} rows: {growth:.2f}x   ({verdict})")
        if not ok:
            print("\nMISMATCH: gradcli's output differs from NumPy's f and gradients")
            return 1
        print("\ngradcli's output checked against NumPy on the first 1,000 rows: ok")
        return 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
