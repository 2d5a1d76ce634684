"""`gradcli batch --engine dask`: the same batch, one Dask task per partition of the input.

The input is cut into partitions (gradcli/inputs/tables.py: byte ranges of CSV files at line
starts, row groups of Parquet files). Each partition is one task, and a task is the local batch
itself: `batch.run` (CSV) or `batch.run_table` (Parquet) over the partition's rows, the same
parse, the same chunks of one untraced `Graph.evaluate` each, the same writer. So the numbers are
the local run's bit for bit, and a bad row is named by its file and line as locally: before the
tasks run, one cheap task per CSV partition counts its lines, and the line number of each
partition's first line is the sum of the counts before it in its file.

Where the rows go:
  - a folder (`--output DIR/`): each task writes its own part, `part.00000.csv` (or .ndjson,
    .parquet), to a temporary name then renamed, so a task that Dask runs again (its worker died)
    writes the same part whole; nothing but a small summary comes back to the client;
  - a file or stdout: each task returns its text, and the client writes the parts in order.
A task never raises a GradcliError to the client (a pickled exception may not come back whole):
it returns it, and the client raises it again, as the local run would have.

Dask's own model, as its docs for map_partitions describe: a partition is a pure function of its
description, so a task that is lost with its worker is simply run again on another worker (up to
distributed's `allowed-failures`, 3 by default), with the same result.
"""

from __future__ import annotations

import io
import logging
import os
import re
from dataclasses import dataclass, field

from ..base.errors import GradcliError
from ..inputs import tables
from . import batch

PARTITION_ROWS = 1_000_000  # rows of a partition (about: CSVs are cut by bytes, Parquet at row groups)
SUFFIX = {"csv": ".csv", "ndjson": ".ndjson", "parquet": ".parquet"}


@dataclass(frozen=True)
class Job:
    """What every task needs besides its partition: small, sent with each task."""

    expression: str
    constants: dict
    fmt: str
    chunk_size: int
    strict: bool
    folder: str | None  # the output folder, or None: the task returns its text


@dataclass
class PartResult:
    rows: int = 0
    failed: list = field(default_factory=list)
    failed_count: int = 0
    non_finite: int = 0
    warnings: list = field(default_factory=list)
    text: str | None = None
    error: tuple | None = None  # (class name, message, hint) of a GradcliError


_GRAPHS: dict = {}  # per worker process: the graph of each expression, parsed once


def _graph(job: Job):
    key = (job.expression, tuple(sorted(job.constants)))
    if key not in _GRAPHS:
        _GRAPHS.clear()
        _GRAPHS[key] = batch.batch_graph(job.expression, job.constants)
    return _GRAPHS[key]


def part_name(index: int, fmt: str) -> str:
    return f"part.{index:05d}{SUFFIX[fmt]}"


def count_part(part: tables.Part) -> tuple[int, tuple | None]:
    """The task that counts a CSV partition's lines: (count, None), or (0, the error)."""
    try:
        return tables.count_lines(part.path, part.start, part.end), None
    except GradcliError as error:
        return 0, (type(error).__name__, error.message.replace(part.path, part.source), error.hint)


def run_part(part: tables.Part, first_line: int, job: Job) -> PartResult:
    """The task of one partition: the local batch over its rows. `first_line`: the file's line
    number of the partition's first line (CSV), unused for Parquet."""
    result = PartResult()
    try:
        _run_part(part, first_line, job, result)
    except GradcliError as error:
        message = _file_lines(error.message, part, first_line).replace(part.path, part.source)
        result.error = (type(error).__name__, message, error.hint)
        result.text = None
    return result


def _run_part(part: tables.Part, first_line: int, job: Job, result: PartResult) -> None:
    graph = _graph(job)
    header = part.index == 0 or job.folder is not None  # one header, as locally; each part its own
    if job.folder is not None:
        target = os.path.join(job.folder, part_name(part.index, job.fmt))
        if job.fmt == "parquet":
            out = batch.ParquetOutput(target)
        else:
            from ..base.outfile import AtomicFile

            out = AtomicFile(target)
    else:
        out = io.StringIO()
    try:
        if part.kind == "csv":
            from ..inputs.datafiles import CsvLines

            stream = CsvLines(tables.open_range(part.path, part.start, part.end), part.source, owned=True)
            try:
                summary = batch.run(graph, stream, out, job.constants, source=part.source, fmt=job.fmt,
                                    chunk_size=job.chunk_size, strict=job.strict, write_header=header,
                                    first_data_line=first_line if part.start > 0 else None)
            finally:
                stream.close()
        else:
            names = tables.parquet_header(part.path)
            batches = tables.parquet_batches(part.path, part.row_groups, part.first_row, job.chunk_size, names)
            summary = batch.run_table(graph, names, batches, out, job.constants, source=part.source,
                                      fmt=job.fmt, strict=job.strict, header_row=header)
    except BaseException:
        if job.folder is not None:
            out.discard()
        raise
    if job.folder is not None:
        out.commit()
    else:
        result.text = out.getvalue()
    result.rows = summary.rows
    result.failed = summary.failed
    result.failed_count = summary.failed_count
    result.non_finite = summary.non_finite
    result.warnings = summary.warnings


_LINE = re.compile(r"\bline (\d+)")


def _file_lines(message: str, part: tables.Part, first_line: int) -> str:
    """A message about a partition's text (not UTF-8, a NUL byte, a line too long), read by a
    reader that counts from the partition's start, with the file's line numbers instead."""
    if part.kind != "csv" or part.start == 0 or first_line is None:
        return message
    # the reader saw the header line, then the partition: its line 2 is the file's first_line
    return _LINE.sub(lambda m: f"line {int(m.group(1)) - 2 + first_line}", message, count=1)


def _raise(error: tuple) -> None:
    from ..base import errors

    kind, message, hint = error
    cls = getattr(errors, kind, GradcliError)
    try:
        raised = cls(message, hint=hint)
    except TypeError:  # a subclass with other arguments: the same message, as the base class
        raised = GradcliError(message, hint=hint)
    raise raised


def check_headers(parts: list[tables.Part]) -> tuple[list[str], str]:
    """The header every file of the input shares, and the first file's name; files whose headers
    differ are refused (their rows would not make one table)."""
    return tables.common_header([(part.path, part.source) for part in parts if part.first_of_file])


CONNECT_TIMEOUT = 10.0  # seconds to reach --scheduler (distributed's connect retries till then)
HANDSHAKE_TIMEOUT = 5.0  # and seconds more for it to answer as a Dask scheduler


def scheduler_problem(address: str) -> str | None:
    """What is wrong with the form of `address` as a Dask scheduler's (a usage error), or None."""
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import get_backend

    try:
        scheme, location = parse_address(address)
        get_backend(scheme)  # ValueError: unknown address scheme 'http' (known schemes: …)
        if scheme in ("tcp", "tls"):
            host, port = parse_host_port(location)
            if not host:
                return "no host name"
            if not 0 < port < 65536:
                return f"port {port} is not between 1 and 65535"
    except ValueError as exc:
        return str(exc).replace("invalid literal for int() with base 10", "the port is not a number")
    return None


def connect(address: str):
    """A Client of the Dask scheduler at `address`, once a first connection to it has answered
    Dask's handshake within CONNECT_TIMEOUT + HANDSHAKE_TIMEOUT. Client(address, timeout=…)
    alone bounds the connection only: a server that accepts it and never answers (an HTTP
    server waiting for its request) keeps it waiting forever, and one that answers something
    else (HTTP/1.1 400 …) has its reply read as a frame length, a MemoryError.
    Raises OSError when nothing answers at `address` (as Client does), GradcliError when
    something does that is not a Dask scheduler."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from distributed import Client
    from distributed.comm import CommClosedError
    from distributed.comm import connect as open_comm

    async def handshake() -> None:
        comm = await open_comm(address, timeout=CONNECT_TIMEOUT)  # OSError after CONNECT_TIMEOUT
        await comm.close()

    try:  # in a thread of its own: asyncio.run() refuses to run inside a running loop (a notebook)
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, asyncio.wait_for(handshake(), CONNECT_TIMEOUT + HANDSHAKE_TIMEOUT)).result()
    except asyncio.TimeoutError:  # connected (else open_comm had given up first), no answer
        reply = f"accepted the connection but gave no answer in {CONNECT_TIMEOUT + HANDSHAKE_TIMEOUT:g} s"
    except CommClosedError:
        reply = "closed the connection instead of answering as one"
    except OSError:
        raise
    except Exception:  # MemoryError, a msgpack error, …: a reply that is not Dask's
        reply = "answered, but not as one"
    else:
        return Client(address, timeout=f"{CONNECT_TIMEOUT:g}s")
    raise GradcliError(f"{address} is not a Dask scheduler: it {reply}",
                       hint="give the scheduler's address, tcp://HOST:8786 (not its dashboard's http://…:8787)")


class Cluster:
    """A Dask client: to the scheduler at `address`, or to a local cluster of `workers` processes
    (one thread each) that is started here and closed at the end.

    On Linux the local cluster's workers are forked from this process (distributed's
    `multiprocessing-method: fork`) instead of spawned: a spawned worker imports distributed,
    NumPy, pyarrow and gradcli again (~0.8 s of processor time each, and its close waits ~0.6 s),
    a forked one starts with them imported, and with the expression already parsed (see
    `prepare_workers`). Measured (busy 2-core machine): start, first-task imports and close of
    2 workers 0.3 s instead of 2.0-3.1 s.
    The setting is held until close(): a nanny reads it again when it restarts a dead worker."""

    def __init__(self, address: str | None, workers: int) -> None:
        from distributed import Client, LocalCluster

        logging.getLogger("distributed").setLevel(logging.ERROR)
        self.cluster = None
        self.config = None
        self.pool = None  # Arrow's memory pool before this cluster's, restored at close
        try:
            if address:
                self.client = connect(address)
            else:
                if _can_fork():
                    import dask

                    self.config = dask.config.set({"distributed.worker.multiprocessing-method": "fork"})
                    self.pool = _jemalloc_pool()
                # ours to start and close: a worker's heartbeat that races the scheduler's close on
                # a busy machine logs an ERROR; the forked workers inherit this logger's level
                logging.getLogger("distributed").setLevel(logging.CRITICAL)
                self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                            dashboard_address=None, silence_logs=logging.CRITICAL)
                self.client = Client(self.cluster)
        except (OSError, TimeoutError) as exc:
            self._restore()
            where = f"the Dask scheduler at {address}" if address else "a local Dask cluster"
            raise GradcliError(f"cannot connect to {where}: {exc}",
                               hint="check the address (tcp://HOST:8786) and that the scheduler runs"
                               if address else None) from None

    def close(self) -> None:
        try:
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()
        finally:
            self._restore()

    def _restore(self) -> None:
        if self.config is not None:
            self.config.__exit__(None, None, None)
            self.config = None
        if self.pool is not None:
            import pyarrow

            pyarrow.set_memory_pool(self.pool)
            self.pool = None


def _jemalloc_pool():
    """Arrow's jemalloc pool for the forked workers (they inherit this process's pool); returns
    the pool it replaces, or None. Arrow's default, mimalloc, keeps the pages a task freed: with
    it the peak RSS of a process running partitions grew by ~70 MB, with jemalloc by ~56 MB, at
    the same speed (one process, --chunk-size 65536, row groups of 250,000 rows); the forked
    workers of bench/batch_dask.py: 85 MB (spawned, mimalloc) -> 70-83 MB."""
    try:
        import pyarrow

        pool = pyarrow.jemalloc_memory_pool()
    except (ImportError, NotImplementedError):  # pyarrow built without jemalloc
        return None
    before = pyarrow.default_memory_pool()
    pyarrow.set_memory_pool(pool)
    return before


def _can_fork() -> bool:
    """Fork where it is the platform's own default for multiprocessing (Linux); macOS and
    Windows keep distributed's spawn (fork is unsafe with macOS system libraries)."""
    import sys

    return sys.platform.startswith("linux")


def prepare_workers(job: Job, parts: list[tables.Part]) -> None:
    """Import here what a task imports lazily, and parse the expression, before a local cluster's
    workers are forked from this process: they start with it done."""
    _graph(job)
    from ..base import outfile  # noqa: F401  (the folder output of CSV and ndjson parts)
    from ..inputs import datafiles  # noqa: F401  (CSV partitions)

    if job.fmt == "parquet" or any(part.kind == "parquet" for part in parts):
        import pyarrow.parquet  # noqa: F401


def run(job: Job, input_path: str, *, scheduler: str | None, workers: int, out=None,
        on_failure=None, partition_rows: int = PARTITION_ROWS, client=None) -> batch.Summary:
    """Run the batch on Dask; write the parts (job.folder) or their text in order to `out`.

    Returns the merged Summary; failed rows go to `on_failure` in input order (the first
    batch.MAX_REPORTED of them, as locally). Raises the GradcliError a task met, as the local
    run raises it.
    """
    parts = tables.partitions(input_path, partition_rows=partition_rows)
    header, first_file = check_headers(parts)
    if header:  # the plan's errors (a missing column, a gate that mixes rows) before any cluster
        batch.Plan(batch.batch_graph(job.expression, job.constants), header, job.constants, first_file)
    if job.folder is not None:
        _prepare_folder(job.folder)
    if client is None and not scheduler:
        prepare_workers(job, parts)
    cluster = Cluster(scheduler, workers) if client is None else None
    client = client if client is not None else cluster.client
    try:
        return _run(client, job, parts, out, on_failure)
    finally:
        if cluster is not None:
            cluster.close()


def _run(client, job: Job, parts: list[tables.Part], out, on_failure) -> batch.Summary:
    csv = [part for part in parts if part.kind == "csv"]
    counted = client.gather(client.map(count_part, csv, pure=False)) if csv else []
    for _, error in counted:
        if error is not None:
            _raise(error)
    first_lines = {}
    line = 1
    for part, (count, _) in zip(csv, counted):
        if part.start == 0:
            line = 1
        first_lines[part.index] = line
        line += count
    futures = client.map(run_part, parts, [first_lines.get(p.index, 1) for p in parts], job=job, pure=False)
    summary = batch.Summary()
    try:
        for part, future in zip(parts, futures):
            result = future.result()
            future.release()
            if result.error is not None:
                _raise(result.error)
            if result.text and out is not None:
                out.write(result.text)
            summary.rows += result.rows
            summary.non_finite += result.non_finite
            summary.failed_count += result.failed_count
            for row in result.failed:
                if len(summary.failed) < batch.MAX_REPORTED:
                    summary.failed.append(row)
                    if on_failure is not None:
                        on_failure(row, part.source)
            for message in result.warnings:
                if message not in summary.warnings:
                    summary.warnings.append(message)
    finally:
        client.cancel(futures)
    return summary


def _prepare_folder(folder: str) -> None:
    try:
        os.makedirs(folder, exist_ok=True)
        stale = [name for name in os.listdir(folder) if name.startswith("part.")]
    except OSError as exc:
        raise GradcliError(f"cannot write --output {folder}: {exc.strerror or exc}") from None
    if stale:
        raise GradcliError(f"--output {folder} already holds parts ({stale[0]}, …)",
                           hint="remove them, or name another folder: a run's parts would mix with them")
