"""Values from files and stdin: --set x=@FILE (.npy, .csv, .json), @- and --values FILE.json."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from gradcli.commands.cli import app
from gradcli.inputs.datafiles import csv_matrix, parse_lines
from gradcli.base.errors import ValueFormatError

from conftest import _check_no_traceback


def run(*args, stdin=None, folder=None):
    result = CliRunner().invoke(app, list(args), input=stdin)
    _check_no_traceback(result)
    return result


def gradients(result) -> dict:
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    return doc


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.save("x.npy", np.array([1.0, 2.0, 3.0]))
    np.save("ints.npy", np.array([[1, 2], [3, 4]], dtype=np.int32))
    np.save("complex.npy", np.array([1 + 2j]))
    np.save("text.npy", np.array(["a", "b"]))
    (tmp_path / "header.csv").write_text("a, b\n1, 2\n3, 4\n-1.5, 1e1\n")
    (tmp_path / "plain.csv").write_text("1,2,3\r\n4,5,6\r\n")
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,x\n")
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3\n")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "v.json").write_text('[[1, 2], [3, 4.5]]')
    (tmp_path / "nonfinite.json").write_text('["NaN", "Infinity", 1]')
    (tmp_path / "vals.json").write_text('{"x": 2, "W": [[1, 2], [3, 4]]}')
    (tmp_path / "mixed.json").write_text('[1, "a"]')
    (tmp_path / "ragged.json").write_text('[[1, 2], [3]]')
    (tmp_path / "broken.json").write_text('[1, 2')
    (tmp_path / "list.json").write_text('[1, 2]')
    (tmp_path / "data.txt").write_text('1')
    return tmp_path


def test_npy(files):
    doc = gradients(run("eval", "sum(x * x)", "--set", "x=@x.npy", "--format", "json"))
    assert doc["value"] == pytest.approx(14.0)
    assert doc["gradients"]["x"] == pytest.approx([2.0, 4.0, 6.0])


def test_npy_of_integers_becomes_float(files):
    doc = gradients(run("eval", "sum(X @ X)", "--set", "X=@ints.npy", "--format", "json"))
    # X@X = [[7,10],[15,22]] sums to 54; d/dX sum(X@X) = 1·Xᵀ + Xᵀ·1 : row sums + column sums
    assert doc["value"] == pytest.approx(54.0)
    np.testing.assert_allclose(doc["gradients"]["X"], [[7.0, 11.0], [9.0, 13.0]])


def test_csv_with_header_is_a_matrix(files):
    doc = gradients(run("eval", "sum(X, axis=0) @ w", "--set", "X=@header.csv", "--set", "w=[1,-1]",
                        "--format", "json"))
    # column sums 2.5 and 16 → 2.5 - 16
    assert doc["value"] == pytest.approx(-13.5)
    np.testing.assert_allclose(doc["gradients"]["X"], [[1, -1], [1, -1], [1, -1]])
    assert doc["gradients"]["w"] == pytest.approx([2.5, 16.0])


def test_csv_without_header_and_crlf(files):
    np.testing.assert_array_equal(csv_matrix((files / "plain.csv").read_text(), "t"), [[1, 2, 3], [4, 5, 6]])
    doc = gradients(run("eval", "sum(X)", "--set", "X=@plain.csv", "--format", "json"))
    assert doc["value"] == 21.0


def test_json_value_and_non_finite_words(files):
    doc = gradients(run("eval", "sum(X)", "--set", "X=@v.json", "--format", "json"))
    assert doc["value"] == pytest.approx(10.5)
    result = run("eval", "x", "--set", "x=@nonfinite.json", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["value"] == ["NaN", "Infinity", 1.0]
    assert "holds nan/inf" in result.stderr


def test_values_file_sets_several_variables(files):
    doc = gradients(run("eval", "x * sum(W)", "--values", "vals.json", "--format", "json"))
    assert doc["value"] == pytest.approx(20.0)
    assert doc["gradients"] == {"x": 10.0, "W": [[2.0, 2.0], [2.0, 2.0]]}
    doc = gradients(run("eval", "x * sum(W) + y", "--values", "vals.json", "--set", "y=1", "--format", "json"))
    assert doc["value"] == pytest.approx(21.0)


def test_stdin_json_and_csv(files):
    doc = gradients(run("eval", "sum(x) * 2", "--set", "x=@-", "--format", "json", stdin="[1, 2, 3]\n"))
    assert doc["value"] == 12.0 and doc["gradients"]["x"] == [2.0, 2.0, 2.0]
    doc = gradients(run("eval", "sum(X, axis=1)", "--set", "X=@-", "--format", "json", stdin="p,q\n1,2\n3,4\n"))
    assert doc["value"] == [3.0, 7.0]
    doc = gradients(run("eval", "x * y", "--values", "-", "--format", "json", stdin='{"x": 3, "y": -2}'))
    assert doc["gradients"] == {"x": -2.0, "y": 3.0}


@pytest.mark.parametrize("args, needles", [
    (["--set", "x=@missing.npy"], ["cannot read missing.npy", "no such file"]),
    (["--set", "x=@missing.csv"], ["no such file"]),
    (["--values", "missing.json"], ["cannot read missing.json", "no such file"]),
    (["--set", "x=@."], ["cannot tell the format"]),
    (["--set", "x=@bad.csv"], ["--set x=@bad.csv", "line 3, column 2 (b)", "'x' is not a number"]),
    (["--set", "x=@ragged.csv"], ["line 3", "1 cell, but the first row has 2"]),
    (["--set", "x=@empty.csv"], ["no rows"]),
    (["--set", "x=@complex.npy"], ["complex128", "not real numbers"]),
    (["--set", "x=@text.npy"], ["not real numbers"]),
    (["--set", "x=@mixed.json"], ["element [1]", "'a'", "not a number"]),
    (["--set", "x=@ragged.json"], ["not rectangular"]),
    (["--set", "x=@broken.json"], ["not valid JSON", "line 1"]),
    (["--set", "x=@vals.json"], ["a JSON object", "--values"]),
    (["--values", "list.json"], ["--values list.json", "needs a JSON object"]),
    (["--set", "x=@data.txt"], ["cannot tell the format", ".npy, .csv or .json"]),
    (["--set", "x=@"], ["no file name after '@'"]),
    (["--values", "vals.json", "--set", "x=1"], ["x is given a value twice: --values vals.json and --set x=1"]),
])
def test_bad_files_are_one_message_and_exit_1(files, args, needles):
    result = run("eval", "sum(x)", *args)
    assert result.exit_code == 1, result.stdout
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("error:") == 1
    for needle in needles:
        assert needle in result.stderr, result.stderr


def test_stdin_read_once(files):
    result = run("eval", "sum(x) + sum(y)", "--set", "x=@-", "--set", "y=@-", stdin="[1]")
    assert result.exit_code == 1
    assert "both read stdin" in result.stderr


def test_values_file_bad_name(files):
    (files / "badname.json").write_text('{"1x": 2}')
    result = run("eval", "x", "--values", "badname.json")
    assert result.exit_code == 1 and "'1x' is not a variable name" in result.stderr


def test_parse_lines_fast_and_slow_paths_agree():
    lines = ["1,2\n", "3,4\n", "5,6\n"]
    matrix, numbers, bad = parse_lines(lines, 2, 2)
    assert numbers is None and bad == []
    np.testing.assert_array_equal(matrix, [[1, 2], [3, 4], [5, 6]])
    matrix, numbers, bad = parse_lines(["1,2\n", "\n", "x,4\n", "5\n", "7,8\n"], 2, 10, ["a", "b"])
    assert numbers == [10, 12, 13, 14]
    assert [(b.line, b.message) for b in bad] == [
        (12, "line 12, column 1 (a): 'x' is not a number"), (13, "line 13: 1 cell, but the first row has 2")]
    np.testing.assert_array_equal(matrix[[0, 3]], [[1, 2], [7, 8]])
    assert np.isnan(matrix[1]).all() and np.isnan(matrix[2]).all()


def test_csv_matrix_reports_the_first_bad_line_and_counts_the_rest():
    with pytest.raises(ValueFormatError) as info:
        csv_matrix("a\n1\nx\ny\n", "here")
    assert "line 3" in info.value.message and "1 more" in info.value.message
