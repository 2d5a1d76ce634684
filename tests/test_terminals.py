"""Terminals, pipes and files: numbers are never cut at any width (labels give way first, then a
table too wide is stacked), machine formats carry whole labels, TERM=dumb is ASCII only."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from rich.console import Console

import gradcli
from gradcli.evaluation.check import check
from gradcli.render import checktable, jsondoc, numbers, table, tree
from gradcli.render.style import GAP, distinct_width, fit, pack, plain_ascii, shorten

NEURON = ("1/(1+exp(-(w0*x0+w1*x1+w2)))", {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3})
ARRAYS = ("norm(v) + dot(a, b) + max(v) + sum(W @ a, axis=0)",
          {"v": [3.0, 4.0], "a": [1.0, -2.0], "b": [0.5, 1.5], "W": [[1.0, 2.0], [0.25, -1.0]]})
LONG = ("first_long_variable_name * second_long_variable_name + third_long_variable_name"
        " * fourth_long_variable_name", {"first_long_variable_name": 1.5, "second_long_variable_name": -2,
                                          "third_long_variable_name": 0.125, "fourth_long_variable_name": 3})
NON_FINITE = ("x*2 + sum(T(X))", {"x": [math.nan, 1.0], "X": [[math.inf, 1.0]]})
PROGRAMS = {"neuron": NEURON, "arrays": ARRAYS, "long": LONG, "non-finite": NON_FINITE}

# (not after …: the tail of a shortened label, `w0*x0…1+w2`)
NUMBER = re.compile(r"(?<![\w.…])-?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?(?![\w.])")
SHAPE = re.compile(r"\((?:\d+, )*\d+,?\) ")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _number(data):
    """A JSON value back as numbers: "NaN" is nan, a list an array."""
    if isinstance(data, list):
        return np.array([_number(item) for item in data])
    return _SPECIAL.get(data, data) if isinstance(data, str) else data


def _flat(data) -> list[float]:
    if isinstance(data, list):
        return [x for item in data for x in _flat(item)]
    return [float(data)] if isinstance(data, (int, float)) else []


def _document_numbers(result, view: str) -> tuple[list[float], list]:
    """Every number of the result's JSON document, and the numbers `view` ("table" or "tree")
    shows: each edge's gate value, local, upstream and result, or each node's value and gradient."""
    doc = jsondoc.document(result)
    every, shown = [], []
    for node in doc["nodes"]:
        edges = [[inp["local"], inp["upstream"], inp["result"]] for inp in node["inputs"] if inp["local"] is not None]
        every += [node["value"], node["gradient"], *[x for edge in edges for x in edge]]
        if view == "tree":
            shown += [node["value"], node["gradient"]]
        elif edges:
            shown += [node["value"], *[x for edge in edges for x in edge]]
    def numeric(values):  # not a rule's text
        return [_number(x) for x in values if x is not None and (not isinstance(x, str) or x in _SPECIAL)]
    return [n for x in every for n in _flat(x)], numeric(shown)


def _console(width: int) -> Console:
    return Console(file=io.StringIO(), force_terminal=True, width=width, color_system=None, highlight=False)


def _shown_table(text: str) -> tuple[list[str], list[list[str]]]:
    """A terminal's table as a reader sees it: the header (a header's lines joined) and each line
    of the rows cut into cells at the columns the rule under the header draws (━━━ ━━━)."""
    lines = text.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("━"))
    spans = [m.span() for m in re.finditer("━+", lines[rule])]
    top = next(i for i, line in enumerate(lines) if line.startswith("read a row")) + 1

    def cells(line: str) -> list[str]:
        return [line[start:end].strip() for start, end in spans]

    header = [" ".join(" ".join(words).split()) for words in zip(*map(cells, lines[top:rule]))]
    end = lines.index("", rule) if "" in lines[rule:] else len(lines)
    return header, [cells(line) for line in lines[rule + 1:end]]


def _shown_labels(text: str) -> list[tuple[str, str]]:
    """Each row's gate and input as shown: in the table's columns, or stacked (the gate's line, its
    `(op, role)` on it or on the next line, then `  input ...`)."""
    if "━" in text:
        header, rows = _shown_table(text)
        return [(row[0], row[header.index("input")]) for row in rows if row[0]]
    lines = text.split("\n\n")[0].splitlines()
    lines = lines[next(i for i, line in enumerate(lines) if line.startswith("read a row")) + 1:]
    shown, gate = [], None
    for line in lines:
        if not line.startswith("  "):
            match = re.fullmatch(r"(.*?)  \(.+, \w+\)", line)
            gate = match.group(1) if match else line
        elif line.startswith("  input ") and not line.startswith("  input value "):
            shown.append((gate, line[len("  input "):]))
    return shown


def _assert_labels_apart(text: str, result) -> None:
    """Two distinct labels (a gate's or an input's, in either column) are never shown alike, and
    each shown label is its whole label or its head and tail around a …."""
    whole = [(table.label(record.node), table.label(edge.input))
             for record in reversed(result.trace) if record.edges for edge in record.edges]
    shown = _shown_labels(text)
    assert len(shown) == len(whole), (shown, text)
    meaning: dict[str, str] = {}
    for labels, seen_labels in zip(whole, shown):
        for label, seen in zip(labels, seen_labels):
            assert meaning.setdefault(seen, label) == label, (seen, label, meaning[seen], text)
            if seen != label:
                head, tail = seen.split("…")
                assert len(seen) < len(label) and label.startswith(head) and label.endswith(tail), (seen, label)


def _assert_numbers_whole(text: str, result, view: str = "table") -> None:
    """Every number shown is one of the document's at 6 digits (a cut -0.53 is none of them),
    and every number the view shows is there whole."""
    every, values = _document_numbers(result, view)
    body = text.split("\n", 1)[1] if view == "table" else text  # not the title: the source's
    for token in NUMBER.findall(SHAPE.sub("", body)):
        assert any(math.isclose(float(token), n, rel_tol=1e-5, abs_tol=1e-12) for n in every), (token, text)
    # an array's preview may wrap between its elements in a table cell: each element is whole
    tokens = set(NUMBER.findall(text)) | set(re.findall(r"(?<!\w)-?(?:nan|inf)(?!\w)", text))
    for value in values:
        for element in np.ravel(value):
            assert numbers.scalar(element, 6) in tokens, (value, text)


@pytest.mark.parametrize("width", [160, 80, 60, 40])
@pytest.mark.parametrize("program", PROGRAMS)
def test_the_table_and_the_tree_never_cut_a_number(width, program):
    source, values = PROGRAMS[program]
    result = gradcli.evaluate(source, values)
    for render, kwargs in ((table.render, {}), (table.render, {"all_rows": True}), (tree.render, {})):
        console = _console(width)
        render(result, console, **kwargs)
        text = console.file.getvalue()
        _assert_numbers_whole(text, result, "table" if render is table.render else "tree")
        for line in text.splitlines():
            # wider than the terminal only where the numbers alone do not fit: an array preview,
            # or a node's numbers below its label deep in the tree; the terminal wraps those
            assert len(line) <= width or program in ("arrays", "non-finite") or \
                re.fullmatch(r"[│ ]*  value \S+(  gradient \S+)?", line), (line, text)


def test_the_neuron_fits_80_columns_as_a_table_with_every_number_column():
    # every number of the lecture's circuit, checkable at 80 columns: no vertical rules, the
    # number columns' headers on two lines, the role column gives way (--steps names the roles),
    # the labels keep their head and tail and read apart (w0*x0…1+w2, w0*x0…1*x1), no number is cut
    result = gradcli.evaluate(*NEURON)
    console = _console(80)
    table.render(result, console)
    text = console.file.getvalue()
    lines = text.splitlines()
    assert lines[:2] == ["Backward pass of 1/(1+exp(-(w0*x0+w1*x1+w2)))",
                         "read a row as the chain rule: result = local × upstream"]
    header, rows = _shown_table(text)
    assert header == ["gate", "op", "input", "input value", "gate output", "local", "upstream", "result"]
    assert [row[:3] for row in rows] == [
        ["1/(1+…2)))", "1/x", "1+exp…w2))"], ["1+exp…w2))", "+", "exp(-…w2))"],
        ["exp(-…w2))", "exp", "-(w0*…+w2)"], ["-(w0*…+w2)", "-x", "w0*x0…1+w2"],
        ["w0*x0…1+w2", "+", "w0*x0…1*x1"], ["w0*x0…1+w2", "+", "w2"],
        ["w0*x0…1*x1", "+", "w0*x0"], ["w0*x0…1*x1", "+", "w1*x1"],
        ["w1*x1", "*", "w1"], ["w1*x1", "*", "x1"], ["w0*x0", "*", "w0"], ["w0*x0", "*", "x0"]]
    assert rows[0][3:] == ["1.36788", "0.731059", "-0.534447", "1", "-0.534447"]
    assert max(map(len, lines)) <= 80
    assert not any(ch in text for ch in "│┃╇")


def test_an_array_or_a_rule_wraps_between_its_words_before_the_table_gives_up():
    result = gradcli.evaluate("norm(v) + max(v)", {"v": [0.123456789, 0.987654321]})
    console = _console(90)  # at 80 the two arrays (input value, result) leave too little room
    table.render(result, console)
    text = console.file.getvalue()
    header, rows = _shown_table(text)  # still a table
    local = " ".join(row[header.index("local")] for row in rows)
    assert "1 at the max, 0 elsewhere (ties split)" in " ".join(local.split())  # the rule, over a few lines
    assert "0.124035," in text and "0.992278]" in text  # norm's gradient v/|v|, each element whole


def test_a_table_too_wide_for_the_terminal_is_stacked_with_whole_numbers():
    result = gradcli.evaluate(*NEURON)
    console = _console(40)
    table.render(result, console)
    text = console.file.getvalue()
    assert "┃" not in text
    assert "  input 1+exp(-(w0*x0+w1*x1+w2))" in text
    assert "  input value 1.36788\n  gate output 0.731059  local -0.534447\n" in text


@pytest.mark.parametrize("width", [80, 60, 40])
def test_the_check_table_never_cuts_a_number(width):
    source, values = NEURON
    report = check(gradcli.parse(source), values, expected={"w0": -0.2, "x0": 0.39})
    console = _console(width)
    checktable.render(report, console)
    text = console.file.getvalue()
    for e in report.entries:
        for value in (e.analytic, e.numeric, e.expected):
            if value is not None:
                assert numbers.scalar(value, 6) in text
        assert checktable.error_text(e.error) in text
        assert e.verdict in text
    assert max(map(len, text.split("\n\n")[0].splitlines())) <= width  # the table; prose lines wrap


def test_the_check_table_wraps_a_header_before_its_variables_give_way():
    source, values = NEURON
    report = check(gradcli.parse(source), values, expected={"w0": -0.2})
    console = _console(80)
    checktable.render(report, console)
    lines = console.file.getvalue().split("\n\n")[0].splitlines()
    assert lines[1].split() == ["rel.", "rel."] and lines[2].split()[:4] == ["variable", "analytic", "numeric", "error"]
    error = checktable.error_text(report.entries[0].error)
    assert lines[3].startswith("━") and lines[4].split() == ["w0", "-0.196612", "-0.196612", error, "good",
                                                            "-0.2", "1.7e-02", "wrong"]
    assert max(map(len, lines)) <= 80 and not any(ch in "".join(lines) for ch in "│┃")


def test_fit_cuts_labels_then_words_never_numbers():
    widths = [20, 3, 11, 20, 8, 9, 9, 9]
    give = (((0, 3), 6), ((2,), 6), ((1,), 4))
    fitted = fit(widths, 80, give)
    assert sum(fitted) + GAP * 7 == 80 and fitted[1:3] + fitted[4:] == widths[1:3] + widths[4:]
    assert sorted((fitted[0], fitted[3])) == [8, 9]  # the labels gave way, the wider first
    assert fit(widths, 60, give) is None
    assert fit(widths, 200, give) == widths


def test_pack_keeps_each_item_whole():
    items = ["value 0.731059", "local -0.534447", "upstream 1", "result -1.23457e-308"]
    assert pack(items, 40) == ["  value 0.731059  local -0.534447", "  upstream 1  result -1.23457e-308"]
    assert pack(["result (3,) [0.123457, 0.234568, 0.345679]"], 20) == ["  result (3,) [0.123457, 0.234568, 0.345679]"]


def _run_on_a_terminal(args: list[str], columns: int, term: str = "xterm") -> str:
    """gradcli with its stdout on a pseudo-terminal `columns` wide: what a user sees."""
    import pty

    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": str(columns), "TERM": term, "LINES": "50"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen([sys.executable, "-m", "gradcli", *args], stdout=follower,
                               stderr=subprocess.PIPE, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the program ended
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=60)
    os.close(leader)
    assert process.returncode == 0, process.stderr.read()
    return ANSI.sub("", b"".join(chunks).decode()).replace("\r\n", "\n")


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal")
@pytest.mark.parametrize("columns", [80, 60, 40])
def test_through_the_cli_on_a_terminal_every_number_is_whole(columns):
    source, values = NEURON
    args = ["eval", source, *[f"{k}={v}" for k, v in values.items()]]
    text = _run_on_a_terminal(args, columns)
    _assert_numbers_whole(text.split("\n\n", 1)[0], gradcli.evaluate(source, values))
    assert max(map(len, text.splitlines())) <= columns
    tree_text = _run_on_a_terminal([*args, "--format", "tree"], columns)
    _assert_numbers_whole(tree_text, gradcli.evaluate(source, values), "tree")


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal")
@pytest.mark.parametrize("columns", [80, 60, 40])
def test_term_dumb_on_a_terminal_fits_the_ascii_table_to_its_width(columns):
    # issue 18: TERM=dumb on an 80-column terminal printed the 140-column piped table
    source, values = NEURON
    args = ["eval", source, *[f"{k}={v}" for k, v in values.items()]]
    text = _run_on_a_terminal(args, columns, term="dumb")
    assert text.isascii()
    assert max(map(len, text.splitlines())) <= columns
    assert " | " not in text  # no piped layout: the columns two spaces apart, as Rich draws them
    table_text = text.split("\n\n", 1)[0].replace("...", "\u2026")  # a cut label's tail is no number
    _assert_numbers_whole(table_text, gradcli.evaluate(source, values))
    if columns == 80:  # the table with every column but the role, its labels shortened in the middle
        lines = text.splitlines()
        assert lines[2].split() == ["input", "gate"]
        assert lines[3].split() == ["gate", "op", "input", "value", "output", "local", "upstream", "result"]
        assert lines[5].split() == ["1/(1...)))", "1/x", "1+ex...2))", "1.36788", "0.731059", "-0.534447",
                                    "1", "-0.534447"]
    else:  # stacked, a few lines per row, as on a Rich terminal
        assert "  input value 1.36788" in text


def test_term_dumb_on_a_pipe_stays_unfitted(cli, monkeypatch):
    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.setenv("COLUMNS", "40")
    source, values = NEURON
    out = cli("eval", source, *[f"{k}={v}" for k, v in values.items()]).stdout
    assert "gate " in out and " | op  | role" in out  # the documented piped layout, unfitted
    assert max(map(len, out.splitlines())) > 40


# The lecture's circuits and a few more whose gates' labels share their beginnings.
LECTURE = ("(x + y) * z", {"x": -2, "y": 5, "z": -4})
TWO_LAYER = ("sigmoid(v1*tanh(w1*x1 + w2*x2 + b1) + v2*tanh(w3*x1 + w4*x2 + b2) + c)",
             {"v1": 1, "v2": -1, "w1": 0.5, "w2": -0.5, "w3": 1, "w4": 2, "x1": 1, "x2": 2, "b1": 0, "b2": 0.1,
              "c": 0.2})
SUM = (" + ".join(f"w{i}*x{i}" for i in range(12)), {**{f"w{i}": i + 1 for i in range(12)},
                                                    **{f"x{i}": 0.5 for i in range(12)}})
LABELLED = {"neuron": NEURON, "lecture": LECTURE, "two-layer": TWO_LAYER, "sum": SUM}


@pytest.mark.parametrize("width", [80, 60])
@pytest.mark.parametrize("program", LABELLED)
def test_distinct_gates_read_apart_on_a_console(width, program):
    source, values = LABELLED[program]
    result = gradcli.evaluate(source, values)
    console = _console(width)
    table.render(result, console)
    text = console.file.getvalue()
    _assert_labels_apart(text, result)
    _assert_numbers_whole(text.split("\n\n", 1)[0], result)
    assert max(map(len, text.splitlines())) <= width, text


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal")
@pytest.mark.parametrize("columns", [80, 60])
@pytest.mark.parametrize("program", LABELLED)
def test_distinct_gates_read_apart_on_a_terminal(columns, program):
    source, values = LABELLED[program]
    text = _run_on_a_terminal(["eval", source, *[f"{k}={v}" for k, v in values.items()]], columns)
    result = gradcli.evaluate(source, values)
    _assert_labels_apart(text, result)
    _assert_numbers_whole(text.split("\n\n", 1)[0], result)
    assert max(map(len, text.splitlines())) <= columns, text


def test_the_sum_s_gates_read_apart_in_a_table_at_80_columns():
    # twelve partial sums, all beginning w0*x0 + w1*x1: their tails tell them apart
    result = gradcli.evaluate(*SUM)
    console = _console(80)
    table.render(result, console)
    header, rows = _shown_table(console.file.getvalue())
    gates = [row[0] for row in rows if row[1] == "+"]
    assert len(set(gates)) == 11 and all("…" in gate and gate.startswith("w0*x0") for gate in gates)


def test_shorten_keeps_head_and_tail_and_distinct_width_grows_until_labels_read_apart():
    assert shorten("w0*x0+w1*x1+w2", 10) == "w0*x0…1+w2" and shorten("w0*x0+w1*x1", 10) == "w0*x0…1*x1"
    assert shorten("w0*x0", 10) == "w0*x0" and shorten("abcdefgh", 6, "...") == "ab...h"
    labels = ["sin(a+b+c+d+e)", "sin(a+b+X+d+e)", "w2"]
    width = distinct_width(labels, 6)
    assert len({shorten(label, width) for label in labels}) == 3
    assert len({shorten(label, width - 1) for label in labels[:2]}) == 1
    assert distinct_width(["x", "y"], 6) == 1 and distinct_width([], 6) == 0


def test_a_pipe_shortens_a_long_label_in_its_middle():
    # past 40 characters: head … tail, so the partial sums of a long sum still read apart
    stem = " + ".join(f"a{i}*b{i}" for i in range(8))
    values = {**{f"a{i}": 0.5 for i in range(9)}, **{f"b{i}": -1 for i in range(9)}}
    out = io.StringIO()
    table.render(gradcli.evaluate(f"{stem} + a8*b8", values), out)
    rows = [line.split(" | ") for line in out.getvalue().splitlines() if " | " in line]
    gates = {row[0].rstrip() for row in rows if " + " in row[0]}
    assert shorten(f"{stem} + a8*b8", 40) == "a0*b0 + a1*b1 + a2*b…*b6 + a7*b7 + a8*b8"
    assert shorten(f"{stem} + a8*b8", 40) in gates
    assert len(gates) == 8 and max(map(len, gates)) == 40


def test_csv_carries_whole_labels(cli):
    # two gates whose first 40 characters are the same
    stem = " + ".join(f"a{i}*b{i}" for i in range(8))
    source = f"sin({stem} + c) * cos({stem} + d)"
    values = {**{f"a{i}": "0.5" for i in range(8)}, **{f"b{i}": "-1" for i in range(8)}, "c": "1", "d": "2"}
    result = cli("eval", source, *[f"{k}={v}" for k, v in values.items()], "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    gates = {row["gate"] for row in rows}
    assert f"{stem} + c" in gates and f"{stem} + d" in gates and source in gates
    assert not any("…" in row["gate"] + row["input"] for row in rows)
    assert {row["input"] for row in rows if row["gate"] == source} == {f"sin({stem} + c)", f"cos({stem} + d)"}


def test_max_of_an_array_shows_its_rule_in_every_view(cli):
    # the reduction's local gradient is its rule, not a number; the gradient goes to the max
    args = ["eval", "max(x)", "x=[1,2,3]"]
    out = cli(*args).stdout
    assert re.search(r"max\(x\) \| max \| routes \| x +\| \(3,\) \[1, 2, 3\] \| +3 \| "
                     r"1 at the max, 0 elsewhere \(ties split\) \| +1 \| \(3,\) \[0, 0, 1\]", out), out
    assert "∂f/∂x = (3,) [0, 0, 1]" in out
    rows = list(csv.DictReader(io.StringIO(cli(*args, "--format", "csv").stdout)))
    assert rows == [{"gate": "max(x)", "op": "amax", "role": "routes", "input": "x", "value": "3.0",
                     "local": "1 at the max, 0 elsewhere (ties split)", "upstream": "1.0", "result": "[0.0,0.0,1.0]",
                     "input_value": "[1.0,2.0,3.0]", "symbol": "max"}]
    steps = cli(*args, "--steps").stdout
    assert "∂f/∂x = [local 1 at the max, 0 elsewhere (ties split)] × [upstream 1] = (3,) [0, 0, 1]" in steps
    for options in (["--expand"], ["--stable"], ["--all"], ["-f", "tree"], ["-f", "dot"], ["-f", "plain"]):
        result = cli(*args, *options)
        assert result.exit_code == 0 and result.stderr == "", (options, result.stderr)
    doc = json.loads(cli(*args, "--format", "json").stdout)
    assert doc["gradients"]["x"] == [0.0, 0.0, 1.0]


def test_a_rule_is_shown_once_in_the_steps(cli):
    out = cli("eval", "norm(v)", "v=[3,4]", "--steps").stdout
    assert "∂f/∂v = [local v/‖v‖] × [upstream 1] = (2,) [0.6, 0.8]" in out


def test_term_dumb_spells_every_symbol_in_ascii(cli, monkeypatch):
    monkeypatch.setenv("TERM", "dumb")
    out = cli("eval", "dot(a, b) + sigmoid(x) + sqrt(y)", "a=[1,2]", "b=[3,4]", "x=0", "y=4").stdout
    assert "vjp: g*b^T" in out and "vjp: a^T*g" in out and "df/da = (2,) [3, 4]" in out
    steps = cli("eval", "sigmoid(x) + sqrt(y) + max(x, 0)", "x=0", "y=4", "--steps").stdout
    assert "dx = [local sigma(x)*sigma(-x) = 0.25] * [upstream 1] = 0.25" in steps
    assert "[local 0.5/sqrt y = 0.25]" in steps and steps.isascii()
    tree_out = cli("eval", "x*y + x", "x=2", "y=3", "--format", "tree").stdout
    assert "|-- " in tree_out and "`-- " in tree_out and tree_out.isascii()
    result = cli("eval", "dot(a, b)", "a=[1,2,3]", "b=[1,2]")
    assert result.exit_code == 1 and "(3 != 2)" in result.stderr and result.stderr.isascii()


@pytest.mark.parametrize("text, ascii_text", [
    ("∂f/∂x = [local 2] × [upstream 1]", "df/dx = [local 2] * [upstream 1]"),
    ("vjp: g·bᵀ", "vjp: g*b^T"), ("(1-σ)σ", "(1-sigma)sigma"), ("1/(2√x)", "1/(2*sqrt x)"),
    ("1/(2√(a+b))", "1/(2*sqrt(a+b))"), ("-x/y²", "-x/y^2"), ("‖·‖", "norm"), ("x/‖x‖", "x/|x|"),
    ("1 if x > y, ½ if x = y, else 0", "1 if x > y, 1/2 if x = y, else 0"), ("(3 ≠ 2)", "(3 != 2)"),
    ("├── x\n│   └── y", "|-- x\n|   `-- y"), ("sum(x) # café", "sum(x) # cafe"), ("ψ", "?"), ("2/√π", "2/sqrt pi"), ("±1", "+-1"),
])
def test_plain_ascii(text, ascii_text):
    assert plain_ascii(text) == ascii_text


def test_term_dumb_messages_are_ascii_in_a_real_process():
    # Click's and Typer's messages too: no Rich box around a usage error
    env = {**os.environ, "TERM": "dumb"}
    for args, code in ((["eval", "x", "x=1", "--fromat", "json"], 2),
                       (["eval", "dot(a, b)", "a=[1,2,3]", "b=[1,2]"], 1),
                       (["eval", "max(x, 0) + norm(v)", "x=0", "v=[0,0]", "--steps"], 0)):
        done = subprocess.run([sys.executable, "-m", "gradcli", *args], capture_output=True, env=env, timeout=60)
        assert done.returncode == code, done.stderr
        assert done.stderr.isascii() and done.stdout.isascii(), (done.stdout, done.stderr)
        assert done.stderr
