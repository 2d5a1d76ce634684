"""Every renderer over every op of the registry, through the command line.

The programs are made from `gradcli.core.ops.OPS` itself, so a new op is covered without a new line
here: a callable op is called by its name, the others are written with their symbol; an op that is
not elementwise gets vectors and matrices (and each axis where it takes one), an elementwise op
scalars, arrays and a constant. Each program runs with every --format, --steps (text and JSON),
--all, --expand, --stable and --digits, under TERM=dumb and not, and:

- exits 0 and never says "internal error" (a bad shape is one of gradcli's own errors, exit 1);
- under TERM=dumb writes nothing but ASCII, stdout and stderr;
- shows the JSON document's numbers: CSV and plain to full precision, the table, --steps, the
  tree and the diagram to their --digits, every number whole;
- and the JSON document's gradients are those of central differences.

`gradcli check` renders every op too: it passes, its table shows each analytic gradient.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re

import numpy as np
import pytest

from gradcli.core.ops import OPS

from opcalls import DERIVATIVE_OPS, SKIPPED, calls
from gradcli.render.style import plain_ascii

from conftest import numeric_gradients

SCALARS = {"x": "0.7", "y": "1.3"}
VECTORS = {"x": "[0.5,1.5,2.5]", "y": "[1.2,0.4,2.0]"}
MATRICES = {"X": "[[0.5,1.5],[2.5,0.25]]", "Y": "[[1.0,2.0],[0.5,0.3]]"}


def _write(op, args: list[str], axis: int | None = None) -> str:
    """The op applied to `args` as the language writes it."""
    if op.callable:
        extra = [] if axis is None else [f"axis={axis}"]
        return f"{op.call_name}({', '.join(args + extra)})"
    if op.arity == 1:  # the negation, drawn -x
        return op.symbol.replace("x", args[0])
    return f" {op.symbol} ".join(args)


# Ops whose domain leaves out the values above: their own (scalars, vectors) for x
INSIDE = {"asin": ("0.3", "[0.1,-0.4,0.8]"), "acos": ("0.3", "[0.1,-0.4,0.8]")}


def cases():
    """(id, program, values) for every op of the registry."""
    for op in OPS.values():
        if op.body is not None or op.name in SKIPPED:
            continue
        if op.name in DERIVATIVE_OPS:
            for k, (program, values) in enumerate(calls(op, lambda shape, i: np.round(
                    np.linspace(0.25, 1.5, int(np.prod(shape))) + 0.1 * i, 3).reshape(shape).tolist())):
                yield op.name, f"case{k}", program, {n: str(v) for n, v in values.items()}
            continue
        if op.elementwise:
            names = ["x", "y", "z"][: op.arity]
            scalars, vectors = dict(SCALARS, z="2.1"), dict(VECTORS, z="[2.5,0.9,2.1]")
            if op.name in INSIDE:
                scalars["x"], vectors["x"] = INSIDE[op.name]
            yield op.name, "scalars", _write(op, names), {n: scalars[n] for n in names}
            yield op.name, "arrays", _write(op, names), {n: vectors[n] for n in names}
            if op.arity == 2:  # a constant input: folded into the gate's symbol and formulas
                yield op.name, "constant", _write(op, ["x", "2"]), {"x": VECTORS["x"]}
            elif op.arity == 3:  # constant bounds
                yield op.name, "constant", _write(op, ["x", "1", "2"]), {"x": VECTORS["x"]}
        elif op.arity == 1:
            yield op.name, "vector", _write(op, ["x"]), {"x": VECTORS["x"]}
            yield op.name, "matrix", _write(op, ["X"]), {"X": MATRICES["X"]}
            for axis in (0, 1, -1) if "axis" in op.params else ():
                yield op.name, f"axis{axis}", _write(op, ["X"], axis), {"X": MATRICES["X"]}
            # inside a bigger expression: its gradient meets an elementwise gate's
            yield op.name, "inside", f"sum(exp(-{_write(op, ['X'])}) * 0.5)", {"X": MATRICES["X"]}
        else:
            yield op.name, "vectors", _write(op, ["x", "y"]), {"x": VECTORS["x"], "y": VECTORS["y"]}
            yield op.name, "matrices", _write(op, ["X", "Y"]), {"X": MATRICES["X"], "Y": MATRICES["Y"]}
            yield op.name, "matrix-vector", _write(op, ["X", "y"]), {"X": MATRICES["X"], "y": "[1.2,0.4]"}


# What the registry alone does not make: the patterns --stable rewrites, forks, a function's call.
EXTRA = [
    ("neuron", "1/(1+exp(-(w0*x0+w1*x1+w2)))", {"w0": "2", "x0": "-1", "w1": "-3", "x1": "-2", "w2": "-3"}),
    ("softplus-pattern", "log(1+exp(x))", {"x": VECTORS["x"]}),
    ("logsumexp-pattern", "log(sum(exp(X), axis=1))", {"X": MATRICES["X"]}),
    ("fork", "x*x + x", {"x": SCALARS["x"]}),
    ("function", "g(t) = sigmoid(t) * t\ng(x) + g(y)", {"x": VECTORS["x"], "y": VECTORS["y"]}),
    ("outer", "sum(x * T(x))", {"x": "[[0.5],[1.5]]"}),
]

CASES = [pytest.param(program, values, id=f"{name}-{kind}") for name, kind, program, values in cases()]
CASES += [pytest.param(program, values, id=name) for name, program, values in EXTRA]

# Programs that are wrong for a reason of the input: gradcli's own error, exit 1, for each op that
# is not elementwise.
BAD = [pytest.param(program, values, id=f"{op.name}-{kind}") for op in OPS.values() if not op.elementwise
       and op.name not in DERIVATIVE_OPS + SKIPPED
       for kind, program, values in (
           [("axis", _write(op, ["x"], 3), {"x": VECTORS["x"]})] if "axis" in op.params else
           [("shapes", _write(op, ["x", "X"]), {"x": VECTORS["x"], "X": MATRICES["X"]}),
            ("scalar", _write(op, ["x", "y"]), {"x": VECTORS["x"], "y": "2"})] if op.arity == 2 else
           [])]

OPTIONS = [
    [], ["--all"], ["--digits", "3"], ["--digits", "17"], ["--expand"], ["--stable"],
    ["-f", "json"], ["-f", "csv"], ["-f", "plain"], ["-f", "dot"], ["-f", "tree"], ["-f", "tree", "--all"],
    ["--steps"], ["--steps", "--all"], ["--steps", "-f", "json"],
]

# Without TERM=dumb, the formats whose text differs from their ASCII one.
PLAIN_OPTIONS = [[], ["-f", "csv"], ["-f", "dot"], ["-f", "tree"], ["--steps"], ["--steps", "-f", "json"]]

NUMBER = re.compile(r"(?<![\w.])-?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?(?![\w.])|(?<![\w])-?(?:nan|inf)(?!\w)")


SHAPE = re.compile(r"\((?:\d+, )*\d+,?\) ")  # an array preview's shape: (3,) [1, 2, 3]


def _run(cli, monkeypatch, program, values, options, dumb: bool):
    if dumb:
        monkeypatch.setenv("TERM", "dumb")
    else:
        monkeypatch.delenv("TERM", raising=False)
    result = cli("eval", program, *[f"{k}={v}" for k, v in values.items()], *options)
    assert "internal error" not in result.stderr + result.stdout
    if dumb:
        assert (result.stdout + result.stderr).isascii(), (result.stdout + result.stderr)
    return result


def _flat(data) -> list:
    """Every number of a JSON value, in order (nan and inf as floats)."""
    if isinstance(data, list):
        return [x for item in data for x in _flat(item)]
    if isinstance(data, str):
        return {"NaN": [math.nan], "Infinity": [math.inf], "-Infinity": [-math.inf]}.get(data, [])
    return [] if data is None else [float(data)]


def _close(shown: float, value: float, digits: int) -> bool:
    if math.isnan(value) or math.isinf(value):
        return shown == value or (math.isnan(shown) and math.isnan(value))
    return math.isclose(shown, value, rel_tol=10.0 ** (1 - digits), abs_tol=1e-300)


def _parse(token: str) -> float:
    return float(token)


def _matches(cell: str, expected, digits: int, dumb: bool) -> bool:
    """Whether a table cell (a number, an array preview "(2,) [1, 2]", or a rule) shows `expected`."""
    cell = cell.strip()
    if isinstance(expected, str) and expected not in ("NaN", "Infinity", "-Infinity"):
        return cell == (plain_ascii(expected) if dumb else expected)
    numbers = _flat(expected)
    if isinstance(expected, list):
        shape, _, preview = cell.partition(") ")
        assert shape.startswith("("), cell
        cell = preview
    shown = [_parse(t) for t in NUMBER.findall(cell)]
    return len(shown) == len(numbers) and all(_close(s, n, digits) for s, n in zip(shown, numbers))


def _edges(doc: dict) -> list[tuple[dict, dict]]:
    """(gate, input record) of every chain-rule step, in the order the table shows them."""
    return [(node, inp) for node in reversed(doc["nodes"]) for inp in node["inputs"]
            if inp["local"] is not None]


def _digits(options) -> int:
    return int(options[options.index("--digits") + 1]) if "--digits" in options else 6


@pytest.mark.parametrize("program, values", CASES)
def test_every_renderer_shows_every_op(cli, monkeypatch, program, values):
    base = ("--expand", "--stable")  # options that change the graph, so the document
    docs = {}
    for extra in ([], ["--expand"], ["--stable"]):
        result = _run(cli, monkeypatch, program, values, ["-f", "json", *extra], dumb=False)
        assert result.exit_code == 0, result.stderr
        docs[tuple(extra)] = json.loads(result.stdout)
    doc = docs[()]
    # the reference itself: central differences, independently of every renderer
    arrays = {k: json.loads(v) for k, v in values.items()}
    for name, numeric in numeric_gradients(program, arrays).items():
        np.testing.assert_allclose(np.array(_flat(doc["gradients"][name])), np.ravel(numeric),
                                   rtol=1e-5, atol=1e-7)
    for dumb, option_set in ((True, OPTIONS), (False, PLAIN_OPTIONS)):
        for options in option_set:
            result = _run(cli, monkeypatch, program, values, options, dumb)
            assert result.exit_code == 0, (options, result.stderr)
            key = tuple(o for o in options if o in base)
            _check_numbers(result.stdout, options, docs[key], dumb)


@pytest.mark.parametrize("program, values", CASES)
def test_check_renders_every_op(cli, monkeypatch, program, values):
    """`gradcli check`'s table and JSON: every op passes, the table shows each analytic gradient."""
    args = ["check", program, *[f"{k}={v}" for k, v in values.items()]]
    monkeypatch.setenv("TERM", "dumb")
    report = json.loads(cli(*args, "--format", "json").stdout)
    result = cli(*args)
    assert result.exit_code == 0 and report["passed"], (result.stdout, result.stderr)
    assert "internal error" not in result.stderr and (result.stdout + result.stderr).isascii()
    rows = [line.split(" | ") for line in result.stdout.splitlines() if line.count(" | ") == 4]
    assert len(rows) == len(report["checks"]) + 1
    for row, entry in zip(rows[1:], report["checks"]):
        assert row[0].strip() == entry["label"] and row[4].strip() == entry["verdict"]
        assert math.isclose(float(row[1]), entry["analytic"], rel_tol=1e-5, abs_tol=1e-300)


def _check_numbers(out: str, options: list[str], doc: dict, dumb: bool) -> None:
    digits = _digits(options)
    edges = _edges(doc)
    every = [x for node in doc["nodes"] for x in _flat(node["value"]) + _flat(node["gradient"])
             + [y for inp in node["inputs"] for y in _flat([inp["local"], inp["upstream"], inp["result"]])]]
    fmt = options[options.index("-f") + 1] if "-f" in options else "table"
    if "--steps" in options and fmt == "json":
        steps = json.loads(out)
        shown = [(edge["id"], edge["local"], edge["upstream"], edge["result"])
                 for step in steps["steps"] for edge in step["edges"]]
        wanted = [(inp["id"], inp["local"], inp["upstream"], inp["result"]) for _, inp in edges]
        assert sorted(map(repr, shown)) == sorted(map(repr, wanted))
    elif "--steps" in options:
        lines = [line for line in out.splitlines() if "[local " in line]
        assert len(lines) == len(edges)
        for line in lines:
            match = re.search(r"\[local (.*)\] [×*] \[upstream (.*)\] = (.*?)(?:    \S.*)?$", line)
            assert match, line
            local = match.group(1).rsplit(" = ", 1)[-1]
            shown = match.group(2) + " " + match.group(3)
            if re.fullmatch(r"(\(.*?\) )?[-\d.e, \[\]nanif]+", local):  # a number, not a rule's text
                shown += " " + local
            for token in NUMBER.findall(SHAPE.sub("", shown)):
                assert any(_close(_parse(token), n, digits) for n in every), (token, line)
    elif fmt == "json":
        assert json.loads(out) == doc
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(out)))
        assert rows[0] == ["gate", "op", "role", "input", "value", "local", "upstream", "result",
                           "input_value", "symbol"]
        assert len(rows) - 1 == len(edges)
        values = {node["id"]: node["value"] for node in doc["nodes"]}
        for row, (node, inp) in zip(rows[1:], edges):
            assert row[1] == node["op"] and row[9] == (plain_ascii(node["symbol"]) if dumb else node["symbol"])
            for cell, expected in zip(row[4:9], [node["value"], inp["local"], inp["upstream"], inp["result"],
                                                 values[inp["id"]]]):
                if isinstance(expected, str) and expected not in ("NaN", "Infinity", "-Infinity"):
                    assert cell == (plain_ascii(expected) if dumb else expected)
                else:
                    shown = _flat(json.loads(cell if cell.startswith("[") else json.dumps(float(cell))))
                    assert shown == pytest.approx(_flat(expected), rel=1e-15, nan_ok=True)
    elif fmt == "plain":
        lines = dict(line.split(" ", 1) for line in out.splitlines())
        assert _flat(json.loads(lines.pop("f"))) == pytest.approx(_flat(doc["value"]), rel=1e-15)
        assert list(lines) == list(doc["gradients"])
        for name, text in lines.items():
            assert _flat(json.loads(text)) == pytest.approx(_flat(doc["gradients"][name]), rel=1e-15)
    elif fmt in ("tree", "dot"):
        pattern = r"(?:value|gradient) (\S.*?)(?=  gradient |  \S|$)" if fmt == "tree" else r'">([^<]*)</font>'
        found = re.findall(pattern, out, re.MULTILINE)
        assert found
        for text in found:
            for token in NUMBER.findall(SHAPE.sub("", text)):
                assert any(_close(_parse(token), n, digits) for n in every + _flat(doc["value"])), (token, text)
    else:  # the table, laid out in ASCII for a pipe: the numbers of every edge, in order
        rows = [line.split(" | ") for line in out.splitlines() if line.count(" | ") == 8]
        assert [cell.strip() for cell in rows[0]] == ["gate", "op", "role", "input", "input value",
                                                      "gate output", "local", "upstream", "result"]
        assert len(rows) - 1 == len(edges)
        values = {node["id"]: node["value"] for node in doc["nodes"]}
        for row, (node, inp) in zip(rows[1:], edges):
            assert row[1].strip().removesuffix(" (stable)") == (plain_ascii(node["symbol"]) if dumb else node["symbol"])
            for cell, expected in zip(row[4:], [values[inp["id"]], node["value"], inp["local"], inp["upstream"],
                                                inp["result"]]):
                assert _matches(cell, expected, digits, dumb), (cell, expected)
        lines = [line for line in out.splitlines() if line.startswith(("∂f/∂", "df/d"))]
        assert len(lines) == len(doc["gradients"])
        for line, (name, gradient) in zip(lines, doc["gradients"].items()):
            assert _matches(line.split(" = ", 1)[1], gradient, digits, dumb), (line, gradient)


@pytest.mark.parametrize("program, values", BAD)
@pytest.mark.parametrize("options", [[], ["-f", "csv"], ["--steps"], ["-f", "plain"]])
def test_a_bad_shape_is_one_error_whatever_the_renderer(cli, monkeypatch, program, values, options):
    for dumb in (False, True):
        result = _run(cli, monkeypatch, program, values, options, dumb)
        assert result.exit_code == 1
        assert result.stderr.startswith("error: ") and result.stdout == ""
