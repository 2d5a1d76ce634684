"""`gradcli batch --engine dask --workers 2` vs `--engine local` on 10^7 rows x 5 columns of
Parquet; peak memory per worker vs partition size; the figures a projection to a large cluster
rests on.

The input: a Parquet file of N rows (default 10^7) and the columns w0,x0,w1,x1,w2 (uniform random
float64, fixed seed, row groups of --group rows), for the sigmoid neuron
f = sigmoid(w0*x0 + w1*x1 + w2). Output: Parquet (5 inputs, f, 5 gradients per row).

Time, rows per second (fresh processes, best of --repeats, interleaved):
  - local: `gradcli batch EXPR --input in.parquet --output local.parquet`
  - dask, end to end: `... --engine dask --workers 2 --output parts/` (a local cluster of two
    processes started and closed inside the run: that start-up is part of the time)
  - dask on a running cluster: `... --engine dask --scheduler ADDRESS --output parts/` (a
    LocalCluster of two one-thread worker processes started by this script beforehand, as a user
    with a cluster has it, its workers warmed by a tiny run: gradcli and pyarrow imported)
  Target (issue 17): dask >= 1.6x the rows per second of local on the same two cores.

Per task (on the running cluster, from Dask's task stream): the compute time of each partition's
task (min, median, max) and rows per second per worker; the scheduler's overhead per task (a
thousand no-op tasks, wall time / 1000); bytes per row read (the Parquet input) and written (the
parts), and what comes back to the client per task in folder mode (the pickled summary).

Fixed cost: `--engine dask --workers 2` on a 1,000-row input minus the local run on it, and the
start and close of that cluster in this process.

Memory: for each --partition-rows in --sizes, a fresh cluster of 2 workers as `--workers 2`
starts it (batch_dask.Cluster); a tiny
partition first on each worker (imports, the parse), then its peak RSS is reset (Linux: VmHWM,
/proc/self/clear_refs) and the big run goes; the peak RSS of each worker process minus its RSS
before the run, against one partition's data (rows x 5 x 8 bytes).
Target: <= 2x one partition's data.

This is a report, not a test: it exits 0 whatever the ratios, and 1 only when the Dask parts
differ from the local output (compared whole) or gradcli's numbers differ from NumPy's (first rows).

    python bench/batch_dask.py [--rows 10000000] [--group 250000] [--repeats 2] [--sizes 250000,1000000,2000000]
"""

from __future__ import annotations

import argparse
import glob
import logging
import os
import pickle
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from options import positive

TARGET = 1.6
EXPRESSION = "sigmoid(w0*x0 + w1*x1 + w2)"
NAMES = ("w0", "x0", "w1", "x1", "w2")


def make_input(path: str, rows: int, group: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(1)
    schema = pa.schema([(name, pa.float64()) for name in NAMES])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, group):
            block = rng.uniform(-3, 3, size=(min(group, rows - start), 5))
            writer.write_table(pa.table({n: block[:, j] for j, n in enumerate(NAMES)}, schema=schema),
                               row_group_size=group)


def gradcli_command() -> list[str]:
    script = os.path.join(os.path.dirname(sys.executable), "gradcli")
    return [script] if os.path.exists(script) else [sys.executable, "-m", "gradcli"]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cpu() -> float:
    return time.process_time()


def timed(command: list[str], client=None) -> tuple[float, float]:
    """(wall time, processor time) of a command: its own and its children's (a local cluster's
    workers are its children), plus the running cluster's workers' when `client` is given."""
    workers = sum(client.run(_cpu).values()) if client is not None else 0.0
    cpu = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"command failed ({done.returncode}): {' '.join(command)}\n{done.stderr}")
    wall = time.perf_counter() - start
    cpu = _children_cpu() - cpu
    if client is not None:
        cpu += sum(client.run(_cpu).values()) - workers
    return wall, cpu


def parts_table(folder: str):
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pa.concat_tables([pq.read_table(p) for p in sorted(glob.glob(os.path.join(folder, "part.*.parquet")))])


def check_numbers(table, rows: int = 1000) -> bool:
    data = np.column_stack([table.column(n).to_numpy()[:rows] for n in NAMES])
    w0, x0, w1, x1, w2 = data.T
    s = 1.0 / (1.0 + np.exp(-(w0 * x0 + w1 * x1 + w2)))
    ds = s * (1 - s)
    expected = np.column_stack([s, ds * x0, ds * w0, ds * x1, ds * w1, ds])
    got = np.column_stack([table.column(n).to_numpy()[:rows] for n in table.column_names[5:]])
    return np.allclose(got, expected, rtol=1e-12, atol=1e-15)


def start_cluster(workers: int = 2):
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=":0", silence_logs=logging.ERROR)
    return cluster, Client(cluster)


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    return float("nan")


def _reset_peak() -> float:
    """The RSS now, after resetting the process's peak RSS (VmHWM) to it (Linux: clear_refs 5)."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    return _status_mb("VmRSS")


def _peak_mb() -> float:
    return _status_mb("VmHWM")


def _noop(i):
    return i


def _warm(small: str, job) -> None:
    """On a worker: the imports, the parse and one tiny partition, so that what follows measures
    the batch, not the start-up."""
    from gradcli.commands import batch_dask
    from gradcli.inputs import tables

    part = tables.partitions(small, partition_rows=10**9)[0]
    batch_dask.run_part(part, 1, job)


def task_figures(client, job, path: str, small: str, warm_job, partition_rows: int) -> dict:
    from distributed import get_task_stream

    from gradcli.commands import batch_dask

    client.run(_warm, small, warm_job)

    with get_task_stream(client) as stream:
        start = time.perf_counter()
        batch_dask.run(job, path, scheduler=None, workers=2, client=client, partition_rows=partition_rows)
        wall = time.perf_counter() - start
    spans = [entry for entry in stream.data if str(entry["key"]).startswith("run_part")]
    durations = []
    for entry in spans:
        compute = [s for s in entry["startstops"] if s["action"] == "compute"]
        durations += [s["stop"] - s["start"] for s in compute]
    count = 1000
    start = time.perf_counter()
    client.gather(client.map(_noop, range(count), pure=False))
    overhead = (time.perf_counter() - start) / count
    return {"wall": wall, "durations": durations, "overhead": overhead}


def memory_figures(folder: str, path: str, small: str, partition_rows: int, chunk: int) -> tuple[list[float], list[float]]:
    """(peak RSS MB added per worker by the big run, baseline RSS MB per worker) on a fresh
    cluster, measured in a fresh process: the workers are forked from the process that starts
    them, and forked from this one (which has held whole tables) they would reuse its freed heap."""
    done = subprocess.run([sys.executable, __file__, "--memory-figures", folder, path, small, str(partition_rows),
                           str(chunk)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"memory figures failed:\n{done.stderr}")
    added, bases = done.stdout.strip().splitlines()[-1].split(";")
    return [float(a) for a in added.split(",")], [float(b) for b in bases.split(",")]


def _memory_figures(folder: str, path: str, small: str, partition_rows: int, chunk: int) -> tuple[list[float], list[float]]:
    from gradcli.commands import batch_dask

    def job_for(tag):
        return batch_dask.Job(EXPRESSION, {}, "parquet", chunk, False,
                              os.path.join(folder, f"mem-{partition_rows}-{chunk}-{tag}"))

    cluster = batch_dask.Cluster(None, 2)  # the cluster `--workers 2` starts (forked workers, jemalloc)
    client = cluster.client
    try:
        client.run(_warm, small, job_for("warm"))
        base = client.run(_reset_peak)
        batch_dask.run(job_for("big"), path, scheduler=None, workers=2, client=client,
                       partition_rows=partition_rows)
        peak = client.run(_peak_mb)
        return [peak[w] - base[w] for w in sorted(peak)], [base[w] for w in sorted(base)]
    finally:
        cluster.close()


def startup_figures(small: str, folder: str, repeats: int) -> dict:
    """The fixed cost of `--engine dask --workers 2`: the whole command on a 1,000-row input minus
    the local command on it (fresh processes, best of `repeats`), and, in this process, the
    start and the close of the cluster `--workers 2` starts."""
    from gradcli.commands import batch_dask

    base = gradcli_command() + ["batch", EXPRESSION, "--input", small, "--format", "parquet"]
    local, dask = [], []
    for repeat in range(repeats):
        local.append(timed(base + ["--output", os.path.join(folder, f"small-local-{repeat}.parquet")])[0])
        dask.append(timed(base + ["--engine", "dask", "--workers", "2", "--output",
                                  os.path.join(folder, f"small-dask-{repeat}/")])[0])
    start = time.perf_counter()
    cluster = batch_dask.Cluster(None, 2)
    started = time.perf_counter() - start
    cluster.client.run(_noop, 0)
    start = time.perf_counter()
    cluster.close()
    closed = time.perf_counter() - start
    return {"local": min(local), "dask": min(dask), "start": started, "close": closed}


def main() -> int:
    if sys.argv[1:2] == ["--memory-figures"]:  # the helper process of memory_figures
        folder, path, small, size, chunk = sys.argv[2:7]
        added, bases = _memory_figures(folder, path, small, int(size), int(chunk))
        print(",".join(f"{a:.1f}" for a in added) + ";" + ",".join(f"{b:.1f}" for b in bases))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=positive, default=10_000_000)
    parser.add_argument("--group", type=positive, default=250_000, help="rows per Parquet row group")
    parser.add_argument("--partition-rows", type=positive, default=1_000_000)
    parser.add_argument("--repeats", type=positive, default=2)
    parser.add_argument("--chunk-size", type=positive, default=None,
                        help="gradcli's --chunk-size, for every run (default: gradcli's)")
    parser.add_argument("--sizes", default="250000,1000000,2000000", help="--partition-rows for the memory figures")
    args = parser.parse_args()
    from gradcli.commands import batch, batch_dask

    args.chunk_size = args.chunk_size or batch.DEFAULT_CHUNK

    folder = tempfile.mkdtemp(prefix="gradcli-bench-dask-")
    try:
        path = os.path.join(folder, "in.parquet")
        small = os.path.join(folder, "small.parquet")
        local_out = os.path.join(folder, "local.parquet")
        make_input(path, args.rows, args.group)
        make_input(small, 1000, 1000)
        in_bytes = os.path.getsize(path)
        print(f"input: {args.rows:,} rows x 5 columns of Parquet ({in_bytes / 2**20:.0f} MB, row groups of "
              f"{args.group:,}); expression {EXPRESSION}; partitions of {args.partition_rows:,} rows")

        cluster, client = start_cluster()
        address = cluster.scheduler_address
        # a running cluster that has run gradcli before: its workers have imported gradcli and
        # pyarrow (~1 s of processor time each, paid once per worker process, not per run)
        client.run(_warm, small, batch_dask.Job(EXPRESSION, {}, "parquet", args.chunk_size, False,
                                                os.path.join(folder, "warm0")))
        base = gradcli_command() + ["batch", EXPRESSION, "--input", path, "--format", "parquet", "--chunk-size",
                                    str(args.chunk_size)]
        commands = {
            "local": base + ["--output", local_out],
            "dask, end to end (--workers 2)": base + ["--engine", "dask", "--workers", "2", "--partition-rows",
                                                      str(args.partition_rows), "--output"],
            "dask, running cluster (--scheduler)": base + ["--engine", "dask", "--scheduler", address,
                                                           "--partition-rows", str(args.partition_rows), "--output"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        ok = True
        for repeat in range(args.repeats):
            for name, command in commands.items():
                if name != "local":
                    target = os.path.join(folder, f"parts-{len(times[name])}-{name[:4]}-{repeat}")
                    shutil.rmtree(target, ignore_errors=True)
                    command = command + [target + "/"]
                wall, cpu = timed(command, client if "scheduler" in name else None)
                times[name].append(wall)
                cpus[name].append(cpu)
                if name != "local":
                    import pyarrow.parquet as pq

                    local = pq.read_table(local_out)
                    if not parts_table(target).equals(local):
                        print(f"MISMATCH: {name}'s parts differ from the local output")
                        ok = False
                    shutil.rmtree(target, ignore_errors=True)
        import pyarrow.parquet as pq

        local = pq.read_table(local_out)
        if not check_numbers(local):
            print("MISMATCH: gradcli's numbers differ from NumPy's")
            ok = False
        out_bytes = os.path.getsize(local_out)
        print(f"\nrows per second (best of {args.repeats}, fresh processes; ranges over the repeats):")
        best = {name: min(v) for name, v in times.items()}
        for name, values in times.items():
            print(f"  {name:38s} {args.rows / best[name] / 1e6:6.2f} M rows/s   "
                  f"({min(values):.2f}-{max(values):.2f} s)")
        for name in list(commands)[1:]:
            ratio = best["local"] / best[name]
            verdict = "ok" if ratio >= TARGET else "UNDER TARGET"
            print(f"  {name} / local: {ratio:.2f}x (target >= {TARGET}x: {verdict})")
        print("processor time (user + system, every process of the run; robust to a busy machine):")
        for name, values in cpus.items():
            print(f"  {name:38s} {min(values):7.2f} s  ({min(values) / args.rows * 1e6:.2f} s per million rows)")
        for name in list(commands)[1:]:
            # two workers on two idle cores: the processor time splits over them (the partitions
            # are independent: 10 tasks over 2 workers), the local run's does not
            estimate = min(cpus["local"]) / (min(cpus[name]) / 2)
            print(f"  idle-machine estimate, {name} / local: {estimate:.2f}x "
                  f"(local's processor time / half of dask's)")

        fixed = startup_figures(small, folder, args.repeats)
        print(f"\nfixed cost of --engine dask --workers 2 (1,000 rows, best of {args.repeats}): "
              f"{fixed['dask']:.2f} s vs local {fixed['local']:.2f} s -> {fixed['dask'] - fixed['local']:.2f} s "
              f"added; in-process: cluster start {fixed['start']:.2f} s, close {fixed['close']:.2f} s")

        job = batch_dask.Job(EXPRESSION, {}, "parquet", args.chunk_size, False, os.path.join(folder, "stream-parts"))
        warm_job = batch_dask.Job(EXPRESSION, {}, "parquet", args.chunk_size, False, os.path.join(folder, "warm"))
        figures = task_figures(client, job, path, small, warm_job, args.partition_rows)
        durations = sorted(figures["durations"])
        part_bytes = sum(os.path.getsize(p) for p in glob.glob(os.path.join(job.folder, "part.*")))
        summary = pickle.dumps(batch_dask.PartResult(rows=args.partition_rows))
        client.close()
        cluster.close()
        print(f"\nper partition ({len(durations)} tasks of ~{args.partition_rows:,} rows, running cluster):")
        if durations:
            print(f"  compute time per task: min {durations[0]:.3f} s, median {statistics.median(durations):.3f} s, "
                  f"max {durations[-1]:.3f} s  ->  {args.partition_rows / statistics.median(durations) / 1e6:.2f} "
                  "M rows/s per worker")
        print(f"  whole run on the running cluster (API, no process start): {figures['wall']:.2f} s "
              f"({args.rows / figures['wall'] / 1e6:.2f} M rows/s)")
        print(f"  scheduler overhead per task (1,000 no-op tasks): {figures['overhead'] * 1e3:.2f} ms")
        print(f"  bytes per row: read {in_bytes / args.rows:.1f} (Parquet in), written {part_bytes / args.rows:.1f} "
              f"(Parquet parts; local file {out_bytes / args.rows:.1f}); CSV text per row if sent to the client: "
              f"~{_csv_bytes_per_row(local):.0f}; back to the client per task in folder mode: ~{len(summary)} bytes")

        print("\npeak memory per worker (its peak RSS during the run, VmHWM reset after a warm-up, minus the "
              "RSS then), 2 workers, "
              f"--chunk-size {args.chunk_size}:")
        for size in [int(s) for s in args.sizes.split(",") if s]:
            added, bases = memory_figures(folder, path, small, size, args.chunk_size)
            data_mb = max(size, args.group) * 5 * 8 / 2**20  # a partition holds whole row groups
            worst = max(added)
            verdict = "ok" if worst <= 2 * data_mb else "OVER TARGET"
            print(f"  partition {max(size, args.group):>9,} rows ({data_mb:6.1f} MB of input data): added "
                  f"{', '.join(f'{a:.0f}' for a in added)} MB per worker (baseline "
                  f"{', '.join(f'{b:.0f}' for b in bases)} MB); worst / partition {worst / data_mb:.2f}x "
                  f"(target <= 2x: {verdict})")
        if not ok:
            return 1
        print("\nDask parts equal to the local output (whole tables), local numbers equal to NumPy's: ok")
        return 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _csv_bytes_per_row(table, rows: int = 10000) -> float:
    head = table.slice(0, rows)
    matrix = np.column_stack([head.column(i).to_numpy() for i in range(head.num_columns)])
    text = (",".join(["%r"] * matrix.shape[1]) + "\n") * len(matrix) % tuple(matrix.ravel().tolist())
    return len(text) / len(matrix)


if __name__ == "__main__":
    sys.exit(main())
