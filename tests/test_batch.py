"""`gradcli batch`: one row, one point; per-row f and gradients, chunked, failures by line number."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from typer.testing import CliRunner

import gradcli
from gradcli.commands import batch
from gradcli.commands.cli import app

from conftest import _check_no_traceback

NEURON = "sigmoid(w0*x0 + w1*x1 + w2)"


def run(*args, stdin=None):
    result = CliRunner().invoke(app, ["batch", *args], input=stdin)
    _check_no_traceback(result)
    return result


def table(text: str) -> tuple[list[str], np.ndarray]:
    lines = text.strip("\n").splitlines()
    header = lines[0].split(",")
    rows = [[float(c) if c else np.nan for c in line.split(",")] for line in lines[1:]]
    return header, np.array(rows).reshape(len(rows), len(header))


def neuron_by_hand(w0, x0, w1, x1, w2):
    s = 1.0 / (1.0 + np.exp(-(w0 * x0 + w1 * x1 + w2)))
    ds = s * (1.0 - s)
    return s, {"w0": ds * x0, "x0": ds * w0, "w1": ds * x1, "x1": ds * w1, "w2": ds}


@pytest.fixture
def points(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(3)
    data = rng.uniform(-2, 2, size=(57, 5))
    data[0] = [2, -1, -3, -2, -3]  # the lecture's neuron
    with open("points.csv", "w") as out:
        out.write("w0,x0,w1,x1,w2\n")
        for row in data:
            out.write(",".join(repr(float(v)) for v in row) + "\n")
    return data


def test_the_lectures_neuron_row_by_hand(points):
    result = run(NEURON, "--input", "points.csv")
    assert result.exit_code == 0, result.stderr
    header, values = table(result.stdout)
    assert header == ["w0", "x0", "w1", "x1", "w2", "f", "df/dw0", "df/dx0", "df/dw1", "df/dx1", "df/dw2"]
    np.testing.assert_allclose(values[0, 5:], [0.731059, -0.196612, 0.393224, -0.393224, -0.589836, 0.196612],
                               atol=5e-7)


@pytest.mark.parametrize("chunk", ["1", "7", "65536"])
def test_every_row_is_its_own_point(points, chunk):
    result = run(NEURON, "--input", "points.csv", "--chunk-size", chunk)
    assert result.exit_code == 0, result.stderr
    _, values = table(result.stdout)
    assert values.shape == (57, 11)
    np.testing.assert_array_equal(values[:, :5], points)  # inputs echoed as written, in order
    f, grads = neuron_by_hand(*points.T)
    np.testing.assert_allclose(values[:, 5], f, rtol=1e-12)
    for j, name in enumerate(("w0", "x0", "w1", "x1", "w2")):
        np.testing.assert_allclose(values[:, 6 + j], grads[name], rtol=1e-10, atol=1e-15)


def test_per_row_gradients_match_finite_differences_of_each_row(points):
    result = run(NEURON, "--input", "points.csv")
    _, values = table(result.stdout)
    graph = gradcli.parse(NEURON)
    h = 1e-6
    for i in (0, 13, 56):
        point = dict(zip(("w0", "x0", "w1", "x1", "w2"), points[i]))
        for j, name in enumerate(point):
            plus, minus = dict(point), dict(point)
            plus[name] += h
            minus[name] -= h
            numeric = (graph.evaluate(plus).value - graph.evaluate(minus).value) / (2 * h)
            assert values[i, 6 + j] == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_set_constants_get_no_gradient_column(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "xs.csv").write_text("x\n1\n2\n-3\n")
    result = run("w * x**2", "--input", "xs.csv", "--set", "w=0.5")
    assert result.exit_code == 0, result.stderr
    # f = w x², df/dx = 2 w x = x per row: not summed over rows, and no df/dw column
    assert result.stdout == "x,f,df/dx\n1,0.5,1.0\n2,2.0,2.0\n-3,4.5,-3.0\n"


def test_ndjson_and_stdin_stdout(tmp_path):
    result = run("x * y", "--input", "-", "--output", "-", "--format", "ndjson", stdin="x,y\n2,3\n-1,0.5\n")
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows == [{"x": 2.0, "y": 3.0, "f": 6.0, "df/dx": 3.0, "df/dy": 2.0},
                    {"x": -1.0, "y": 0.5, "f": -0.5, "df/dx": 0.5, "df/dy": -1.0}]


def test_output_file(points):
    result = run(NEURON, "--input", "points.csv", "--output", "grads.csv")
    assert result.exit_code == 0 and result.stdout == ""
    with open("grads.csv") as handle:
        assert len(handle.read().splitlines()) == 58


BAD = "x,y\n1,2\n3,abc\n\n4\n5,6\n-1,1\n"


def test_failed_rows_are_empty_reported_and_exit_1():
    result = run("log(x)*y", "--input", "-", stdin=BAD)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "x,y,f,df/dx,df/dy",
        "1,2,0.0,2.0,0.0",
        "3,abc,,,",            # the input as written, empty results
        ",,,,",                # a ragged row: every cell empty
        "5,6,9.656627474604601,1.2000000000000002,1.6094379124341003",
        "-1,1,nan,-1.0,nan",   # log(-1): nan, not a failure without --strict
    ]
    # log(5)*6, 6/5, log(5)
    assert float(result.stdout.splitlines()[4].split(",")[2]) == pytest.approx(6 * np.log(5), rel=1e-15)
    assert "error: stdin, line 3, column 2 (y): 'abc' is not a number" in result.stderr
    assert "error: stdin, line 5: 1 cell, but the first row has 2" in result.stderr
    assert "1 row has nan or inf" in result.stderr
    assert "2 of 5 rows failed" in result.stderr


def test_strict_fails_non_finite_rows():
    result = run("log(x)*y", "--input", "-", "--strict", "--format", "ndjson", stdin=BAD)
    assert result.exit_code == 1
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 5
    assert rows[4]["line"] == 7 and rows[4]["f"] is None and "--strict" in rows[4]["error"]
    assert "line 7" in result.stderr and "3 of 5 rows failed" in result.stderr


def test_fail_fast_stops_at_the_first():
    result = run("log(x)*y", "--input", "-", "--fail-fast", stdin=BAD)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == ["x,y,f,df/dx,df/dy", "1,2,0.0,2.0,0.0"]
    assert "line 3" in result.stderr and "line 5" not in result.stderr
    assert "--fail-fast" in result.stderr


def test_ndjson_writes_non_finite_as_strings():
    result = run("log(x)", "--input", "-", "--format", "ndjson", stdin="x\n-1\n0\n")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows == [{"x": -1.0, "f": "NaN", "df/dx": -1.0}, {"x": 0.0, "f": "-Infinity", "df/dx": "Infinity"}]


@pytest.mark.parametrize("args, stdin, needles", [
    (["x"], "1,2\n", ["only numbers", "header row"]),
    (["x"], "", ["input is empty"]),
    (["x"], "x,x\n1,2\n", ["column 'x' twice"]),
    (["x"], "x,\n1,2\n", ["header cell 2 is empty"]),
    (["x"], "x,f\n1,2\n", ["a column is named 'f'", "rename"]),
    (["x * w"], "x\n1\n", ["no value for variable w", "add a column 'w'", "--set w="]),
    (["x * y", "--set", "y=1"], "x,y\n1,2\n", ["y is both a column"]),
    (["x * w", "--set", "w=[1,2]"], "x\n1\n", ["--set w", "not an array of shape (2,)"]),
    (["sum(x) * w", "--set", "w=2"], "x\n1\n", ["gate 'sum(x)'", "each row on its own"]),
    (["x @ y"], "x,y\n1\n", ["gate 'x @ y' (@)"]),
    (["x * w", "--set", "w=@-"], "x\n1\n", ["both read stdin"]),
    (["x +"], "x\n1\n", ["unexpected end of input"]),
])
def test_bad_set_up_is_one_message_exit_1(args, stdin, needles):
    result = run(args[0], "--input", "-", *args[1:], stdin=stdin)
    assert result.exit_code == 1
    assert result.stdout == ""
    for needle in needles:
        assert needle in result.stderr, result.stderr


def test_missing_input_file_and_no_output_file_on_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("x", "--input", "nope.csv", "--output", "out.csv")
    assert result.exit_code == 1 and "no such file" in result.stderr
    (tmp_path / "in.csv").write_text("1,2\n")
    result = run("x", "--input", "in.csv", "--output", "out.csv")
    assert result.exit_code == 1
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("args", [["--chunk-size", "0"], ["--format", "xml"], []])
def test_bad_options_are_usage_errors(args):
    result = run("x", *(["--input", "-"] if args else []), *args, stdin="x\n1\n")
    assert result.exit_code == 2


def test_any_header_text_is_copied_through():
    result = run("2 * x", "--input", "-", "--format", "ndjson", stdin="point id,x,100%\n7,1.5,3\n")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"point id": 7.0, "x": 1.5, "100%": 3.0, "f": 3.0, "df/dx": 2.0}
    assert "'point id'" in result.stderr and "'100%'" in result.stderr


def test_unused_column_is_copied_with_a_warning():
    result = run("2 * x", "--input", "-", stdin="id,x\n7,1.5\n")
    assert result.exit_code == 0
    assert result.stdout == "id,x,f,df/dx\n7,1.5,3.0,2.0\n"
    assert "column 'id'" in result.stderr and "not used" in result.stderr


def test_kink_warned_once():
    result = run("relu(x)", "--input", "-", "--chunk-size", "1", stdin="x\n0\n0\n1\n")
    assert result.exit_code == 0
    assert result.stdout == "x,f,df/dx\n0,0.0,0.0\n0,0.0,0.0\n1,1.0,1.0\n"
    assert result.stderr.count("kink") == 1


class _CountingInput:
    """An input stream that records how many lines were read when each output write happens."""

    def __init__(self, lines):
        self.lines = iter(lines)
        self.read = 0

    def __iter__(self):
        return self

    def __next__(self):
        line = next(self.lines)
        self.read += 1
        return line


class _Output(io.StringIO):
    def __init__(self, source):
        super().__init__()
        self.source = source
        self.reads_at_write = []

    def write(self, text):
        self.reads_at_write.append((self.source.read, text.count("\n")))
        return super().write(text)


def test_memory_is_bounded_by_the_chunk_not_the_input():
    lines = ["x,y\n"] + [f"{i},{i % 7}\n" for i in range(1000)]
    source = _CountingInput(lines)
    out = _Output(source)
    summary = batch.run(gradcli.parse("x * y"), source, out, {}, chunk_size=100)
    assert summary.rows == 1000 and summary.failed_count == 0
    written = 0
    for read, new_lines in out.reads_at_write:
        # never more than one chunk read ahead of what has been written
        assert read <= 1 + written + 100
        written += new_lines
    assert written == 1001


def test_progress_only_for_large_inputs_on_a_terminal():
    assert batch.wants_progress(batch.PROGRESS_BYTES, True)
    assert not batch.wants_progress(batch.PROGRESS_BYTES, False)
    assert not batch.wants_progress(1000, True)
    assert not batch.wants_progress(None, True)  # stdin: size unknown


def test_constants_from_values_file_and_at_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "w.json").write_text('{"w": 3}')
    (tmp_path / "b.json").write_text("-1")
    result = run("w * x + b", "--input", "-", "--values", "w.json", "--set", "b=@b.json", stdin="x\n2\n0.5\n")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "x,f,df/dx\n2,5.0,3.0\n0.5,0.5,3.0\n"


def test_many_failures_are_counted_not_all_listed():
    rows = "".join("x\n" if i % 2 else f"{i}\n" for i in range(60))
    result = run("x * 2", "--input", "-", stdin="x\n" + rows)
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 61
    assert result.stderr.count("is not a number") == batch.MAX_REPORTED
    assert f"and {30 - batch.MAX_REPORTED} more failed rows" in result.stderr
    assert "30 of 60 rows failed" in result.stderr


def test_constants_as_name_value_arguments_and_unused_columns_in_one_warning():
    result = run("w * x", "w=0.5", "--input", "-", stdin="id,x,note\n1,4,7\n")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "id,x,note,f,df/dx\n1,4,7,2.0,0.5\n"
    assert result.stderr.count("warning:") == 1 and "columns 'id', 'note'" in result.stderr
    result = run("w * x", "w=0.5", "--set", "w=1", "--input", "-", stdin="x\n1\n")
    assert result.exit_code == 1 and "w is given a value twice" in result.stderr


def test_ndjson_strict_reports_a_non_finite_row_as_json():
    # the row's number came from NumPy (int64), which json.dumps refused: an internal error
    result = run("y/x", "--input", "-", "--format", "ndjson", "--strict", stdin="x,y\n1,2\n0,1\n")
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0] == {"x": 1.0, "y": 2.0, "f": 2.0, "df/dx": -2.0, "df/dy": 1.0}
    assert lines[1]["line"] == 3 and lines[1]["f"] is None
    assert "line 3: nan or inf in f or a gradient, and --strict is on" in result.stderr


@pytest.mark.parametrize("text, shown, hint", [
    ("x;y\n1;2\n", "'x;y' looks separated by ';'", "tr ';' ','"),
    ("x\ty\n1\t2\n", "'x\\ty' looks separated by tabs", "tr '\\t' ','"),
])
def test_a_header_separated_by_semicolons_or_tabs_is_named_as_such(text, shown, hint):
    result = CliRunner().invoke(app, ["batch", "x*y", "--input", "-"], input=text)
    _check_no_traceback(result)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith(f"error: stdin: batch reads comma-separated values, but the header {shown}\n")
    assert f"hint: separate the columns with commas, e.g. {hint} < FILE\n" in result.stderr
    assert "no value for" not in result.stderr
