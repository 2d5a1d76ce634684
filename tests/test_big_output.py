"""Big outputs: bounded by default with notes of what is hidden, every row with --all, streamed
(written a block at a time, never built whole), the JSON document streamed byte-exact; and the
start-up guarantees: a run imports only what it uses."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys

import pytest

import gradcli
from gradcli.render import jsondoc, numbers, steps, table, tree

TERMS = 60  # 60 terms a_i*b_i: 119 edges of the sum, 120 of the products, 120 variables


def _big_sum(terms: int = TERMS):
    source = " + ".join(f"a{i}*b{i}" for i in range(terms))
    values = {**{f"a{i}": i + 0.5 for i in range(terms)}, **{f"b{i}": -1.25 for i in range(terms)}}
    return source, values


def _rows(text: str) -> list[str]:
    """The table's rows: the lines with column separators, the header excepted."""
    return [line for line in text.splitlines() if " | " in line and not line.startswith("gate ")]


class Recorder:
    """A text stream that records each write and how many numbers had been formatted by then."""

    def __init__(self, counter) -> None:
        self.counter = counter
        self.writes: list[tuple[str, int]] = []

    def write(self, text: str) -> None:
        self.writes.append((text, self.counter.calls))

    def text(self) -> str:
        return "".join(text for text, _ in self.writes)


class Counter:
    def __init__(self, monkeypatch, module) -> None:
        self.calls = 0
        real = numbers.number

        def counted(value, digits):
            self.calls += 1
            return real(value, digits)

        monkeypatch.setattr(module.numbers, "number", counted)


def test_the_default_table_shows_100_rows_and_counts_the_hidden_ones(cli):
    source, values = _big_sum()
    edges = 2 * (TERMS - 1) + 2 * TERMS
    args = ["eval", source, *(f"{k}={v}" for k, v in values.items())]
    out = cli(*args).stdout
    assert len(_rows(out)) == 100
    assert f"… {edges - 100} more rows not shown; --all shows every row" in out
    # 120 variables: 100 gradient lines, then a note
    assert sum(line.startswith("∂f/∂") for line in out.splitlines()) == 100
    assert "… 20 more gradients not shown; --all shows every gradient" in out
    every = cli(*args, "--all").stdout
    assert len(_rows(every)) == edges
    assert "not shown" not in every
    assert sum(line.startswith("∂f/∂") for line in every.splitlines()) == 2 * TERMS


def test_a_fork_shows_100_terms_unless_all(cli):
    source = "+".join(["x"] * 150)
    out = cli("eval", source, "x=1").stdout
    assert "  ∂f/∂x = " + " + ".join(["1"] * 100) + " + … (50 more terms) = 150" in out
    every = cli("eval", source, "x=1", "--all").stdout
    assert "  ∂f/∂x = " + " + ".join(["1"] * 150) + " = 150" in every


def test_forks_are_bounded_unless_all():
    # each x_i feeds two gates: 150 forks
    source = " + ".join(f"x{i}*x{i}" for i in range(150))
    result = gradcli.evaluate(source, {f"x{i}": 1.0 for i in range(150)})
    out = io.StringIO()
    table.render(result, out)
    lines = out.getvalue().splitlines()
    forks = lines[lines.index("gradients added at forks (a value feeding several gates):") + 1:]
    assert len(forks) == 101 and forks[-1] == "  … 50 more forks not shown; --all shows every fork"
    out = io.StringIO()
    table.render(result, out, all_rows=True)
    lines = out.getvalue().splitlines()
    assert len(lines) - lines.index("gradients added at forks (a value feeding several gates):") - 1 == 150


def test_all_streams_the_rows_a_block_at_a_time(monkeypatch):
    source, values = _big_sum(200)  # 798 edges
    result = gradcli.evaluate(source, values)
    counter = Counter(monkeypatch, table)
    out = Recorder(counter)
    table.render(result, out, all_rows=True)
    rows = _rows(out.text())
    assert len(rows) == result.edge_count == 798
    # the first rows were written when only a first block of numbers had been formatted
    first = next(calls for text, calls in out.writes if _rows(text))
    assert first <= len(table.NUMBER_COLUMNS) * table.BLOCK + 1
    # no write holds more than one block of rows: the rendering never holds the table whole
    assert max(len(_rows(text)) for text, _ in out.writes) <= table.BLOCK


def test_streamed_rows_stay_aligned_across_blocks():
    source, values = _big_sum(200)
    values["b150"] = -1.2345678e-300  # a wide number in a later block: the widths allow for it
    result = gradcli.evaluate(source, values)
    out = io.StringIO()
    table.render(result, out, all_rows=True)
    bars = {tuple(i for i, ch in enumerate(line) if ch == "|") for line in _rows(out.getvalue())}
    assert len(bars) == 1


def test_a_terminal_gets_rich_blocks_with_one_header_and_aligned_columns():
    from rich.console import Console

    source, values = _big_sum(200)
    result = gradcli.evaluate(source, values)
    console = Console(file=io.StringIO(), force_terminal=True, width=160, color_system=None)
    table.render(result, console, all_rows=True)
    lines = console.file.getvalue().splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("━"))  # under the one header
    rows = lines[rule + 1:lines.index("", rule)]
    assert len(rows) == result.edge_count
    assert sum(line.startswith("gate ") for line in lines) == 1 and sum("━" in line for line in lines) == 1
    # every block's columns where the rule draws them: each number ends at its column's end
    ends = [end for _, end in (m.span() for m in re.finditer("━+", lines[rule]))][-5:]
    assert all(line[end - 2] != " " and line[end - 1] == " " for line in rows for end in ends[:-1])
    assert all(len(line.rstrip()) == ends[-1] for line in rows)


def test_steps_and_tree_stream_too(monkeypatch):
    source, values = _big_sum(200)
    result = gradcli.evaluate(source, values)
    out = io.StringIO()
    writes = []
    out.write = lambda text: writes.append(text)  # noqa: E731 - a stream that records each write
    steps.render(result, out, all_steps=True)
    assert len(writes) > 5 and max(text.count("\n") for text in writes) <= steps.BLOCK + 10
    text = "".join(writes)
    assert f"{2 * 200 - 1}. " in text  # 399 gates: 200 products and 199 additions
    writes.clear()
    tree.render(result, out, all_nodes=True)
    assert len(writes) > 1 and max(text.count("\n") for text in writes) <= tree.BLOCK
    assert sum(text.count("\n") for text in writes) == 2 * 200 - 1 + 400  # every gate and variable


def test_steps_cut_the_variables_unless_all():
    source, values = _big_sum()
    result = gradcli.evaluate(source, values)
    text = steps.text(result)
    assert "   … 20 more variables not shown; --all shows every one" in text
    assert "… 20 more variables" not in steps.text(result, all_steps=True)


@pytest.mark.parametrize("source, values", [
    ("1/(1+exp(-(w0*x0+w1*x1+w2)))", dict(w0=2, x0=-1, w1=-3, x1=-2, w2=-3)),
    ("x*x + x", dict(x=3)),
    ("sum(W @ x)", dict(W=[[1, 2], [3, 4]], x=[1, 2])),
    ("log(x) + 1/y", dict(x=-1, y=0)),
    ("q = x + y; f = q * z", dict(x=-2, y=5, z=-4)),
    ("2*3", {}),
    ("x*w", dict(x=[1, 2], w=3)),
    ("max(x, y) + relu(x)", dict(x=0, y=0)),
    ("sum(exp(X), axis=0)", dict(X=[[1, 2], [3, 4]])),
    ("f(a) = a*a; f(x) + f(y)", dict(x=1.5, y=-2)),
    ("sum(T(X) @ X)", dict(X=[[1.0, 2], [3, 4]])),
    ("tiny * 1e308 + x**y", dict(tiny=1e-320, x=-1, y=0.5)),
])
def test_the_streamed_json_is_json_dumps_of_the_document(source, values):
    result = gradcli.evaluate(source, values)
    expected = json.dumps(jsondoc.document(result), allow_nan=False, indent=2)
    out = io.StringIO()
    jsondoc.write(result, out)
    assert out.getvalue() == expected == jsondoc.render(result)
    result.trace = None
    assert jsondoc.render(result) == json.dumps(jsondoc.document(result), allow_nan=False, indent=2)


SIGMOID = ["1/(1+exp(-(w0*x0+w1*x1+w2)))", "w0=2", "x0=-1", "w1=-3", "x1=-2", "w2=-3"]


def _modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running `code` (stdout is a pipe)."""
    probe = (f"import sys\n{code}\n"
             "sys.stderr.write('\\nMODULES ' + ' '.join(sorted(sys.modules)) + '\\n')")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                          env={k: v for k, v in os.environ.items() if k != "GRADCLI_DEBUG"})
    line = [line for line in done.stderr.splitlines() if line.startswith("MODULES ")]
    assert line, done.stderr
    return set(line[-1].split()[1:])


def _cli_run(*args: str) -> str:
    return (f"sys.argv = ['gradcli', *{list(args)!r}]\n"
            "from gradcli.commands.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass")


@pytest.mark.parametrize("args", [
    ("eval", *SIGMOID, "--format", "json"),
    ("eval", *SIGMOID),  # the table on a pipe
    ("eval", *SIGMOID, "--format", "tree"),
    ("eval", *SIGMOID, "--steps"),
], ids=["json", "table", "tree", "steps"])
def test_a_run_on_a_pipe_does_not_import_rich(args):
    modules = _modules_after(_cli_run(*args))
    assert {"gradcli.evaluation.engine", "gradcli.evaluation.scalar_engine"} & modules  # it did run
    assert not {m for m in modules if m == "rich" or m.startswith("rich.")}
    # nor what only other options use
    assert not {"gradcli.language.rewrite", "gradcli.render.graphviz", "gradcli.inputs.datafiles", "gradcli.evaluation.check",
                "gradcli.commands.batch", "csv"} & modules


def test_importing_the_cli_imports_no_renderer_and_keeps_the_collector_on():
    modules = _modules_after("import gradcli.commands.cli, gc\nassert gc.isenabled()")
    assert "rich" not in modules
    assert not {"gradcli.render.table", "gradcli.render.jsondoc", "gradcli.commands.batch", "gradcli.evaluation.check",
                "gradcli.inputs.datafiles", "gradcli.language.rewrite", "csv"} & modules


def test_a_json_run_does_not_import_lark():
    modules = _modules_after(_cli_run("eval", *SIGMOID, "--format", "json"))
    assert {"gradcli.evaluation.engine", "gradcli.evaluation.scalar_engine"} & modules  # it did run
    assert not {m for m in modules if m == "lark" or m.startswith("lark.")}
