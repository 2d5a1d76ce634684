"""Input and output at the command boundary (issue 11, kinds 1, 2, 5 and 7): every route a value or
a program comes in by, every place the output goes to.

- values at the edges of what JSON can hold (400- and 5,000-digit integers, 1e400, deep nesting);
- bytes that are not UTF-8 text, for every reader; absurd numbers given to options;
- reading bounded before it happens (/dev/zero, an endless stdin): each run is a real process with a
  timeout as a hang guard, and its peak memory (ru_maxrss from wait4) is measured;
- writing that fails (/dev/full, stdout closed) or stops early (a closed pipe), through real file
  descriptors;
- no run destroys the user's data: an output that is an input is refused, a failed write leaves the
  file that was there.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gradcli.base import outfile
from gradcli.render import graphviz

HANG_GUARD = 120  # seconds: only there so that a regression fails instead of hanging the suite
SMALL_MEMORY_KB = 150_000  # a run refused early stays near the interpreter's own ~40 MB


# -- running gradcli as a process --------------------------------------------------------------

class Done:
    def __init__(self, returncode: int, stdout: bytes, stderr: bytes, maxrss_kb: int) -> None:
        self.returncode = returncode
        self.stdout = stdout.decode("utf-8", "replace")
        self.stderr = stderr.decode("utf-8", "replace")
        self.maxrss_kb = maxrss_kb


# A child forked from this (large) test process counts the parent's pages in its peak RSS until it
# execs: gradcli runs under a small launcher that forks it and reports its peak from wait4.
MEASURED = ("import os, sys\n"
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    os.execv(sys.executable, [sys.executable, '-m', 'gradcli', *sys.argv[1:]])\n"
            "_, status, usage = os.wait4(pid, 0)\n"
            "os.write(2, b'\\nmaxrss_kb=%d\\n' % usage.ru_maxrss)\n"
            "sys.exit(os.waitstatus_to_exitcode(status))\n")


def start(args, *, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, cwd=None, close_stdout=False):
    def closing():
        os.close(1)

    return subprocess.Popen([sys.executable, "-c", MEASURED, *args], stdin=stdin,
                            stdout=None if close_stdout else stdout, stderr=subprocess.PIPE, cwd=cwd,
                            preexec_fn=closing if close_stdout else None, start_new_session=True)


def finish(proc) -> Done:
    """Wait for the process (within the hang guard) and take its peak memory."""
    import signal
    import threading

    out, err = [], []
    readers = [threading.Thread(target=lambda s=s, sink=sink: sink.append(s.read()))
               for s, sink in ((proc.stdout, out), (proc.stderr, err)) if s is not None]
    for reader in readers:
        reader.start()
    timer = threading.Timer(HANG_GUARD, lambda: os.killpg(proc.pid, signal.SIGKILL))
    timer.start()
    try:
        proc.wait()
    finally:
        timer.cancel()
    for reader in readers:
        reader.join()
    assert proc.returncode >= 0, f"killed (hang guard): {' '.join(map(str, proc.args[3:]))}"
    stderr, _, measured = err[0].rpartition(b"\nmaxrss_kb=")
    return Done(proc.returncode, out[0] if proc.stdout else b"", stderr, int(measured))


def gradcli(*args, stdin=subprocess.DEVNULL, cwd=None, close_stdout=False, stdout=subprocess.PIPE) -> Done:
    return finish(start(args, stdin=stdin, cwd=cwd, close_stdout=close_stdout, stdout=stdout))


def run_all(cases: dict) -> dict:
    """Start every case at once (they mostly wait on start-up), then collect them."""
    procs = {name: start(**case) for name, case in cases.items()}
    return {name: finish(proc) for name, proc in procs.items()}


def endless(*command: str):
    """An endless producer on a pipe, like `yes 1,2 |`."""
    return subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def assert_one_error(done: Done, *needles: str, code: int = 1) -> None:
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert done.stderr.startswith("error: "), done.stderr
    for needle in needles:
        assert needle in done.stderr, (needle, done.stderr)


# -- kind 1: values at the edges, bytes that are not text, absurd numbers ---------------------

def _plain(text: str) -> dict:
    return {name: json.loads(value.replace("Infinity", '"inf"')) for name, value in
            (line.split(" ", 1) for line in text.splitlines())}


@pytest.mark.parametrize("digits", [400, 5000])
def test_a_huge_json_integer_is_inf_with_the_warning_as_in_set(cli, tmp_path, digits):
    """1e999 given to --set is inf with a warning; the same magnitude in JSON, by any route, is too."""
    huge = "9" * digits
    (tmp_path / "v.json").write_text(f'{{"x": {huge}}}')
    (tmp_path / "x.json").write_text(f"[{huge}, 1e400, -1]")
    reference = cli("eval", "x", "x=1e999", "-f", "plain")
    assert reference.exit_code == 0 and "inf" in reference.stderr
    for args, stdin in ((["--values", str(tmp_path / "v.json")], None),
                        (["--values", "-"], f'{{"x": {huge}}}'),
                        ([f"x=@{tmp_path / 'v.json'}".replace("v.json", "x.json")], None),
                        (["x=@-"], huge)):
        result = cli_input(cli, "eval", "sum(x)" if "x.json" in args[0] else "x", *args, "-f", "plain",
                           stdin=stdin)
        assert result.exit_code == 0, (args, result.stderr)
        assert "warning:" in result.stderr and "inf" in result.stderr
        values = _plain(result.stdout)
        if "x.json" in args[0]:  # [inf, inf, -1]
            assert values["f"] == "inf" and values["x"] == [1.0, 1.0, 1.0]
        else:
            assert result.stdout == reference.stdout and result.stderr == reference.stderr


def cli_input(cli, *args, stdin=None):
    if stdin is None:
        return cli(*args)
    from typer.testing import CliRunner

    from conftest import _check_no_traceback
    from gradcli.commands.cli import app

    result = CliRunner().invoke(app, list(args), input=stdin)
    _check_no_traceback(result)
    return result


def test_a_json_integer_is_rounded_as_python_rounds_it(cli_json, tmp_path):
    # 2**53 + 1 is not a float64: it rounds to even, 2**53, whether written in JSON or in --set
    (tmp_path / "v.json").write_text('{"x": 9007199254740993, "y": -0}')
    doc = cli_json("eval", "x + y", "--values", str(tmp_path / "v.json"))
    assert doc["gradients"] == {"x": 1, "y": 1}
    assert doc["value"] == float(2**53)


@pytest.mark.parametrize("depth, message", [(100_000, "nested too deeply"), (33, "more than 32 deep"),
                                            (100, "more than 32 deep")])
def test_deep_nesting_is_one_message_by_every_route(cli, tmp_path, depth, message):
    nested = "[" * depth + "1" + "]" * depth
    (tmp_path / "d.json").write_text(nested)
    (tmp_path / "v.json").write_text(f'{{"x": {nested}}}')
    for args, stdin in (([f"x=@{tmp_path / 'd.json'}"], None), (["x=@-"], nested),
                        (["--values", str(tmp_path / "v.json")], None)):
        result = cli_input(cli, "eval", "sum(x)", *args, stdin=stdin)
        assert result.exit_code == 1, args
        assert message in result.stderr and result.stderr.count("\n") <= 2, result.stderr
    if depth < 1000:  # as value text on the command line
        result = cli("eval", "sum(x)", f"x={nested}")
        assert result.exit_code == 1 and "more than 32 deep" in result.stderr


def test_32_dimensions_are_still_an_array(cli_json):
    nested = "[" * 32 + "2" + "]" * 32
    doc = cli_json("eval", "sum(x*x)", f"x={nested}")
    assert doc["value"] == 4


@pytest.mark.parametrize("text, element", [("[true, 1.5]", "element [0] is true"),
                                           ("[1, [2, false]]", "element [1][1] is false"),
                                           ("true", "the value is true")])
def test_json_booleans_are_not_numbers(cli, text, element):
    """NumPy would read [true, 1.5] as [1.0, 1.5]: a silently wrong number."""
    result = cli_input(cli, "eval", "sum(x)", "x=@-", stdin=text)
    assert result.exit_code == 1 and element in result.stderr, result.stderr


def _latin1(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"x,y\n1,2\ncaf\xe9,3\n")
    return path


def test_batch_input_that_is_not_utf8_is_one_message_with_its_line(cli, tmp_path):
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes("x,y\n1,2\n".encode("utf-16"))  # with its byte-order mark
    noise = tmp_path / "noise.bin"
    noise.write_bytes(b"x,y\n" + bytes(random.Random(11).randrange(128, 256) for _ in range(3000)))
    cases = [(str(_latin1(tmp_path)), "line 3, column 4", "save it as UTF-8"),
             (str(utf16), "line 1, column 1", "iconv -f UTF-16 -t UTF-8"),
             (str(noise), "line 2, column 1", "save it as UTF-8")]
    for path, where, hint in cases:
        result = cli("batch", "x*y", "--input", path)
        assert result.exit_code == 1, result.stderr
        lines = result.stderr.splitlines()
        assert lines[0] == f"error: {path} is not UTF-8 text ({where})", lines
        assert hint in lines[1]
    # the same bytes on stdin
    result = cli_input(cli, "batch", "x*y", "--input", "-", stdin=_latin1(tmp_path).read_bytes())
    assert result.exit_code == 1 and "error: stdin is not UTF-8 text (line 3, column 4)" in result.stderr


def test_a_nul_byte_is_not_text_for_batch_and_value_files(cli, tmp_path):
    (tmp_path / "nul.csv").write_bytes(b"x\n1\n2\x003\n")
    result = cli("batch", "x", "--input", str(tmp_path / "nul.csv"))
    assert result.exit_code == 1 and "it holds a NUL byte (line 3, column 2)" in result.stderr
    (tmp_path / "nul.json").write_bytes(b"[1,\x00 2]")
    result = cli("eval", "sum(x)", f"x=@{tmp_path / 'nul.json'}")
    assert result.exit_code == 1 and "it holds a NUL byte (line 1, column 4)" in result.stderr


def test_value_files_and_programs_that_are_not_utf8(cli, tmp_path):
    (tmp_path / "v.json").write_bytes(b'{"x": 1, "caf\xe9": 2}')
    result = cli("eval", "x", "--values", str(tmp_path / "v.json"))
    assert result.exit_code == 1 and "--values" in result.stderr and "is not UTF-8 text (line 1, column 14)" in result.stderr
    (tmp_path / "p.grad").write_bytes(b"x +\n y\xff")
    result = cli("eval", "--file", str(tmp_path / "p.grad"), "x=1", "y=2")
    assert result.exit_code == 1 and "is not UTF-8 text (line 2, column 3)" in result.stderr
    result = cli_input(cli, "eval", "-", "x=1", stdin=b"\xff\xfex\x00")
    assert result.exit_code == 1 and "standard input is not UTF-8 text (line 1, column 1)" in result.stderr
    assert "UTF-16" in result.stderr


@pytest.mark.parametrize("args, code, needle", [
    (["batch", "x", "--input", "-", "--chunk-size", "99999999999999999999"], 2, "--chunk-size"),
    (["batch", "x", "--input", "-", "--chunk-size", "16777217"], 2, "--chunk-size"),
    (["eval", "x", "x=1", "--digits", "99999999999999999999"], 2, "--digits"),
    (["eval", "x", "x=1", "--max-memory", "9" * 400], 2, "more than 1 EiB"),
    (["eval", "x", "x=1", "--max-memory", "99999999999999999999TB"], 2, "more than 1 EiB"),
    (["check", "x", "x=1", "--h", "1e999"], 2, "--h"),
])
def test_absurd_numbers_for_options_are_a_clear_error(cli, args, code, needle):
    result = cli_input(cli, *args, stdin="x\n1\n")
    assert result.exit_code == code, result.stderr
    assert needle in result.stderr


def test_the_largest_chunk_size_is_taken(cli):
    result = cli_input(cli, "batch", "2*x", "--input", "-", "--chunk-size", "16777216", stdin="x\n1\n")
    assert result.exit_code == 0 and result.stdout == "x,f,df/dx\n1,2.0,2.0\n"


# -- kind 1: writing fails --------------------------------------------------------------------

FORMATS = [["-f", fmt] for fmt in ("table", "json", "csv", "plain", "dot", "tree")] + \
          [["--steps"], ["--steps", "-f", "json"]]
EVERY_COMMAND = [["eval", "x*y", "x=2", "y=3", *fmt] for fmt in FORMATS] + [
    ["check", "x**3", "x=2"], ["check", "x**3", "x=2", "-f", "json"],
    ["batch", "x*y", "--input", "POINTS"], ["batch", "x*y", "--input", "POINTS", "-f", "ndjson"],
    ["--version"], ["--help"]]


def _points(tmp_path) -> str:
    path = tmp_path / "points.csv"
    path.write_text("x,y\n1,2\n3,4\n")
    return str(path)


def test_a_full_disk_is_one_message_and_exit_1_for_every_command_and_format(tmp_path):
    points = _points(tmp_path)
    with open("/dev/full", "wb") as full:
        done = run_all({i: {"args": [a.replace("POINTS", points) for a in args], "stdout": full}
                        for i, args in enumerate(EVERY_COMMAND)})
    for i, args in enumerate(EVERY_COMMAND):
        result = done[i]
        assert result.returncode == 1, (args, result.stderr)
        assert result.stderr.endswith("error: cannot write standard output: No space left on device\n"), \
            (args, result.stderr)
        assert "Traceback" not in result.stderr and "internal" not in result.stderr


def test_a_closed_stdout_is_one_message_and_exit_1_for_every_command(tmp_path):
    points = _points(tmp_path)
    done = run_all({i: {"args": [a.replace("POINTS", points) for a in args], "close_stdout": True,
                        "cwd": tmp_path}
                    for i, args in enumerate(EVERY_COMMAND)})
    for i, args in enumerate(EVERY_COMMAND):
        result = done[i]
        assert result.returncode == 1, (args, result.stderr)
        assert result.stderr.endswith("error: cannot write standard output: Bad file descriptor\n"), \
            (args, result.stderr)
    # batch used to write its rows to a file named "-" when stdout was closed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["points.csv"]


def test_output_files_that_cannot_be_written(tmp_path):
    points = _points(tmp_path)
    (tmp_path / "full.dot").symlink_to("/dev/full")
    (tmp_path / "full.csv").symlink_to("/dev/full")
    done = run_all({
        "batch": {"args": ["batch", "x*y", "--input", points, "--output", "/dev/full"]},
        "batch-link": {"args": ["batch", "x*y", "--input", points, "-o", str(tmp_path / "full.csv")]},
        "dot": {"args": ["eval", "x", "x=1", "--output", str(tmp_path / "full.dot")]},
        "folder": {"args": ["batch", "x*y", "--input", points, "-o", str(tmp_path / "no" / "out.csv")]},
    })
    assert_one_error(done["batch"], "cannot write /dev/full: No space left on device")
    assert_one_error(done["batch-link"], "full.csv: No space left on device")
    assert_one_error(done["dot"], "full.dot: No space left on device")
    assert_one_error(done["folder"], "out.csv: No such file or directory")


def _big(fmt: list[str]) -> list[str]:
    """A run whose output is far larger than a pipe's buffer (64 KiB), in this format."""
    program = " + ".join(f"x*{i}" for i in range(1, 300 if "tree" in fmt else 1500))
    if fmt[:2] == ["-f", "plain"] or fmt[:2] == ["-f", "json"]:
        return ["eval", "x*2", "x=[" + ",".join(["1.5"] * 30000) + "]", *fmt]
    return ["eval", program, "x=1.5", "--all", *fmt]


def test_a_closed_pipe_ends_quietly_with_exit_0(tmp_path):
    """`gradcli … | head -1`: the reader stops early; that is no error of the input."""
    points = tmp_path / "many.csv"
    points.write_text("x,y\n" + "".join(f"{i},{i % 5}\n" for i in range(20000)))
    runs = [_big(fmt) for fmt in FORMATS] + [
        ["check", "sum(x*x)", "x=[" + ",".join(["0.5"] * 2000) + "]"],
        ["batch", "x*y", "--input", str(points)], ["--help"]]
    procs = [start(args) for args in runs]
    results = []
    for proc in procs:
        proc.stdout.readline()
        proc.stdout.close()  # as head does after its line
        proc.stdout = None
        results.append(finish(proc))
    for args, result in zip(runs, results):
        assert result.returncode == 0, (args[:2], args[-2:], result.stderr)
        assert "error" not in result.stderr and "Exception" not in result.stderr, result.stderr


# -- kind 2: reading is bounded before it happens ---------------------------------------------

def test_endless_and_huge_inputs_are_refused_early_with_little_memory(tmp_path):
    (tmp_path / "zero.json").symlink_to("/dev/zero")
    (tmp_path / "random.csv").symlink_to("/dev/urandom")
    (tmp_path / "zero.npy").symlink_to("/dev/zero")
    producers = {name: endless(*command) for name, command in {
        "yes-csv": ["yes", "1,2"], "yes-program": ["yes", "x +"], "yes-json": ["yes", "1"],
        "yes-batch": ["yes", "1"], "one-line": ["sh", "-c", "printf 'x\\n'; yes 1, | tr -d '\\n'"]}.items()}
    try:
        done = run_all({
            "values": {"args": ["eval", "x", "--values", "/dev/zero"]},
            "batch": {"args": ["batch", "x", "--input", "/dev/zero"]},
            "file": {"args": ["eval", "--file", "/dev/zero"]},
            "at-zero": {"args": ["eval", "sum(x)", "x=@/dev/zero"]},
            "at-zero-json": {"args": ["eval", "sum(x)", f"x=@{tmp_path / 'zero.json'}"]},
            "at-zero-npy": {"args": ["eval", "sum(x)", f"x=@{tmp_path / 'zero.npy'}"]},
            "at-random": {"args": ["eval", "sum(x)", f"x=@{tmp_path / 'random.csv'}"]},
            "yes-csv": {"args": ["eval", "sum(x)", "x=@-", "--max-memory", "10MB"],
                        "stdin": producers["yes-csv"].stdout},
            "yes-program": {"args": ["eval", "-"], "stdin": producers["yes-program"].stdout},
            "yes-json": {"args": ["eval", "x", "--values", "-", "--max-memory", "5MB"],
                         "stdin": producers["yes-json"].stdout},
            "yes-batch": {"args": ["batch", "x", "--input", "-", "--chunk-size", "16777216"],
                          "stdin": producers["yes-batch"].stdout, "stdout": subprocess.DEVNULL},
            "one-line": {"args": ["batch", "x", "--input", "-"], "stdin": producers["one-line"].stdout},
        })
    finally:
        for producer in producers.values():
            producer.kill()
            producer.wait()
    assert_one_error(done["values"], "--values /dev/zero is not text: it holds a NUL byte")
    assert_one_error(done["batch"], "/dev/zero is not text: it holds a NUL byte (line 1, column 1)")
    assert_one_error(done["file"], "--file /dev/zero: the program is longer than the limit of 2,000,000 characters")
    assert_one_error(done["at-zero"], "cannot tell the format")
    assert_one_error(done["at-zero-json"], "is not text: it holds a NUL byte")
    assert_one_error(done["at-zero-npy"], "is not a .npy array")
    # /dev/urandom's bytes differ every run: a newline may come before the first invalid byte
    assert_one_error(done["at-random"], "is not UTF-8 text (line ")
    assert_one_error(done["yes-csv"], "x=@-: larger than the memory limit of 10MB (--max-memory)")
    assert_one_error(done["yes-program"], "standard input: the program is longer than the limit of 2,000,000")
    assert_one_error(done["yes-json"], "--values -: larger than the memory limit of 5MB (--max-memory)")
    assert_one_error(done["yes-batch"], "stdin: the first line holds only numbers")
    assert_one_error(done["one-line"], "stdin, line 2: longer than 8,388,608 characters")
    for name, result in done.items():
        assert result.maxrss_kb < SMALL_MEMORY_KB, (name, result.maxrss_kb)


def test_a_value_file_larger_than_max_memory_is_refused_before_reading(cli, tmp_path):
    big = tmp_path / "big.json"
    big.write_text("[" + ",".join(["1.5"] * 400_000) + "]")  # 1.6 MB
    size = big.stat().st_size
    result = cli("eval", "sum(x)", f"x=@{big}", "--max-memory", "1MB")
    assert result.exit_code == 1
    assert f"x=@{big}: larger than the memory limit of 1MB (--max-memory) (it is {size:,} bytes)" in result.stderr
    assert "hint: give a smaller file, or raise --max-memory" in result.stderr
    result = cli("eval", "x[0]" if False else "sum(x)", "--values", str(tmp_path / "v.json"))  # missing file
    assert result.exit_code == 1 and "no such file" in result.stderr
    assert cli("eval", "sum(x)", f"x=@{big}", "--max-memory", "0", "-f", "plain").exit_code == 0
    assert cli("eval", "sum(x)", f"x=@{big}", "--max-memory", "50MB", "-f", "plain").stdout.startswith("f 600000.0")


def _npy_header(shape, descr="<f8") -> bytes:
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header


def test_npy_files_are_sized_from_their_header_before_their_data_is_read(cli, tmp_path):
    liar = tmp_path / "liar.npy"
    liar.write_bytes(_npy_header((10**12,)) + b"\x00" * 64)  # claims 8 TB
    result = cli("eval", "sum(x)", f"x=@{liar}")
    assert result.exit_code == 1 and "shape (1000000000000,)" in result.stderr and "over" in result.stderr
    short = tmp_path / "short.npy"
    short.write_bytes(_npy_header((4,)) + np.array([1.0, 2.0]).tobytes())
    result = cli("eval", "sum(x)", f"x=@{short}")
    assert result.exit_code == 1 and "cut short" in result.stderr
    objects = tmp_path / "objects.npy"
    objects.write_bytes(_npy_header((2,), "|O"))
    result = cli("eval", "sum(x)", f"x=@{objects}")
    assert result.exit_code == 1 and "not real numbers" in result.stderr
    # and a good one, in both orders and a narrower dtype
    good = tmp_path / "good.npy"
    np.save(good, np.asfortranarray(np.arange(6, dtype=np.int16).reshape(2, 3)))
    doc = json.loads(cli("eval", "sum(x*x)", f"x=@{good}", "-f", "json").stdout)
    assert doc["value"] == 55 and doc["gradients"]["x"] == [[0, 2, 4], [6, 8, 10]]


# -- kind 5: stdin's byte-order mark, a path that looks like an option -------------------------

def test_a_byte_order_mark_on_stdin_is_dropped_for_batch_as_for_a_file(cli, tmp_path):
    data = b"\xef\xbb\xbfx,y\r\n1,2\r\n3,4\r\n"
    (tmp_path / "bom.csv").write_bytes(data)
    from_file = cli("batch", "x*y", "--input", str(tmp_path / "bom.csv"))
    from_stdin = cli_input(cli, "batch", "x*y", "--input", "-", stdin=data)
    assert from_file.exit_code == from_stdin.exit_code == 0, from_stdin.stderr
    assert from_file.stdout == from_stdin.stdout == "x,y,f,df/dx,df/dy\n1,2,2.0,2.0,1.0\n3,4,12.0,4.0,3.0\n"
    old_mac = cli_input(cli, "batch", "x*y", "--input", "-", stdin=b"x,y\r1,2\r3,4")  # lines end in \r alone
    assert old_mac.stdout == from_file.stdout
    # and for every other reader of stdin
    bom = b"\xef\xbb\xbf"
    for args, stdin in ((["x*y", "x=@-", "y=2"], bom + b"1.5"), (["x*y", "--values", "-"], bom + b'{"x": 1.5, "y": 2}'),
                        (["-", "x=1.5", "y=2"], bom + b"x*y")):
        result = cli_input(cli, "eval", *args, "-f", "plain", stdin=stdin)
        assert result.exit_code == 0 and _plain(result.stdout)["f"] == 3.0, (args, result.stderr)


def test_an_output_path_starting_with_a_dash_is_a_path(tmp_path, monkeypatch):
    """dot is never given the path: `-Tsvg.svg` would be read as an option."""
    calls = []

    def fake_run(command, **options):
        calls.append(command)
        return subprocess.CompletedProcess(command, 0, b"<svg>drawn</svg>", b"")

    monkeypatch.setattr(graphviz.shutil, "which", lambda name: "/usr/bin/dot")
    monkeypatch.setattr(graphviz.subprocess, "run", fake_run)
    monkeypatch.chdir(tmp_path)
    graphviz.write("digraph {}", Path("-Tsvg.svg"))
    assert calls == [["/usr/bin/dot", "-Tsvg"]]
    assert (tmp_path / "-Tsvg.svg").read_bytes() == b"<svg>drawn</svg>"


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed here (CI installs it)")
def test_dash_paths_with_the_real_dot(tmp_path):
    done = run_all({suffix: {"args": ["eval", "x*y", "x=2", "y=3", "--output", f"-Tsvg.{suffix}"], "cwd": tmp_path}
                    for suffix in ("svg", "png", "dot")})
    for suffix, result in done.items():
        assert result.returncode == 0, result.stderr
    assert b"<svg" in (tmp_path / "-Tsvg.svg").read_bytes()
    assert (tmp_path / "-Tsvg.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "-Tsvg.dot").read_text().startswith("digraph")


# -- kind 7: no run destroys the user's data --------------------------------------------------

def test_batch_refuses_to_write_over_its_own_input_however_it_is_named(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    original = "x,y\n1,2\n3,4\n"
    Path("in.csv").write_text(original)
    Path("link.csv").symlink_to("in.csv")
    os.link("in.csv", "hard.csv")
    (tmp_path / "sub").mkdir()
    for output in ("in.csv", "./in.csv", "sub/../in.csv", str(tmp_path / "in.csv"), "link.csv", "hard.csv"):
        result = cli("batch", "x*y", "--input", "in.csv", "--output", output)
        assert result.exit_code == 1, output
        assert f"--output {output} is the same file as --input in.csv" in result.stderr
        assert Path("in.csv").read_text() == original
    Path("w.json").write_text('{"w": 2}')
    result = cli("batch", "x*w", "--input", "in.csv", "--values", "w.json", "--output", "w.json")
    assert result.exit_code == 1 and "same file as --values w.json" in result.stderr
    assert Path("w.json").read_text() == '{"w": 2}'


def test_batch_refuses_its_input_as_stdin_or_stdout_through_real_descriptors(tmp_path):
    original = "x,y\n1,2\n3,4\n"
    source = tmp_path / "in.csv"
    source.write_text(original)
    with open(source, "rb") as stdin:
        from_stdin = gradcli("batch", "x*y", "--input", "-", "--output", str(source), stdin=stdin)
    with open(source, "ab") as append:  # `>> in.csv` would read its own output forever
        to_stdout = gradcli("batch", "x*y", "--input", str(source), stdout=append)
    assert_one_error(from_stdin, f"--output {source} is the same file as --input -")
    assert_one_error(to_stdout, f"standard output is the same file as --input {source}")
    assert source.read_text() == original


def test_eval_refuses_an_output_that_is_its_program_or_values(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("p.dot").write_text("x * y")
    Path("v.dot").write_text('{"x": 1, "y": 2}')
    for args, named in ((["--file", "p.dot", "x=1", "y=2", "-o", "./p.dot"], "--file p.dot"),
                        (["x*y", "--values", "v.dot", "-o", "v.dot"], "--values v.dot")):
        result = cli("eval", *args)
        assert result.exit_code == 1 and f"is the same file as {named}" in result.stderr, result.stderr
    assert Path("p.dot").read_text() == "x * y" and Path("v.dot").read_text() == '{"x": 1, "y": 2}'
    # without Graphviz, p.svg's DOT text would go to p.dot: refused too
    monkeypatch.setattr(graphviz.shutil, "which", lambda name: None)
    result = cli("eval", "--file", "p.dot", "x=1", "y=2", "-o", "p.svg")
    assert result.exit_code == 1 and "p.dot (the DOT text for --output p.svg) is the same file as --file p.dot" \
        in result.stderr
    assert Path("p.dot").read_text() == "x * y" and not Path("p.svg").exists()


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".gradcli-")]


def test_a_batch_that_fails_halfway_leaves_the_old_output(cli, tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("the good output of yesterday\n")
    os.chmod(out, 0o640)
    rows = "".join(f"{i},1\n" for i in range(300_000))
    (tmp_path / "bad.csv").write_bytes(b"x,y\n" + rows.encode() + b"caf\xe9,1\n")
    result = cli("batch", "x*y", "--input", str(tmp_path / "bad.csv"), "--output", str(out), "--chunk-size", "1000")
    assert result.exit_code == 1 and "not UTF-8 text (line 300002, column 4)" in result.stderr
    assert out.read_text() == "the good output of yesterday\n"
    assert _leftovers(tmp_path) == []
    # a run that completes replaces it, keeping its permissions (and rows that fail are still rows)
    (tmp_path / "good.csv").write_text("x,y\n1,2\n3,abc\n")
    result = cli("batch", "x*y", "--input", str(tmp_path / "good.csv"), "--output", str(out))
    assert result.exit_code == 1 and out.read_text() == "x,y,f,df/dx,df/dy\n1,2,2.0,2.0,1.0\n3,abc,,,\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert _leftovers(tmp_path) == []


def test_an_output_through_a_symlink_writes_the_file_it_names(cli, tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    (tmp_path / "link.csv").symlink_to(real)
    (tmp_path / "in.csv").write_text("x\n2\n")
    result = cli("batch", "x*x", "--input", str(tmp_path / "in.csv"), "--output", str(tmp_path / "link.csv"))
    assert result.exit_code == 0
    assert (tmp_path / "link.csv").is_symlink() and real.read_text() == "x,f,df/dx\n2,4.0,4.0\n"


def test_a_failed_write_or_drawing_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "c.svg"
    target.write_text("<svg>the old drawing</svg>")
    monkeypatch.setattr(graphviz.shutil, "which", lambda name: "/usr/bin/dot")
    monkeypatch.setattr(graphviz.subprocess, "run", lambda command, **options: subprocess.CompletedProcess(
        command, 1, b"<svg>half", b"Error: syntax error in line 1"))
    with pytest.raises(Exception, match="dot exited with code 1"):
        graphviz.write("digraph {", target)
    assert target.read_text() == "<svg>the old drawing</svg>"

    class Full:
        def __init__(self, real):
            self.real = real

        def write(self, data):
            self.real.write(data[: len(data) // 2])
            raise OSError(28, "No space left on device")

        def close(self):
            self.real.close()

    out = outfile.AtomicFile(str(target))
    out.handle = Full(out.handle)
    with pytest.raises(Exception, match=f"cannot write {target}: No space left on device"):
        out.write("<svg>the new drawing</svg>")
    assert target.read_text() == "<svg>the old drawing</svg>"
    assert _leftovers(tmp_path) == []


def test_a_new_output_file_gets_the_usual_permissions(tmp_path):
    mask = os.umask(0o027)
    try:
        outfile.write_whole(str(tmp_path / "new.dot"), "digraph {}\n")
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "new.dot").stat().st_mode) == 0o640


def test_devices_are_written_directly(tmp_path):
    outfile.write_whole("/dev/null", "nothing\n")  # no temporary file beside /dev/null
    assert not [p for p in os.listdir("/dev") if p.startswith(".gradcli-")]
