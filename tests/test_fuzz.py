"""Fuzzing the CLI and the API: whatever the input, gradcli exits 0, 1 or 2, never with a
traceback, says why on stderr when it fails, and finishes in bounded time.

A modest budget runs in CI; GRADCLI_HYPOTHESIS=deep runs a long campaign.
"""

from __future__ import annotations

import os
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import gradcli
from gradcli.commands.cli import app

DEEP = os.environ.get("GRADCLI_HYPOTHESIS") == "deep"
FUZZ = settings(max_examples=3000 if DEEP else 120, deadline=5000, derandomize=not DEEP,
                suppress_health_check=[HealthCheck.too_slow])

VALID = [
    "(x + y) * z",
    "1/(1+exp(-(w0*x0+w1*x1+w2)))",
    "2*(x*y + max(z, w))",
    "q = x + y; f = q * z",
    "c = x + y\nc += c + 1\nc *= 2",
    "-x**2 + 2^3^2 + 2**-y",
    "sigmoid(x) * tanh(y) - relu(z) / (abs(w) + 1)",
    "log(sqrt(x*x + 1)) + sin(y) * cos(z) - tan(w) + pow(x, 2) + min(x, y)",
    "(x\n + y) # comment",
]
TOKEN = re.compile(r"\d+\.?\d*(?:[eE][+-]?\d+)?|[A-Za-z_]\w*|\*\*|[+\-*/^=;(),\n]|\s+|#[^\n]*|.")
VALUES = ["x=1.5", "y=-2", "z=[1,2,3]", "w=0", "w0=2", "x0=-1", "w1=-3", "x1=-2", "w2=-3"]


@st.composite
def mutated(draw) -> str:
    """A valid program with tokens deleted, doubled or swapped."""
    tokens = TOKEN.findall(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 4))):
        if not tokens:
            break
        i = draw(st.integers(0, len(tokens) - 1))
        kind = draw(st.sampled_from(["delete", "double", "swap"]))
        if kind == "delete":
            del tokens[i]
        elif kind == "double":
            tokens.insert(i, tokens[i])
        elif i + 1 < len(tokens):
            tokens[i], tokens[i + 1] = tokens[i + 1], tokens[i]
    return "".join(tokens)


set_values = st.one_of(
    st.sampled_from(VALUES),
    st.builds(lambda n, v: f"{n}={v}", st.sampled_from(["x", "y", "z", "w", "q", "1x", ""]),
              st.one_of(st.text(max_size=12), st.from_regex(r"\[?[-0-9.e, \[\]]{0,12}\]?", fullmatch=True))),
    st.text(max_size=10),
)


def check_cli(args: list[str]) -> None:
    result = CliRunner().invoke(app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{args!r} raised {type(result.exception).__name__}: {result.exception}")
    assert result.exit_code in (0, 1, 2), (args, result.exit_code)
    assert "Traceback" not in result.stdout + result.stderr
    if result.exit_code != 0:
        assert result.stderr.strip(), args


def check_api(source: str, values: dict) -> None:
    try:
        gradcli.evaluate(source, values)
    except gradcli.GradcliError as error:
        assert error.render().strip()


@FUZZ
@given(st.text(max_size=60), st.lists(set_values, max_size=4))
def test_random_text_through_the_cli(text, pairs):
    check_cli(["eval", text, *pairs])


@FUZZ
@given(st.binary(max_size=60))
def test_random_bytes_through_the_api(data):
    check_api(data.decode("utf-8", errors="replace"), {"x": 1.0, "y": 2.0})


@FUZZ
@given(mutated(), st.lists(set_values, max_size=5), st.sampled_from(["table", "json", "csv", "plain"]))
def test_near_valid_programs_through_the_cli(source, pairs, fmt):
    check_cli(["eval", source, *VALUES, "--format", fmt] if not pairs else ["eval", source, *pairs])


@FUZZ
@given(mutated(), st.dictionaries(st.sampled_from(["x", "y", "z", "w", "w0", "x0"]),
                                  st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                                            st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=3)),
                                  max_size=6))
def test_near_valid_programs_through_the_api(source, values):
    check_api(source, values)
