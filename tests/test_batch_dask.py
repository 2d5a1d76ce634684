"""`gradcli batch --engine dask`: the local batch, one Dask task per partition.

The oracle is the local engine (`--engine local`, itself checked by hand in test_batch.py; the
lecture's neuron is checked by hand here too): the Dask run must give the same bytes on stdout,
the same stderr (bad rows with file and line) and the same exit code, for partitions small enough
that every file is cut many times. The cluster tests run a real LocalCluster of 2 worker
processes (marked slow); one of its workers is killed in the middle of a run.
"""

from __future__ import annotations

import glob
import importlib.util
import os

import numpy as np
import pytest
from typer.testing import CliRunner

from gradcli.commands.cli import app
from gradcli.inputs import tables

from conftest import _check_no_traceback

NEURON = "sigmoid(w0*x0 + w1*x1 + w2)"
NAMES = ["w0", "x0", "w1", "x1", "w2"]
HAVE_DASK = all(importlib.util.find_spec(name) for name in ("dask", "distributed", "pyarrow"))
needs_dask = pytest.mark.skipif(not HAVE_DASK, reason="pip install 'gradcli[dask]' (dask, distributed, pyarrow)")


def run(*args):
    result = CliRunner().invoke(app, ["batch", *args])
    _check_no_traceback(result)
    return result


def write_csv(path, data, *, bad=(), ragged=(), blank=(), crlf=False):
    end = "\r\n" if crlf else "\n"
    with open(path, "w", newline="") as out:
        out.write(",".join(NAMES) + end)
        for i, row in enumerate(data):
            if i in blank:
                out.write(end)
            if i in bad:
                out.write("1,abc,2,3,4" + end)
            elif i in ragged:
                out.write("1,2" + end)
            else:
                out.write(",".join(repr(float(v)) for v in row) + end)


def neuron_by_hand(row):
    w0, x0, w1, x1, w2 = row
    s = 1.0 / (1.0 + np.exp(-(w0 * x0 + w1 * x1 + w2)))
    ds = s * (1.0 - s)
    return [s, ds * x0, ds * w0, ds * x1, ds * w1, ds]


# -- partitions, without a cluster

@pytest.mark.parametrize("crlf", [False, True])
def test_byte_ranges_hold_every_line_once_in_order(tmp_path, crlf):
    """For every cut size, the ranges side by side are the file, and their line counts add up."""
    path = tmp_path / "t.csv"
    write_csv(path, np.arange(60.0).reshape(12, 5), blank={3, 4}, crlf=crlf)
    data = path.read_bytes() + b"7,7"  # a last line without a line end
    path.write_bytes(data)
    lines = data.count(b"\n") + 1
    for size in [1, 2, 3, 7, 19, 64, len(data) - 1, len(data), 10**6]:
        starts = range(0, len(data), size)
        pieces = [tables.read_range(str(path), s, s + size)[0] for s in starts]
        assert b"".join(pieces) == data, size
        assert sum(tables.count_lines(str(path), s, s + size) for s in starts) == lines, size


def test_without_the_extra_it_says_how_to_install(tmp_path, monkeypatch):
    write_csv(tmp_path / "p.csv", np.ones((2, 5)))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "distributed" else real(name, *a))
    result = run(NEURON, "--input", str(tmp_path / "p.csv"), "--engine", "dask")
    assert result.exit_code == 1
    assert "--engine dask needs distributed, which is not installed" in result.stderr
    assert "pip install 'gradcli[dask]'" in result.stderr


@pytest.mark.parametrize("args, needle", [
    (["--engine", "dask", "--fail-fast"], "--fail-fast is for --engine local"),
    (["--scheduler", "tcp://localhost:1"], "--scheduler and --workers go with --engine dask"),
    (["--workers", "2"], "--scheduler and --workers go with --engine dask"),
])
def test_usage_errors_exit_2(tmp_path, args, needle):
    write_csv(tmp_path / "p.csv", np.ones((2, 5)))
    result = run(NEURON, "--input", str(tmp_path / "p.csv"), *args)
    assert result.exit_code == 2 and needle in result.stderr


def test_dask_reads_files_not_stdin():
    result = run(NEURON, "--input", "-", "--engine", "dask")
    assert result.exit_code == 2 and "not stdin" in result.stderr


@needs_dask
def test_parquet_locally_is_the_same_table_as_csv(tmp_path):
    """Parquet in (row groups of 7, a null cell) gives the CSV run's numbers; a bad row is named
    by its row number; Parquet out holds the same numbers, nulls where the row failed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(5)
    data = rng.uniform(-2, 2, size=(40, 5))
    data[0] = [2, -1, -3, -2, -3]
    columns = {name: pa.array(data[:, j]) for j, name in enumerate(NAMES)}
    x0 = data[:, 1].tolist()
    x0[9] = None
    columns["x0"] = pa.array(x0)
    pq.write_table(pa.table(columns), tmp_path / "p.parquet", row_group_size=7)
    result = run(NEURON, "--input", str(tmp_path / "p.parquet"))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == f"error: {tmp_path / 'p.parquet'}, row 10, column 2 (x0): the cell is empty"
    lines = result.stdout.splitlines()
    assert len(lines) == 41 and lines[10].endswith(",,,,,,")
    first = [float(c) for c in lines[1].split(",")]
    np.testing.assert_allclose(first[5:], neuron_by_hand(data[0]), rtol=1e-14)
    np.testing.assert_allclose(first[5:], [0.731059, -0.196612, 0.393224, -0.393224, -0.589836, 0.196612], atol=5e-7)
    out = tmp_path / "out.parquet"
    result = run(NEURON, "--input", str(tmp_path / "p.parquet"), "--output", str(out))
    assert result.exit_code == 1
    table = pq.read_table(out)
    assert table.column_names == NAMES + ["f", "df/dw0", "df/dx0", "df/dw1", "df/dx1", "df/dw2"]
    assert table.num_rows == 40 and table.column("f").null_count == 1 and table.column("f")[9].as_py() is None
    f = table.column("f").to_numpy(zero_copy_only=False)
    expected = [float(line.split(",")[5]) if line.split(",")[5] else np.nan for line in lines[1:]]
    np.testing.assert_array_equal(f, expected)  # the same float64s as the CSV's text


# -- on a real cluster

@pytest.fixture
def cluster():
    if not HAVE_DASK:
        pytest.skip("pip install 'gradcli[dask]' (dask, distributed, pyarrow)")
    from gradcli.commands.batch_dask import Cluster

    # the cluster --workers starts (forked workers on Linux): the killed worker below is
    # restarted by its nanny the same way
    local = Cluster(None, 2)
    try:
        yield local.cluster.scheduler_address, local.client
    finally:
        local.close()


@pytest.fixture
def points(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(3)
    data = rng.uniform(-2, 2, size=(300, 5))
    data[0] = [2, -1, -3, -2, -3]
    write_csv("a.csv", data[:200], bad={37, 150}, ragged={120}, blank={60})
    write_csv("b.csv", data[200:], bad={5})
    return data


def both(*args, scheduler):
    local = run(*args)
    dask = run(*args, "--engine", "dask", "--scheduler", scheduler, "--partition-rows", "9")
    return local, dask


def check_dask_gives_the_local_bytes_and_the_same_bad_rows(cluster, points):
    local, dask = both(NEURON, "--input", "a.csv", scheduler=cluster[0])
    assert local.exit_code == dask.exit_code == 1
    assert dask.stdout == local.stdout
    assert dask.stderr == local.stderr
    assert dask.stderr.splitlines()[:3] == [
        "error: a.csv, line 39, column 2 (x0): 'abc' is not a number",
        "error: a.csv, line 123: 2 cells, but the first row has 5",
        "error: a.csv, line 153, column 2 (x0): 'abc' is not a number",
    ]
    rows = dask.stdout.splitlines()[1:]
    assert len(rows) == 200  # no row lost, the blank line skipped
    first = [float(c) for c in rows[0].split(",")]
    np.testing.assert_allclose(first[5:], neuron_by_hand(points[0]), rtol=1e-14)
    for i in (1, 99, 199):  # rows in input order: the echoed cells are the input's
        assert rows[i].startswith(",".join(repr(float(v)) for v in points[i]))


def check_a_glob_of_csvs_names_each_file(cluster, points):
    dask = run(NEURON, "--input", "*.csv", "--engine", "dask", "--scheduler", cluster[0], "--partition-rows", "9",
               "--format", "ndjson")
    local_a, local_b = run(NEURON, "--input", "a.csv", "-f", "ndjson"), run(NEURON, "--input", "b.csv", "-f", "ndjson")
    assert dask.stdout == local_a.stdout + local_b.stdout
    assert "error: b.csv, line 7, column 2 (x0): 'abc' is not a number" in dask.stderr
    assert dask.stderr.splitlines()[-1] == "error: 4 of 300 rows failed; their output rows have empty values"
    local = run(NEURON, "--input", "*.csv")  # the local engine reads the glob too
    assert local.stderr == dask.stderr
    csv = run(NEURON, "--input", "*.csv", "--engine", "dask", "--scheduler", cluster[0], "--partition-rows", "9")
    assert csv.stdout == local.stdout and csv.stdout.count("w0,x0,") == 1  # one header over the files


def check_parts_written_by_the_workers_are_the_local_output(cluster, points):
    import pyarrow as pa
    import pyarrow.parquet as pq

    local = run(NEURON, "--input", "*.csv", "--output", "local.parquet")
    dask = run(NEURON, "--input", "*.csv", "--engine", "dask", "--scheduler", cluster[0], "--partition-rows", "50",
               "--output", "parts.parquet")
    assert local.exit_code == dask.exit_code == 1
    parts = sorted(glob.glob("parts.parquet/part.*.parquet"))
    assert len(parts) >= 4
    assert pa.concat_tables([pq.read_table(p) for p in parts]).equals(pq.read_table("local.parquet"))
    again = run(NEURON, "--input", "*.csv", "--engine", "dask", "--scheduler", cluster[0], "--output", "parts.parquet")
    assert again.exit_code == 1 and "already holds parts" in again.stderr


def check_a_missing_column_is_the_local_message(cluster, points):
    local, dask = both("x9 * w0", "--input", "a.csv", scheduler=cluster[0])
    assert local.exit_code == dask.exit_code == 1 and local.stderr == dask.stderr and dask.stdout == ""


def check_a_killed_worker_is_retried_with_the_same_result(cluster, points, tmp_path):
    """A worker plugin kills its worker process (os._exit) as the first partition task starts:
    Dask runs that task again on a worker that lives, and the output is the local one."""
    import cloudpickle

    import test_batch_dask

    cloudpickle.register_pickle_by_value(test_batch_dask)
    marker = str(tmp_path / "killed")
    address, client = cluster
    client.register_plugin(KillOnce(marker), name="kill-once")
    try:
        local, dask = both(NEURON, "--input", "a.csv", scheduler=address)
    finally:
        client.unregister_worker_plugin("kill-once")
        cloudpickle.unregister_pickle_by_value(test_batch_dask)
    assert os.path.exists(marker)  # a worker did die mid-run
    assert dask.stdout == local.stdout and dask.stderr == local.stderr and dask.exit_code == local.exit_code
    client.wait_for_workers(2, timeout=60)


@pytest.mark.slow
def test_on_one_cluster(cluster, points, tmp_path):
    """The checks above on one LocalCluster of 2 processes (started once: it takes seconds)."""
    check_dask_gives_the_local_bytes_and_the_same_bad_rows(cluster, points)
    check_a_glob_of_csvs_names_each_file(cluster, points)
    check_parts_written_by_the_workers_are_the_local_output(cluster, points)
    check_a_missing_column_is_the_local_message(cluster, points)
    check_a_killed_worker_is_retried_with_the_same_result(cluster, points, tmp_path)


try:
    from distributed.diagnostics.plugin import WorkerPlugin as _Plugin
except ImportError:
    _Plugin = object


class KillOnce(_Plugin):
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing" and "run_part" in str(key) and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os._exit(1)


@pytest.mark.slow
def test_a_local_cluster_is_started_and_closed(tmp_path, points):
    """Without --scheduler: a cluster of --workers processes, folder output of CSV parts."""
    if not HAVE_DASK:
        pytest.skip("pip install 'gradcli[dask]'")
    result = run(NEURON, "--input", "b.csv", "--engine", "dask", "--workers", "2", "--partition-rows", "40",
                 "--output", "out/")
    local = run(NEURON, "--input", "b.csv")
    parts = sorted(glob.glob("out/part.*.csv"))
    assert len(parts) >= 2
    texts = [open(p).read() for p in parts]
    header = texts[0].splitlines(keepends=True)[0]
    assert all(t.startswith(header) for t in texts)  # each part is a CSV of its own
    assert header + "".join(t[len(header):] for t in texts) == local.stdout
    assert result.stderr == local.stderr and result.exit_code == local.exit_code == 1


class _Done:
    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value

    def release(self):
        pass


class InProcess:
    """A stand-in for a Dask client that runs each task at once, here: the partition logic
    without a cluster's start-up."""

    def map(self, fn, *iterables, pure=True, **kwargs):
        return [_Done(fn(*args, **kwargs)) for args in zip(*iterables)]

    def gather(self, futures):
        return [f.result() for f in futures]

    def cancel(self, futures):
        pass


@needs_dask
def test_a_fatal_line_deep_in_a_file_has_the_files_line_number(tmp_path):
    """A NUL byte in a late partition: the message names the file's line, as locally."""
    import io

    from gradcli.commands import batch_dask

    data = np.ones((50, 5))
    write_csv(tmp_path / "p.csv", data)
    text = (tmp_path / "p.csv").read_bytes().split(b"\n")
    text[44] = b"1,1,\x001,1,1"
    (tmp_path / "p.csv").write_bytes(b"\n".join(text))
    local = run(NEURON, "--input", str(tmp_path / "p.csv"))
    assert local.exit_code == 1 and "line 45" in local.stderr
    job = batch_dask.Job(NEURON, {}, "csv", 65536, False, None)
    with pytest.raises(Exception) as raised:
        batch_dask.run(job, str(tmp_path / "p.csv"), scheduler=None, workers=1, out=io.StringIO(),
                       partition_rows=4, client=InProcess())
    assert f"error: {raised.value.render()}" in local.stderr


@needs_dask
def test_rows_in_order_across_many_tiny_partitions(tmp_path):
    import io

    from gradcli.commands import batch_dask

    write_csv(tmp_path / "p.csv", np.random.default_rng(0).uniform(-1, 1, (97, 5)), bad={50}, blank={10, 11})
    local = run(NEURON, "--input", str(tmp_path / "p.csv"))
    for rows in (1, 2, 5, 1000):
        out, failed = io.StringIO(), []
        job = batch_dask.Job(NEURON, {}, "csv", 3, False, None)
        summary = batch_dask.run(job, str(tmp_path / "p.csv"), scheduler=None, workers=1, out=out,
                                 partition_rows=rows, client=InProcess(), on_failure=lambda row, src: failed.append(row))
        assert out.getvalue() == local.stdout
        assert "p.csv, line 54, column 2" in local.stderr and [row.line for row in failed] == [54] and summary.rows == 97 and summary.failed_count == 1


# -- the CLI's dask path on an in-process client (no cluster's start-up)

class _InProcessCluster:
    def __init__(self, address, workers):
        self.client, self.cluster = InProcess(), None

    def close(self):
        pass


@pytest.fixture
def in_process(monkeypatch):
    if not HAVE_DASK:
        pytest.skip("pip install 'gradcli[dask]' (dask, distributed, pyarrow)")
    from gradcli.commands import batch_dask

    monkeypatch.setattr(batch_dask, "Cluster", _InProcessCluster)


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_glob_of_files_gives_one_header_as_locally(in_process, tmp_path, monkeypatch, kind):
    """Several files, each cut in partitions: one header line at the top, to stdout and to a
    file, byte for byte the local run's."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    monkeypatch.chdir(tmp_path)
    data = np.random.default_rng(7).uniform(-1, 1, (30, 5))
    for name, rows in (("a", data[:12]), ("b", data[12:25]), ("c", data[25:])):
        if kind == "csv":
            write_csv(f"{name}.csv", rows)
        else:
            pq.write_table(pa.table({n: rows[:, j] for j, n in enumerate(NAMES)}), f"{name}.parquet",
                           row_group_size=4)
    local = run(NEURON, "--input", f"*.{kind}")
    assert local.exit_code == 0 and local.stdout.count("w0,x0") == 1 and len(local.stdout.splitlines()) == 31
    dask = run(NEURON, "--input", f"*.{kind}", "--engine", "dask", "--partition-rows", "5")
    assert dask.exit_code == 0 and dask.stdout == local.stdout
    run(NEURON, "--input", f"*.{kind}", "--output", "local.out")
    dask = run(NEURON, "--input", f"*.{kind}", "--engine", "dask", "--partition-rows", "5", "--output", "dask.out")
    assert dask.exit_code == 0 and open("dask.out").read() == open("local.out").read() == local.stdout


# -- --scheduler: an address that is not a Dask scheduler's

@needs_dask
@pytest.mark.parametrize("address, needle", [
    ("nonsense", "--scheduler nonsense: missing port number in address 'nonsense'"),
    ("http://localhost:8787", "--scheduler http://localhost:8787: unknown address scheme 'http'"),
    ("tcp://localhost:99999", "port 99999 is not between 1 and 65535"),
])
def test_a_malformed_scheduler_address_is_a_usage_error(tmp_path, address, needle):
    write_csv(tmp_path / "p.csv", np.ones((2, 5)))
    result = run(NEURON, "--input", str(tmp_path / "p.csv"), "--engine", "dask", "--scheduler", address)
    assert result.exit_code == 2 and needle in result.stderr and result.stdout == ""


@pytest.fixture
def server():
    """A TCP server on localhost that is not a Dask scheduler: `reply` is what it writes once a
    connection is accepted (None: nothing, it waits for a request, as an HTTP server does)."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    held = []

    def start(reply):
        def serve():
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                held.append(conn)
                if reply is not None:
                    conn.sendall(reply)

        threading.Thread(target=serve, daemon=True).start()
        return f"tcp://127.0.0.1:{listener.getsockname()[1]}"

    yield start
    listener.close()
    for conn in held:
        conn.close()


@needs_dask
@pytest.mark.parametrize("reply, needle", [
    (None, "accepted the connection but gave no answer in 1.5 s"),
    (b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n", "answered, but not as one"),
])
def test_a_server_that_is_not_a_scheduler_is_said_so_at_once(tmp_path, monkeypatch, server, reply, needle):
    """Not a hang (distributed's connect timeout ends when the connection is accepted), not
    "not enough memory" (distributed reads the HTTP reply as a frame length)."""
    import time

    from gradcli.commands import batch_dask

    monkeypatch.setattr(batch_dask, "CONNECT_TIMEOUT", 1.0)
    monkeypatch.setattr(batch_dask, "HANDSHAKE_TIMEOUT", 0.5)
    write_csv(tmp_path / "p.csv", np.ones((2, 5)))
    address = server(reply)
    began = time.monotonic()
    result = run(NEURON, "--input", str(tmp_path / "p.csv"), "--engine", "dask", "--scheduler", address)
    assert time.monotonic() - began < 10
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: {address} is not a Dask scheduler: it {needle}",
        "hint: give the scheduler's address, tcp://HOST:8786 (not its dashboard's http://…:8787)"]


# -- refused before a row is written, by both engines alike

def test_files_with_different_headers_are_refused_before_any_row(in_process, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.mkdir("bad")
    write_csv("bad/a.csv", np.ones((3, 5)))
    with open("bad/d.csv", "w") as out:
        out.write("w0,x0,w1,x1,z\n1,2,3,4,5\n")
    local = run(NEURON, "--input", "bad/*.csv")
    dask = run(NEURON, "--input", "bad/*.csv", "--engine", "dask")
    assert local.exit_code == dask.exit_code == 1
    assert local.stdout == dask.stdout == ""
    assert local.stderr == dask.stderr == ("error: bad/d.csv and bad/a.csv have different header rows\n"
                                           "hint: every file of one run names the same columns\n")


def test_a_column_that_is_not_numbers_is_refused_before_any_row(in_process, tmp_path, monkeypatch):
    import datetime

    import pyarrow as pa
    import pyarrow.parquet as pq

    monkeypatch.chdir(tmp_path)
    pq.write_table(pa.table({"x": [1.0, 2.0], "t": pa.array([datetime.datetime(2020, 1, 1)] * 2)}), "ts.parquet")
    local = run("x*2", "--input", "ts.parquet")
    dask = run("x*2", "--input", "ts.parquet", "--engine", "dask")
    assert local.exit_code == dask.exit_code == 1
    assert local.stdout == dask.stdout == ""
    assert local.stderr == dask.stderr == ("error: ts.parquet: column 2 (t) holds timestamp[us], not numbers\n"
                                           "hint: batch reads columns of numbers\n")


@pytest.mark.parametrize("engine, hint", [("local", "give --output FILE.parquet"),
                                          ("dask", "give --output FILE.parquet or a folder DIR/")])
def test_parquet_to_stdout_is_a_usage_error(tmp_path, engine, hint):
    if engine == "dask" and not HAVE_DASK:
        pytest.skip("pip install 'gradcli[dask]'")
    write_csv(tmp_path / "p.csv", np.ones((2, 5)))
    result = run(NEURON, "--input", str(tmp_path / "p.csv"), "--format", "parquet", "--engine", engine)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines() == ["error: --format parquet writes a file, not standard output", f"hint: {hint}"]


def test_a_failed_parquet_row_keeps_its_good_input_cells(in_process, tmp_path, monkeypatch):
    """A null cell or a text that is not a number fails its row: the row's other cells are
    written as read (CSV: the bad cell empty or as written; Parquet: null), its f and gradient
    empty, by both engines."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    monkeypatch.chdir(tmp_path)
    pq.write_table(pa.table({"x": [1.0, 4.0, 2.5], "n": pa.array([1, 4, 2]), "b": pa.array([True, None, False]),
                             "s": ["1", "3", 'a,"b']}), "p.parquet")
    expected = ['x,n,b,s,f,df/dx,df/dn,df/db,df/ds',
                '1.0,1.0,1.0,1.0,3.0,1.0,1.0,1.0,1.0',
                '4.0,4.0,,3.0,,,,,',
                '2.5,2.0,0.0,"a,""b",,,,,']
    for engine in ("local", "dask"):
        result = run("x*n + b + s", "--input", "p.parquet", "--engine", engine, "--partition-rows", "1")
        assert result.exit_code == 1 and result.stdout.splitlines() == expected, engine
        assert result.stderr.splitlines()[:2] == ["error: p.parquet, row 2, column 3 (b): the cell is empty",
                                                   """error: p.parquet, row 3, column 4 (s): 'a,"b' is not a number"""]
    run("x*n + b + s", "--input", "p.parquet", "--output", "out.parquet")
    run("x*n + b + s", "--input", "p.parquet", "--output", "parts/", "--engine", "dask", "--format", "parquet")
    for table in (pq.read_table("out.parquet"), pa.concat_tables(pq.read_table(p) for p in sorted(glob.glob("parts/*")))):
        table.validate(full=True)
        assert table.to_pylist()[1:] == [
            {"x": 4.0, "n": 4.0, "b": None, "s": 3.0, "f": None, "df/dx": None, "df/dn": None, "df/db": None, "df/ds": None},
            {"x": 2.5, "n": 2.0, "b": 0.0, "s": None, "f": None, "df/dx": None, "df/dn": None, "df/db": None, "df/ds": None}]
