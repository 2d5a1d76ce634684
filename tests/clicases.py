"""Generated command lines for the CLI boundary test (tests/test_cli_property.py) and its campaign.

A case is one run of gradcli as a user would type it: a program (random expressions over every op
of the registry, array ops with axis keywords, user functions, several statements, constants at
the edges of float64), values (edge scalars, vectors, matrices, mismatched shapes, missing and
misspelt names, huge integers, non-numbers), options (every format and flag of `eval`, `check`
with `--expect`, `batch` with a generated CSV) and routes (argument, --file, stdin, --values,
@file). `generate(rng)` builds one from a random.Random, so Hypothesis (st.randoms) and a seeded
generator drive the same code; `run(case, folder)` runs it through Click's CliRunner and returns
the problems found, each with a kind to count and deduplicate by.

The contract checked: exit code 0, 1 or 2; no "internal error", no traceback, no exception out
of the command; a failure says why on stderr ("error: …", or Click's usage text for 2); stderr
holds only gradcli's own lines (no Python warning, no path of the installed package); the run
ends within a hang guard; and `--format json` and `--format plain` (the traced and the untraced
engine) give the same f, gradients and warnings.

Campaign (collects every distinct failure instead of stopping at the first; every 50th case also
runs as a real `gradcli` process, with stdout a pipe, /dev/full, closed, or closed after one line):
    nice -n 10 .venv/bin/python tests/clicases.py --cases 20000 --seed 1 --report campaign.json
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import shlex
import signal
import string
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gradcli.core.ops import FUNCTIONS

TMP = "@TMP@"  # stands for the case's folder in arguments, replaced when the case runs
HANG_SECONDS = 10  # a generous bound: a case is a few small arrays; only a hang takes this long

VARIABLES = ("x", "y", "z", "W", "v", "w0")
MISSPELT = {"x": "X", "y": "yy", "z": "s", "W": "w", "v": "V", "w0": "wo"}
ELEMENTWISE = sorted(name for name, op in FUNCTIONS.items() if op.elementwise)  # pow, max, min, exp, …
REDUCTIONS = ("sum", "mean", "max", "min", "logsumexp", "norm")
# literals at the edges of float64 and of the ops' domains (a sign comes from a unary minus)
LITERALS = ("0", "0.0", "1", "2", "3", "0.5", "1.5", "1e-5", "1e-310", "5e-324", "2.2250738585072014e-308",
            "1e-200", "1e200", "1e308", "1.7976931348623157e308", "1e400", "38", "19", "710", "745", "1000",
            "pi", "e", "123456789012345678901234567890", ".5", "1.")
SCALARS = (0.0, -0.0, 1.0, -1.0, 1.5, -2.0, 0.5, 3.0, 1e-310, -1e-310, 5e-324, 1e-200, 1e200, 1e308,
           -1e308, 1.7976931348623157e308, 2.2250738585072014e-308, 38.0, -38.0, 19.0, 710.0, -745.0,
           1e-16, math.nan, math.inf, -math.inf)


class BigInt(str):
    """A whole number too long for a float's digits: written as digits in text and in JSON."""


class Raw(str):
    """Value text that is not a number at all (a typo, a stray word): written as it is."""


# -- programs --------------------------------------------------------------------------------

def _leaf(rng, names):
    if names and rng.random() < 0.7:
        return rng.choice(names)
    return rng.choice(LITERALS)


def expr(rng, depth: int, names, funcs: dict, arrays: bool = True) -> str:
    """An expression over `names` and the user functions `funcs` (name → arity), every gate in
    parentheses where precedence matters; now and then a misuse (a wrong arity, an axis where
    none goes, an unknown function) that must be a clear error. `arrays`: array ops too."""
    if depth <= 0 or rng.random() < 0.2:
        return _leaf(rng, names)
    sub = lambda: expr(rng, depth - 1, names, funcs, arrays)  # noqa: E731
    r = rng.random()
    if r > 0.985:
        return rng.choice(MISUSES)(sub)
    if funcs and r < 0.12:
        name = rng.choice(sorted(funcs))
        args = [sub() for _ in range(funcs[name])]
        if rng.random() < 0.03:
            args.append("axis=0")  # a keyword a user function does not take
        return f"{name}({', '.join(args)})"
    if r < 0.4:
        op = rng.choice(("+", "-", "*", "/", "**", "^", "*", "+", "@") if arrays else ("+", "-", "*", "/", "**", "^"))
        return f"({sub()} {op} {sub()})"
    if r < 0.65 or not arrays:
        if r > 0.9:
            return f"{rng.choice(('-', '-', '+'))}{sub()}"
        name = rng.choice(ELEMENTWISE)
        arity = FUNCTIONS[name].arity
        return f"{name}({', '.join(sub() for _ in range(arity))})"
    if r < 0.8:
        name = rng.choice(REDUCTIONS)
        axis = f", axis={rng.choice(('0', '1', '-1', '0', '1', '-1', '2', '-2'))}" if rng.random() < 0.4 else ""
        return f"{name}({sub()}{axis})"
    if r < 0.86:
        return f"dot({sub()}, {sub()})"
    if r < 0.92:
        return f"T({sub()})"
    if r < 0.95 and names:  # a derivative: of any order, nested, of arrays (a non-scalar is an error)
        order = rng.choice(("", "", "", ", 2", ", 3", ", 0", ", 25", ", x"))
        return f"diff({sub()}, {rng.choice(list(names) + ['2', 'q'])}{order})"
    return f"{rng.choice(('-', '-', '+'))}{sub()}"


MISUSES = (
    lambda sub: f"exp({sub()}, axis=0)", lambda sub: f"sum({sub()}, {sub()})", lambda sub: f"sum({sub()}, axis=1.5)",
    lambda sub: f"mean({sub()}, axis=x)", lambda sub: f"max({sub()}, {sub()}, {sub()})", lambda sub: f"foo({sub()})",
    lambda sub: f"sum({sub()}, axis=0, axis=1)", lambda sub: f"norm({sub()}, keepdims=1)",
    lambda sub: f"T({sub()}, {sub()})", lambda sub: f"sum({sub()}, axis=99999999999999999999)",
    lambda sub: f"x({sub()})", lambda sub: "dot()", lambda sub: f"max({sub()}, axis=-99999999999999999999)",
    lambda sub: f"clip({sub()}, {sub()})", lambda sub: f"atan2({sub()})",
)


def program(rng, arrays: bool = True) -> str:
    """Function definitions, assignments (= += -= *= /=) and a last expression, separated by `;`
    or newlines; sometimes comments and blank statements."""
    funcs: dict[str, int] = {}
    names = list(VARIABLES[: rng.randint(1, len(VARIABLES))])
    statements = []
    for i in range(rng.choice((0, 0, 0, 1, 1, 2))):
        fname = f"{rng.choice(('g', 'h', 'sq', 'act', 'loss'))}{i}"
        if rng.random() < 0.03:
            fname = rng.choice(("sum", "exp", "x"))  # a built-in's or a variable's name
        params = ["t", "u"][: rng.choice((1, 1, 2))]
        body_names = params + (["x"] if rng.random() < 0.05 else [])  # a free name in a body: an error
        statements.append(f"{fname}({', '.join(params)}) = {expr(rng, rng.randint(1, 3), body_names, funcs, arrays)}")
        funcs[fname] = len(params)
    for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
        target = rng.choice(("a", "b", "x", "q"))
        op = rng.choice(("=", "=", "=", "+=", "-=", "*=", "/="))
        if target not in names and rng.random() < 0.95:
            op = "="  # `a += 1` before any `a = …` is an error: now and then
        statements.append(f"{target} {op} {expr(rng, rng.randint(1, 3), names, funcs, arrays)}")
        if target not in names:
            names.append(target)
    statements.append(expr(rng, rng.randint(1, 4), names, funcs, arrays))
    sep = rng.choice(("; ", "\n", ";\n", "\r\n", "\n\n"))
    text = sep.join(statements)
    if rng.random() < 0.1:
        text = f"# a comment\n{text} # the output\n"
    if rng.random() < 0.05:
        text = ";" + text + ";"
    return text


def variables_of(source: str) -> list[str]:
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", source))
    return [name for name in VARIABLES if name in words]


# -- values ----------------------------------------------------------------------------------

def _scalar(rng):
    r = rng.random()
    if r < 0.03:
        return BigInt("9" * rng.choice((30, 400, 5000)))
    if r < 0.05:
        return Raw(rng.choice(("abc", "1,5", "--1", "1e", "0x10", "true", "", "[", "1 2", "∞", "nan nan")))
    return rng.choice(SCALARS)


def value(rng, shape):
    if not shape:
        return _scalar(rng)
    return [value(rng, shape[1:]) for _ in range(shape[0])]


def shape_for(rng, n: int, m: int):
    r = rng.random()
    if r < 0.45:
        return ()
    if r < 0.7:
        return (n,)
    if r < 0.85:
        return (m, n)
    if r < 0.9:
        return (n, n)
    return rng.choice(((1,), (m,), (n, 1), (1, n), (2, 2, 2), (0,), (m + 1,)))  # odd and mismatched


def text_of(v) -> str:
    """Value text for NAME=VALUE."""
    if isinstance(v, list):
        return "[" + ",".join(text_of(e) for e in v) + "]"
    if isinstance(v, str):
        return str(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return repr(v)


def json_of(v, rng) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(json_of(e, rng) for e in v) + "]"
    if isinstance(v, BigInt):
        return str(v)
    if isinstance(v, Raw):
        return json.dumps(str(v))
    if math.isnan(v):
        return rng.choice(('"NaN"', "NaN", "null"))
    if math.isinf(v):
        word = "Infinity" if v > 0 else "-Infinity"
        return rng.choice((f'"{word}"', word, "1e999" if v > 0 else "-1e999"))
    return repr(v)


def csv_of(v, rng) -> str:
    rows = v if isinstance(v, list) and v and isinstance(v[0], list) else [v if isinstance(v, list) else [v]]
    lines = [",".join(text_of(c) for c in row) if all(not isinstance(c, list) for c in row) else "[x]"
             for row in rows]
    if rng.random() < 0.3:
        lines.insert(0, ",".join(f"c{i}" for i in range(len(rows[0]) if rows[0] else 1)))
    return "\n".join(lines) + "\n"


def npy_of(v, rng) -> bytes:
    buffer = io.BytesIO()
    try:
        array = np.array(v, dtype=np.float64)
    except (ValueError, TypeError, OverflowError):
        array = np.array([1.0, 2.0])
    kind = rng.random()
    if kind < 0.1:
        array = array.astype(np.complex128)
    elif kind < 0.15:
        array = np.array(["a", "b"])
    elif kind < 0.25:
        array = np.nan_to_num(array).astype(np.int64) if np.all(np.abs(np.nan_to_num(array)) < 2**62) else array
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


# -- cases -----------------------------------------------------------------------------------

@dataclass
class Case:
    args: list[str]
    stdin: bytes | None = None
    files: dict[str, bytes] = field(default_factory=dict)  # name in the case's folder → content
    twin: str | None = None  # "plain" or "json": also run with that format and compare

    def shell(self) -> str:
        """The case as shell lines a person can paste (files first, then the command)."""
        lines = [f"{_printf(content)} > {name}" for name, content in self.files.items()]
        command = "gradcli " + " ".join(shlex.quote(a.replace(TMP + "/", "")) for a in self.args)
        if self.stdin is not None:
            command = f"{_printf(self.stdin)} | {command}"
        return "\n".join(lines + [command])


def _printf(data: bytes) -> str:
    """A printf command writing exactly these bytes."""
    try:
        text = data.decode("ascii")
        if text.isprintable() or set(text) <= set(string.printable):
            return f"printf %s {shlex.quote(text)}"
    except UnicodeDecodeError:
        pass
    escaped = "".join(chr(c) if 32 <= c < 127 and chr(c) not in "\\%'" else f"\\{c:03o}" for c in data)
    return f"printf '{escaped}'"


class _Builder:
    def __init__(self, rng):
        self.rng = rng
        self.stdin: bytes | None = None
        self.files: dict[str, bytes] = {}

    def stdin_or_file(self, content: bytes, suffix: str) -> str:
        """'-' (stdin) the first time, and now and then again (two readers of stdin: an error);
        else a file in the case's folder."""
        rng = self.rng
        if self.stdin is None and rng.random() < 0.5:
            self.stdin = content
            return "-"
        if self.stdin is not None and rng.random() < 0.05:
            return "-"
        return self.file(content, suffix)

    def file(self, content: bytes, suffix: str) -> str:
        name = f"f{len(self.files)}{suffix}"
        self.files[name] = content
        return f"{TMP}/{name}"


def _encode(text: str, rng) -> bytes:
    r = rng.random()
    if r < 0.9:
        return text.encode()
    if r < 0.93:
        return b"\xef\xbb\xbf" + text.encode()  # a byte-order mark
    if r < 0.96:
        return text.encode("utf-16")
    if r < 0.98:
        return text.encode() + b"\xe9"  # a Latin-1 byte
    return bytes(rng.randrange(256) for _ in range(rng.randint(1, 40)))


def _values(rng, b: _Builder, names: list[str], command: str) -> list[str]:
    """Arguments giving the variables their values, by every route; now and then a name missing,
    misspelt, extra or given twice."""
    n, m = rng.choice((2, 3)), rng.choice((2, 3))
    chosen = {}
    for name in names:
        if rng.random() < 0.04:
            continue  # missing
        given = MISSPELT[name] if rng.random() < 0.04 else name
        chosen[given] = value(rng, shape_for(rng, n, m))
    if rng.random() < 0.05:
        chosen[rng.choice(("extra", "pi", "e", "1x"))] = value(rng, ())
    args: list[list[str]] = []  # units: an option and its value stay together
    in_file = {}
    for name, v in chosen.items():
        route = rng.random()
        if route < 0.5:
            args.append([f"{name}={text_of(v)}"])
        elif route < 0.65:
            args.append([rng.choice(("--set", "-s")), f"{name}={text_of(v)}"])
        elif route < 0.8:
            in_file[name] = v
        elif route < 0.88:
            where = b.stdin_or_file(_encode(json_of(v, rng), rng), ".json")
            args.append([f"{name}=@{where}"])
        elif route < 0.95:
            where = b.stdin_or_file(_encode(csv_of(v, rng), rng), ".csv")
            args.append([f"{name}=@{where}"])
        else:
            args.append([f"{name}=@{b.file(npy_of(v, rng), '.npy')}"])
    if in_file:
        body = "{" + ", ".join(f"{json.dumps(k)}: {json_of(v, rng)}" for k, v in in_file.items()) + "}"
        if rng.random() < 0.03:
            body = rng.choice(("[1, 2]", "{", '{"x": {"y": 1}}', "1e999", ""))
        args.append(["--values", b.stdin_or_file(_encode(body, rng), ".json")])
    if chosen and rng.random() < 0.03:
        name = rng.choice(sorted(chosen))
        args.append([f"{name}=1"])  # given twice
    if rng.random() < 0.2:
        rng.shuffle(args)
    return [a for unit in args for a in unit]


def _program_args(rng, b: _Builder, source: str) -> tuple[list[str], list[str]]:
    """(arguments before the values, options) carrying the program by one of its routes."""
    r = rng.random()
    if r < 0.75:
        return [source], []
    if r < 0.85:
        return [], ["--file", b.file(_encode(source, rng), ".grad")]
    if b.stdin is None:
        b.stdin = _encode(source, rng)
        return (["-"], []) if r < 0.93 else ([], ["--file", "-"])
    return [source], []


def _eval_options(rng, names: list[str]) -> tuple[list[str], str | None]:
    fmt = rng.choice((None, "table", "json", "json", "csv", "plain", "plain", "dot", "tree"))
    options = [] if fmt is None else [rng.choice(("--format", "-f")), fmt]
    if rng.random() < (0.25 if fmt in (None, "table", "json") else 0.03):
        options.append("--steps")
    for flag, p in (("--expand", 0.2), ("--stable", 0.15), ("--all", 0.1), ("-q", 0.15), ("--strict", 0.15),
                    ("--no-color", 0.05)):
        if rng.random() < p:
            options.append(flag)
    if rng.random() < 0.15:
        wrt = rng.sample(names, k=min(len(names), rng.randint(1, 2))) if names else ["x"]
        if rng.random() < 0.15:
            wrt.append(rng.choice(("X", "nope", "", "a")))
        options += ["--wrt", ",".join(wrt)]
    if rng.random() < 0.15:
        options += ["--digits", str(rng.choice((1, 2, 6, 12, 17, 17, 0, 18)))]
    if rng.random() < 0.1:
        options += ["--max-memory", rng.choice(("1KB", "200", "2kB", "10MB", "0", "1.5KiB", "abc", "-1",
                                                "99999999999999999999TB", "1e3"))]
    if fmt in (None, "dot") and "--steps" not in options and rng.random() < 0.04:
        options += ["--output", f"{TMP}/circuit.dot"]
    twin = None
    if fmt in ("json", "plain") and "--steps" not in options:
        twin = "plain" if fmt == "json" else "json"
    return options, twin


def _batch(rng, b: _Builder, source: str, names: list[str]) -> list[str]:
    columns = [n for n in names if rng.random() < 0.7] or names[:1] or ["x"]
    constants = [n for n in names if n not in columns]
    header = list(columns)
    if rng.random() < 0.05:
        header = header + header[:1]  # a duplicate column
    if rng.random() < 0.05:
        header = [MISSPELT.get(h, h) for h in header]
    lines = [",".join(header)] if rng.random() < 0.95 else []
    for _ in range(rng.randint(0, 5)):
        cells = [text_of(_scalar(rng)) if rng.random() < 0.95 else "" for _ in header]
        if rng.random() < 0.03:
            cells = cells[:-1]
        lines.append(",".join(cells))
    newline = "\r\n" if rng.random() < 0.1 else "\n"
    data = _encode(newline.join(lines) + (newline if rng.random() < 0.9 else ""), rng)
    where = b.stdin_or_file(data, ".csv") if b.stdin is None else b.file(data, ".csv")
    args = ["batch", source, "--input", where]
    args += [f"{n}={text_of(value(rng, () if rng.random() < 0.85 else (2,)))}" for n in constants]
    if rng.random() < 0.2:
        args += ["--chunk-size", str(rng.choice((1, 2, 3, 65536, 0, -1, 99999999999999999999)))]
    if rng.random() < 0.3:
        args += ["--format", rng.choice(("csv", "ndjson"))]
    for flag, p in (("--fail-fast", 0.15), ("--strict", 0.15)):
        if rng.random() < p:
            args.append(flag)
    if rng.random() < 0.1:
        args += ["--output", rng.choice((f"{TMP}/out.csv", "/dev/full", "-"))]
    return args


def _check(rng, b: _Builder, names: list[str]) -> list[str]:
    options = []
    for name in names:
        if rng.random() < 0.2:
            shape = () if rng.random() < 0.7 else (rng.choice((2, 3)),)
            options += [rng.choice(("--expect", "-e")), f"{name}={text_of(value(rng, shape))}"]
    if rng.random() < 0.15:
        options += ["--h", rng.choice(("1e-5", "1e-8", "0", "-1", "1e300", "nan"))]
    if rng.random() < 0.1:
        options += ["--rtol", rng.choice(("0", "1e-12", "inf", "nan"))]
    if rng.random() < 0.1:
        options += ["--atol", rng.choice(("0", "1", "nan"))]
    if rng.random() < 0.4:
        options += ["--format", rng.choice(("table", "json"))]
    if rng.random() < 0.15:
        options.append("-q")
    if rng.random() < 0.1:
        options += ["--digits", str(rng.choice((1, 17)))]
    return options


def generate(rng) -> Case:
    """One command line: eval (most), check or batch."""
    b = _Builder(rng)
    command = rng.choices(("eval", "check", "batch"), weights=(0.7, 0.15, 0.15))[0]
    source = program(rng, arrays=command != "batch" or rng.random() < 0.1)
    names = variables_of(source)
    if command == "batch":
        args = _batch(rng, b, source, names)
        return Case(args, b.stdin, b.files)
    head, route_options = _program_args(rng, b, source)
    values = _values(rng, b, names, command)
    if command == "check":
        options, twin = _check(rng, b, names), None
    else:
        options, twin = _eval_options(rng, names)
    options = route_options + options
    if rng.random() < 0.5:
        args = [command, *options, *head, *values]
    else:
        args = [command, *head, *values, *options]
    if head == [] and not route_options and not values:
        args.append("--help")
    return Case(args, b.stdin, b.files, twin)


# -- running and checking --------------------------------------------------------------------

@dataclass
class Problem:
    kind: str  # what to count and deduplicate by: the exception and where, the stray line, …
    detail: str


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None
    exc_info: object
    stray_warnings: list
    seconds: float


class Hang(BaseException):
    """Raised by the hang guard; a BaseException, so that CliRunner does not catch it."""


PACKAGE = str(Path(__import__("gradcli").__file__).resolve().parent)
_STDERR_LINE = re.compile(r"(error|warning|hint): |check (passed|failed): |  |\s*\^")


def invoke(args: list[str], stdin: bytes | None, seconds: float = HANG_SECONDS) -> Run:
    from typer.testing import CliRunner

    from gradcli.commands.cli import app

    def alarm(signum, frame):
        raise Hang()

    guard = hasattr(signal, "SIGALRM") and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None)
    if guard:
        signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = CliRunner().invoke(app, args, input=stdin if stdin is not None else b"")
    finally:
        if guard:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
    return Run(result.exit_code, result.stdout, result.stderr, result.exception, result.exc_info,
               list(caught), time.perf_counter() - start)


def _where(exc_info) -> str:
    """The innermost frame in gradcli itself: file:line function."""
    if not exc_info or exc_info[2] is None:
        return "?"
    frames = [f for f in traceback.extract_tb(exc_info[2]) if f.filename.startswith(PACKAGE)]
    frame = frames[-1] if frames else traceback.extract_tb(exc_info[2])[-1]
    return f"{os.path.relpath(frame.filename, os.path.dirname(PACKAGE))}:{frame.lineno} {frame.name}"


def _generalise(text: str) -> str:
    """A message with its particulars (numbers, quoted text, paths) replaced, to count kinds."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", text)
    text = re.sub(r"/[\w./@-]+", "PATH", text)
    text = re.sub(r"0x[0-9a-fA-F]+", "0xN", text)
    text = re.sub(r"\d+(\.\d+)?(e[+-]?\d+)?", "N", text)
    return text[:160]


def contract(run: Run) -> list[Problem]:
    """Everything a single run must satisfy."""
    problems = []
    out, err = run.stdout, run.stderr
    if run.exception is not None and not isinstance(run.exception, SystemExit):
        name = type(run.exception).__name__
        problems.append(Problem(f"internal error: {name}: {_generalise(str(run.exception))} at {_where(run.exc_info)}",
                                f"{name}: {run.exception}"))
        return problems  # the rest follows from it (exit 1, stderr empty)
    if run.exit_code not in (0, 1, 2):
        problems.append(Problem(f"exit code {run.exit_code}", err[-300:]))
    for word in ("internal error", "Traceback"):
        if word in out or word in err:
            problems.append(Problem(f"says {word!r}", err[-300:]))
    if PACKAGE in out or PACKAGE in err:
        problems.append(Problem("a path of the installed package in the output", err[-300:]))
    lines = err.splitlines()
    if run.exit_code == 1 and not any(line.startswith(("error:", "check failed:")) for line in lines):
        problems.append(Problem("exit 1 without an 'error:' line on stderr", err[-300:] or "(stderr empty)"))
    # a usage error is written like every other error (issue 18): 'error:', then 'hint:'
    if run.exit_code == 2 and not any(line.startswith("error:") for line in lines):
        problems.append(Problem("exit 2 without an 'error:' line on stderr", err[-300:] or "(stderr empty)"))
    for line in lines:
        if not _STDERR_LINE.match(line):
            problems.append(Problem(f"stray stderr line: {_generalise(line)}", line[:300]))
    for w in run.stray_warnings:
        where = f"{os.path.relpath(w.filename, os.path.dirname(PACKAGE))}:{w.lineno}"
        message = _generalise(str(w.message))
        problems.append(Problem(f"stray Python warning: {w.category.__name__}: {message} at {where}",
                                str(w.message)))
    return problems


def _numbers(data):
    if isinstance(data, list):
        return [_numbers(d) for d in data]
    if isinstance(data, str):
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[data]
    return float(data)


def _plain(stdout: str) -> tuple[object, dict]:
    pairs = [line.split(" ", 1) for line in stdout.splitlines() if line]
    read = {name: _numbers(json.loads(text) if text not in ("NaN", "Infinity", "-Infinity") else text)
            for name, text in pairs}
    f = read.pop("f")
    return f, read


def _json(stdout: str) -> tuple[object, dict]:
    doc = json.loads(stdout)
    return _numbers(doc["value"]), {k: _numbers(v) for k, v in doc["gradients"].items()}


def _agree(a, b) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        return False
    with np.errstate(all="ignore"):
        return bool(np.all((a == b) | (np.isnan(a) & np.isnan(b)) | (np.abs(a - b) <= 1e-12 * np.abs(b))))


def _diagnostics(stderr: str) -> list[str]:
    return sorted(line for line in stderr.splitlines() if line.startswith(("warning:", "error:")))


def paths_agree(json_run: Run, plain_run: Run) -> list[Problem]:
    """--format json (traced) and --format plain (untraced): same exit, f, gradients, warnings."""
    limit = "more than the memory limit"
    if limit in json_run.stderr:
        return []  # the traced path keeps per-edge records, so it may need more (README); plain alone is checked
    if json_run.exit_code != plain_run.exit_code:
        return [Problem(f"json and plain disagree: exit {json_run.exit_code} vs {plain_run.exit_code}",
                        f"json stderr: {json_run.stderr[-200:]!r}; plain stderr: {plain_run.stderr[-200:]!r}")]
    problems = []
    if json_run.exit_code == 0:
        try:
            (fj, gj), (fp, gp) = _json(json_run.stdout), _plain(plain_run.stdout)
        except (ValueError, KeyError) as exc:
            return [Problem("unreadable json or plain output", f"{type(exc).__name__}: {exc}")]
        if list(gj) != list(gp) or not _agree(fj, fp) or not all(_agree(gj[k], gp[k]) for k in gj):
            problems.append(Problem("json and plain disagree: values", f"json f={fj} {gj}; plain f={fp} {gp}"))
    dj, dp = _diagnostics(json_run.stderr), _diagnostics(plain_run.stderr)
    if dj != dp:
        only_j = sorted(set(dj) - set(dp))
        only_p = sorted(set(dp) - set(dj))
        kind = "json and plain disagree: diagnostics"
        first = (only_j or only_p or ["(counts differ)"])[0]
        problems.append(Problem(f"{kind}: {'json' if only_j else 'plain'} alone says {_generalise(first)}",
                                f"only json: {only_j}; only plain: {only_p}"))
    return problems


@dataclass
class Outcome:
    problems: list[Problem]
    exit_code: int | None  # of the first run; None for a hang
    first_error: str = ""  # its first "error:" line, generalised (where generated cases end)
    first: Run | None = None


def run(case: Case, folder: Path) -> Outcome:
    """Run the case (and its twin in the other machine format) in `folder`; every problem."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in case.files.items():
        (folder / name).write_bytes(content)
    args = [a.replace(TMP, str(folder)) for a in case.args]
    try:
        first = invoke(args, case.stdin)
    except Hang:
        return Outcome([Problem("hang", f"no end after {HANG_SECONDS} s")], None)
    errors = [line for line in first.stderr.splitlines() if line.startswith("error:")]
    outcome = Outcome(contract(first), first.exit_code, _generalise(errors[0])[:70] if errors else "", first)
    if case.twin and not outcome.problems:
        other = [case.twin if a in ("json", "plain") and i and args[i - 1] in ("--format", "-f") else a
                 for i, a in enumerate(args)]
        try:
            second = invoke(other, case.stdin)
        except Hang:
            outcome.problems = [Problem("hang", f"no end after {HANG_SECONDS} s (--format {case.twin})")]
            return outcome
        outcome.problems = [Problem(p.kind, f"{p.detail} (in the --format {case.twin} run)") for p in contract(second)]
        if not outcome.problems:
            pair = (first, second) if case.twin == "plain" else (second, first)
            outcome.problems = paths_agree(*pair)
    return outcome


# -- the real process ------------------------------------------------------------------------

def _executable() -> list[str]:
    script = Path(sys.executable).parent / "gradcli"
    return [str(script)] if script.exists() else [sys.executable, "-m", "gradcli"]


def invoke_process(args: list[str], stdin: bytes | None, stdout: str, env: dict, cwd: Path | None = None) -> Run:
    """Run the installed `gradcli` with stdout a pipe ("pipe"), /dev/full ("full"), closed
    ("closed"), or a pipe closed after the first line ("head", like `| head -1`)."""
    import subprocess

    target = {"pipe": subprocess.PIPE, "head": subprocess.PIPE, "full": open(os.devnull if not
              os.path.exists("/dev/full") else "/dev/full", "wb"), "closed": subprocess.DEVNULL}[stdout]
    preexec = (lambda: os.close(1)) if stdout == "closed" else None
    start = time.perf_counter()
    process = subprocess.Popen(_executable() + args, stdin=subprocess.PIPE, stdout=target, stderr=subprocess.PIPE,
                               env=env, preexec_fn=preexec, cwd=cwd)
    try:
        if stdout == "head":
            process.stdin.write(stdin or b"")
            process.stdin.close()
            process.stdout.readline()
            process.stdout.close()
            err = process.stderr.read()
            process.wait(HANG_SECONDS)
            out = b""
        else:
            out, err = process.communicate(stdin or b"", timeout=HANG_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise Hang() from None
    except BrokenPipeError:  # it ended before reading all of stdin
        out, err = process.communicate()
    finally:
        if stdout == "full":
            target.close()
    return Run(process.returncode, (out or b"").decode("utf-8", "replace"), err.decode("utf-8", "replace"),
               None, None, [], time.perf_counter() - start)


def process_contract(run: Run, stdout: str, in_process: Run) -> list[Problem]:
    """The contract for a real process, and for stdout that cannot be written or stops reading."""
    problems = []
    match = re.search(r"internal error \((\w+): (.*?)\); rerun", run.stderr)
    if match:
        what = f"{match.group(1)}: {_generalise(match.group(2))}"
        problems.append(Problem(f"internal error (process, stdout {stdout}): {what}",
                                run.stderr.strip()[-300:]))
        return problems
    problems += [Problem(f"{p.kind} (process, stdout {stdout})", p.detail) for p in contract(run)]
    wrote = in_process.exit_code == 0 and in_process.stdout != ""
    if stdout in ("full", "closed") and wrote and run.exit_code == 0:
        problems.append(Problem(f"stdout {stdout}: the output was lost and the exit code is 0", run.stderr[-300:]))
    if stdout in ("full", "closed") and wrote and run.exit_code == 1 and "error: cannot write" not in run.stderr:
        problems.append(Problem(f"stdout {stdout}: no 'error: cannot write' message",
                                _generalise(run.stderr.strip().splitlines()[-1] if run.stderr.strip() else "(none)")))
    if stdout == "head" and in_process.exit_code == 0 and run.exit_code != 0:
        problems.append(Problem(f"stdout closed by the reader (| head -1): exit {run.exit_code}", run.stderr[-300:]))
    return problems


def run_process(case: Case, folder: Path, rng, in_process: Run) -> list[Problem]:
    """The case once more as a real process, with a random stdout and stdin decoding."""
    args = [a.replace(TMP, str(folder)) for a in case.args]
    stdout = rng.choice(("pipe", "pipe", "full", "closed", "head"))
    env = {k: v for k, v in os.environ.items() if k != "GRADCLI_DEBUG"}
    if rng.random() < 0.5:
        env["PYTHONIOENCODING"] = "utf-8:strict"  # as under a UTF-8 locale such as en_US.UTF-8
    try:
        result = invoke_process(args, case.stdin, stdout, env, cwd=folder)  # what it writes stays there
    except Hang:
        return [Problem("hang (process)", f"no end after {HANG_SECONDS} s")]
    return [Problem(p.kind, f"{p.detail} [PYTHONIOENCODING={env.get('PYTHONIOENCODING', '')}]")
            for p in process_contract(result, stdout, in_process)]


# -- the campaign ----------------------------------------------------------------------------

def campaign(cases: int, seed: int, report: str | None, folder: Path, process_every: int = 0) -> dict:
    """Run `cases` generated cases from `seed`, never stopping at a failure; count failures by kind
    and keep the shortest reproducing command of each. Every `process_every`-th case also runs as
    a real process (with stdout a pipe, /dev/full, closed, or closed early by its reader)."""
    import random
    import shutil

    kinds: dict[str, dict] = {}
    exits: dict[str, int] = {}
    ends: dict[str, int] = {}
    processes = 0
    failing = 0
    start = time.time()
    for i in range(cases):
        rng = random.Random(f"{seed}:{i}")
        case = generate(rng)
        where = folder / f"case{i % 4}"
        shutil.rmtree(where, ignore_errors=True)
        outcome = run(case, where)
        problems = list(outcome.problems)
        if process_every and i % process_every == 0 and outcome.first is not None:
            problems += run_process(case, where, rng, outcome.first)
            processes += 1
        key = f"{case.args[0]} exit {outcome.exit_code}"
        exits[key] = exits.get(key, 0) + 1
        if outcome.first_error:
            ends[outcome.first_error] = ends.get(outcome.first_error, 0) + 1
        failing += bool(problems)
        for p in problems:
            entry = kinds.setdefault(p.kind, {"count": 0, "example": None, "detail": None, "case": None})
            entry["count"] += 1
            command = case.shell()
            if entry["example"] is None or len(command) < len(entry["example"]):
                entry["example"], entry["detail"], entry["case"] = command, p.detail, f"{seed}:{i}"
        if (i + 1) % 500 == 0:
            print(f"{i + 1} cases, {failing} failing, {len(kinds)} kinds, {time.time() - start:.0f} s",
                  file=sys.stderr, flush=True)
    summary = {"cases": cases, "processes": processes, "seed": seed, "failing_cases": failing,
               "internal_errors": sum(e["count"] for k, e in kinds.items() if k.startswith("internal error")),
               "hangs": sum(e["count"] for k, e in kinds.items() if k.startswith("hang")),
               "seconds": round(time.time() - start),
               "exits": dict(sorted(exits.items())),
               "first_errors": dict(sorted(ends.items(), key=lambda kv: -kv[1])),
               "kinds": dict(sorted(kinds.items(), key=lambda kv: -kv[1]["count"]))}
    if report:
        Path(report).write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
    return summary


def main(argv=None) -> int:
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=int(os.environ.get("GRADCLI_CLI_CASES", 1000)))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--process-every", type=int, default=50, metavar="K",
                        help="also run every K-th case as a real process (0: never)")
    parser.add_argument("--report", help="write the counts and an example of each failure kind here (JSON)")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        summary = campaign(options.cases, options.seed, options.report, Path(folder), options.process_every)
    print(f"{summary['cases']} cases ({summary['processes']} also as a process): {summary['failing_cases']} failing, "
          f"{summary['internal_errors']} internal "
          f"errors, {summary['hangs']} hangs, {len(summary['kinds'])} kinds of failure ({summary['seconds']} s)")
    print("exit codes:", ", ".join(f"{k}: {v}" for k, v in summary["exits"].items()))
    for kind, entry in summary["kinds"].items():
        print(f"\n[{entry['count']}] {kind}\n  {entry['detail'][:300]}\n  case {entry['case']}:")
        print("    " + entry["example"].replace("\n", "\n    "))
    return 1 if summary["kinds"] else 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
