"""Large scalar graphs: does the cost per term stay flat from 10,000 to 100,000 terms?

The expression is a sum of N terms (a_i*b_i + sin(a_i))*exp(-c_i) with distinct scalar variables
a_i, b_i, c_i (random values, fixed seed): 10 graph nodes and 3 variables per term, a left-nested
chain of N-1 additions. For N = 10,000 and N = 100,000 it times, separately:
  - parse:        gradcli.parse(text)
  - trace=False:  graph.evaluate(values, trace=False)   (forward + backward)
  - trace=True:   graph.evaluate(values, trace=True)    (also records every edge for the tables)
and prints the time per term and, for each phase, the per-term cost ratio 100k vs 10k.
The best (min) of several repeats is used: 3 of each phase at 10k; at 100k, where one parse takes
~30 s, the budget allows 1 parse, 3 trace=False and 1 trace=True run, so those figures are noisier.

Target: linear growth, i.e. a per-term cost ratio of about 1.0 (100k takes ~10x the 10k time).
Anything well above 1 (say > 1.5) means something is quadratic or thrashing.

It also checks, as a sanity test, that deep nesting works: x inside 10,000 parentheses, and a
sum nested 10,000 levels deep "(x + (x + (... + x)))", each through the Python API and through
the command line (table and JSON), with no RecursionError and the right gradient.

This is a report, not a test: it exits 0 whatever the ratios; it exits 1 if a result is wrong
or the deep-nesting check fails.

    python bench/scalar_graphs.py [--repeats 3] [--repeats-large 1] [--sizes 10000 100000]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import gradcli

PHASES = ("parse", "trace=False", "trace=True")
DEPTH = 10_000


def program(n: int, seed: int = 0) -> tuple[str, dict[str, float], np.ndarray]:
    text = " + ".join(f"(a{i}*b{i} + sin(a{i}))*exp(-c{i})" for i in range(n))
    rng = np.random.default_rng(seed)
    abc = rng.uniform(-1.0, 1.0, size=(n, 3))
    values = {}
    for i, (a, b, c) in enumerate(abc.tolist()):
        values[f"a{i}"] = a
        values[f"b{i}"] = b
        values[f"c{i}"] = c
    return text, values, abc


def check(result, abc: np.ndarray) -> str | None:
    """None if f and every gradient match the closed forms, else what is wrong."""
    a, b, c = abc.T
    e = np.exp(-c)
    terms = (a * b + np.sin(a)) * e
    expected = {"a": (b + np.cos(a)) * e, "b": a * e, "c": -terms}
    if not np.isclose(result.value, terms.sum(), rtol=1e-9, atol=1e-9):
        return f"f = {result.value}, expected {terms.sum()}"
    grads = result.gradients
    if len(grads) != 3 * len(a):
        return f"{len(grads)} gradients for {3 * len(a)} variables"
    for k, want in expected.items():
        got = np.array([grads[f"{k}{i}"] for i in range(len(a))])
        if not np.allclose(got, want, rtol=1e-9, atol=1e-12):
            bad = int(np.argmax(~np.isclose(got, want, rtol=1e-9, atol=1e-12)))
            return f"df/d{k}{bad} = {got[bad]}, expected {want[bad]}"
    return None


def timed(call):
    gc.collect()
    start = time.perf_counter()
    out = call()
    return time.perf_counter() - start, out


def measure(n: int, counts: dict[str, int], failures: list[str]) -> dict[str, float]:
    """Best time of each phase over counts[phase] runs (the graph of the last parse is reused)."""
    text, values, abc = program(n)
    best = {phase: float("inf") for phase in PHASES}
    graph = None
    for r in range(max(counts.values())):
        if r < counts["parse"] or graph is None:
            del graph
            t, graph = timed(lambda: gradcli.parse(text, max_chars=None))  # 100k terms exceed the CLI limit
            best["parse"] = min(best["parse"], t)
        for trace in (False, True):
            if r >= counts[f"trace={trace}"]:
                continue
            t, result = timed(lambda: graph.evaluate(values, trace=trace))
            best[f"trace={trace}"] = min(best[f"trace={trace}"], t)
            problem = check(result, abc)
            if problem:
                failures.append(f"N = {n:,}, trace={trace}: {problem}")
            del result
    runs = ", ".join(f"{phase} {counts[phase]}" for phase in PHASES)
    print(f"N = {n:>7,}: {len(text) / 1e6:.1f} MB of text, {len(graph):,} nodes, "
          f"{len(values):,} variables; runs: {runs}")
    return best


def gradcli_command() -> list[str]:
    script = Path(sys.executable).absolute().parent / "gradcli"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "gradcli"]


def deep_nesting(failures: list[str]) -> None:
    cases = {
        f"x in {DEPTH:,} parentheses": ("(" * DEPTH + "x" + ")" * DEPTH, 1.0),
        f"sum nested {DEPTH:,} deep": ("(x + " * DEPTH + "x" + ")" * DEPTH, float(DEPTH + 1)),
    }
    print(f"\ndeep nesting (x = 0.5; the expected df/dx is the number of x's)")
    for label, (text, dfdx) in cases.items():
        outcome = []
        try:  # the API, with the full trace the tables use
            t, result = timed(lambda: gradcli.evaluate(text, x=0.5))
            ok = result.gradients == {"x": dfdx} and result.value == 0.5 * dfdx
            outcome.append(f"API {t * 1e3:.0f} ms {'ok' if ok else 'WRONG'}")
            if not ok:
                failures.append(f"{label}: API gave {result.value}, {result.gradients}")
        except RecursionError:
            outcome.append("API RecursionError")
            failures.append(f"{label}: RecursionError in the API")
        for fmt in ("table", "json"):  # the command line, which also renders the result
            command = gradcli_command() + ["eval", text, "--set", "x=0.5", "--format", fmt]
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True)
            t = time.perf_counter() - start
            ok = done.returncode == 0 and "Traceback" not in done.stderr
            if ok and fmt == "json":
                ok = json.loads(done.stdout)["gradients"] == {"x": dfdx}
            outcome.append(f"CLI {fmt} {t * 1e3:.0f} ms {'ok' if ok else 'FAILED'}")
            if not ok:
                failures.append(f"{label}: CLI --format {fmt} exited {done.returncode}: "
                                f"{done.stderr.strip()[-300:]}")
        print(f"  {label:<28} " + ", ".join(outcome))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[10_000, 100_000], metavar=("SMALL", "LARGE"))
    parser.add_argument("--repeats", type=int, default=3, help="repeats at the small size (default 3)")
    parser.add_argument("--repeats-large", type=int, default=1,
                        help="repeats at the large size (default 1; trace=False runs at least 3 times)")
    args = parser.parse_args()
    small, large = args.sizes

    print(f"gradcli {gradcli.__version__} from {gradcli.__file__}; Python {sys.version.split()[0]}")
    print("f = sum of (a_i*b_i + sin(a_i))*exp(-c_i); 10 nodes and 3 variables per term\n")
    gradcli.parse("x + 1")  # load the grammar once, outside the timings
    failures: list[str] = []
    small_counts = dict.fromkeys(PHASES, args.repeats)
    # At 100k a parse takes ~30 s and trace=True ~15 s, but trace=False only ~7 s: repeat it more.
    large_counts = {"parse": args.repeats_large, "trace=False": max(args.repeats_large, 3),
                    "trace=True": args.repeats_large}
    results = {small: measure(small, small_counts, failures), large: measure(large, large_counts, failures)}

    print(f"\n{'phase':<12} " + " ".join(f"{f'N={n:,} s':>12} {'us/term':>8}" for n in results)
          + f" {'per-term ratio':>15}")
    for phase in PHASES:
        cells = " ".join(f"{r[phase]:12.2f} {r[phase] / n * 1e6:8.1f}" for n, r in results.items())
        ratio = (results[large][phase] / large) / (results[small][phase] / small)
        print(f"{phase:<12} {cells} {ratio:15.2f}")
    print()
    for phase in PHASES:
        ratio = (results[large][phase] / large) / (results[small][phase] / small)
        verdict = "linear" if ratio <= 1.5 else "SUPERLINEAR"
        print(f"{phase}: per-term cost ratio {large // 1000}k vs {small // 1000}k: {ratio:.2f} "
              f"(target ~1.0) {verdict}")

    deep_nesting(failures)
    if failures:
        print("\nFAILED:\n  " + "\n  ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
