"""Big tables: `gradcli eval` of a 10,000-term expression: --format json against --format plain,
the default table against --format json, and --all streaming.

The expression is the scalar-graph benchmark's sum

    (a0*b0 + sin(a0))*exp(-c0) + (a1*b1 + sin(a1))*exp(-c1) + ... (10,000 terms)

read with `--file`, its 30,000 values with `--values FILE.json`. Each command is a fresh process
whose stdout is a pipe read by this script; the commands are interleaved, each run `--repeats`
times, the fastest kept. Times are the child's processor time (user + system, robust to time the
host steals on a busy machine); wall times are printed too.

- `--format json` vs `--format plain` (issue 13): time, target json <= 1.5x plain (the plain run
  keeps no per-edge records; json writes every node and edge, ~58 MB); peak memory (the child's
  maximum RSS), target json <= 1.5x plain;
- default table vs `--format json`: target table <= 1.5x json (the default table shows 100 rows,
  100 gradient lines and 100 forks, with notes of what is hidden);
- `--all`: that every row is printed (as many rows as the JSON document has edges), when the
  first and the last row arrive (streaming: rows flow from the first one on, not after all are
  formatted), and its peak memory against the default table's: about 1.0 means the rendering's
  memory does not grow with the rows.

This is a report, not a test: it exits 0 unless gradcli fails or prints a wrong number of rows.

    python bench/tables.py [--python PATH] [--terms N] [--repeats R]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from options import positive

TARGET = 1.5


def gradcli_command(python: str) -> list[str]:
    """The console script next to the interpreter (a venv's python is a symlink: do not resolve
    it), else `python -m gradcli`."""
    script = Path(python).absolute().parent / "gradcli"
    return [str(script)] if script.is_file() and os.access(script, os.X_OK) else [python, "-m", "gradcli"]


def run(command: list[str], cwd: str) -> dict:
    """Run a command, reading its stdout as it comes: wall time, when the first and last table
    row arrived, the rows, the bytes, and the child's peak RSS."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               stdin=subprocess.DEVNULL, cwd=cwd)
    first = last = None
    rows = size = 0
    in_table = False
    for line in process.stdout:
        size += len(line)
        if not in_table:
            in_table = line.startswith(b"-----")  # the rule under the table's header
            continue
        if b" | " in line:
            now = time.perf_counter() - start
            first = first if first is not None else now
            last = now
            rows += 1
        else:
            in_table = False
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"{' '.join(command[-4:])}: exit code {process.returncode}")
    return {"wall": time.perf_counter() - start, "cpu": usage.ru_utime + usage.ru_stime, "first": first,
            "last": last, "rows": rows, "bytes": size, "rss_mb": usage.ru_maxrss / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable, help="interpreter with gradcli installed")
    parser.add_argument("--terms", type=positive, default=10_000, help="terms of the sum (default 10,000)")
    parser.add_argument("--repeats", type=positive, default=2, help="runs of each command (default 2; min is kept)")
    args = parser.parse_args()

    python = os.path.abspath(shutil.which(args.python) or args.python)
    gradcli = gradcli_command(python)
    work = tempfile.mkdtemp(prefix="gradcli-tables-")
    try:
        n = args.terms
        (Path(work) / "big.grad").write_text(
            " + ".join(f"(a{i}*b{i} + sin(a{i}))*exp(-c{i})" for i in range(n)), encoding="utf-8")
        values = {}
        for i in range(n):
            values[f"a{i}"] = 0.5 + i * 1e-4
            values[f"b{i}"] = -1.25 + i * 1e-4
            values[f"c{i}"] = 0.1 * (i % 7)
        (Path(work) / "values.json").write_text(json.dumps(values), encoding="utf-8")
        base = gradcli + ["eval", "--file", "big.grad", "--values", "values.json"]
        commands = {"plain": base + ["--format", "plain"], "json": base + ["--format", "json"], "table": base,
                    "table --all": base + ["--all"]}

        # the JSON document says how many edges (rows) there are, counted in a child process: Linux
        # keeps a process's peak RSS across fork and exec, so this one must stay small
        counter = ("import json, sys; d = json.load(sys.stdin); "
                   "print(sum(1 for n in d['nodes'] for i in n['inputs'] if i['local'] is not None))")
        producer = subprocess.Popen(commands["json"], stdout=subprocess.PIPE, cwd=work)
        edges = int(subprocess.run([sys.executable, "-c", counter], stdin=producer.stdout, capture_output=True,
                                   check=True).stdout)
        producer.stdout.close()
        if producer.wait() != 0:
            sys.exit("gradcli eval --format json failed")

        results: dict[str, list[dict]] = {label: [] for label in commands}
        for round_ in range(args.repeats):
            labels = list(commands)
            shift = round_ % len(labels)
            for label in labels[shift:] + labels[:shift]:
                results[label].append(run(commands[label], work))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    best = {label: min(runs, key=lambda r: r["cpu"]) for label, runs in results.items()}
    print(f"interpreter: {python}")
    print(f"gradcli:     {' '.join(gradcli)}")
    print(f"\n{n:,}-term sum, {edges:,} edges; best of {args.repeats} fresh runs, stdout a pipe\n")
    print(f"{'command':<12} {'cpu s':>6} {'wall s':>7} {'first row s':>12} {'last row s':>11} {'rows':>7} "
          f"{'MB out':>7} {'peak RSS MB':>12}")
    for label, r in best.items():
        first = f"{r['first']:.2f}" if r["first"] is not None else "-"
        last = f"{r['last']:.2f}" if r["last"] is not None else "-"
        print(f"{label:<12} {r['cpu']:6.2f} {r['wall']:7.2f} {first:>12} {last:>11} {r['rows']:>7} "
              f"{r['bytes'] / 1e6:7.1f} {r['rss_mb']:12.0f}")

    print()
    for what, key in (("time", "cpu"), ("peak RSS", "rss_mb")):
        ratio = best["json"][key] / best["plain"][key]
        print(f"--format json: {ratio:.2f}x the --format plain run's {what} (target <= {TARGET}x) "
              f"{'ok' if ratio <= TARGET else 'OVER TARGET'}")
    ratio = best["table"]["cpu"] / best["json"]["cpu"]
    print(f"default table: {ratio:.2f}x the --format json run (target <= {TARGET}x) "
          f"{'ok' if ratio <= TARGET else 'OVER TARGET'}")
    every = best["table --all"]
    ok_rows = every["rows"] == edges
    print(f"--all: {every['rows']:,} rows of {edges:,} edges {'(all)' if ok_rows else '(MISSING ROWS)'}; "
          f"first row at {every['first']:.2f} s, last at {every['last']:.2f} s of {every['wall']:.2f} s; "
          f"peak RSS {every['rss_mb'] / best['table']['rss_mb']:.2f}x the default table's")
    return 0 if ok_rows and best["table"]["rows"] == min(edges, 100) else 1


if __name__ == "__main__":
    sys.exit(main())
