"""Inputs a person or a script can produce that must neither crash, hang, nor print a wrong number
without a warning. Each case runs through the CLI (no traceback is checked by the fixture)."""

from __future__ import annotations

import json
import math

import pytest

import gradcli
from gradcli.language.parser import MAX_SOURCE_CHARS


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t", "# only a comment", "# one\n# two\n", ";;;"])
def test_nothing_to_evaluate(cli, text):
    result = cli("eval", text)
    assert result.exit_code == 1
    assert "nothing to evaluate" in result.stderr


def test_unbalanced_parentheses_100000_deep(cli):
    result = cli("eval", "(" * 100_000 + "x")
    assert result.exit_code == 1
    assert "100000 '(' are not closed" in result.stderr
    assert len(result.stderr) < 1000  # the caret line is cut to a window, not 100,000 characters


def test_a_program_over_the_size_limit_is_refused_quickly(cli):
    text = "x+" * (MAX_SOURCE_CHARS // 2) + "x"  # just over the limit
    result = cli("eval", text, "x=1")
    assert result.exit_code == 1
    assert f"the limit is {MAX_SOURCE_CHARS:,}" in result.stderr


def test_the_limit_can_be_lifted_from_python():
    text = "x+" * (MAX_SOURCE_CHARS // 2) + "x"
    with pytest.raises(gradcli.ResourceError):
        gradcli.parse(text)
    assert len(gradcli.parse("x+x", max_chars=None)) == 2


def test_a_100000_character_name(cli):
    name = "a" * 100_000
    result = cli("eval", f"{name} * 2")
    assert result.exit_code == 1
    assert "no value for variable aaaa" in result.stderr and len(result.stderr) < 500
    result = cli("eval", f"{name} * 2", f"{name}=3", "--format", "plain")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "f 6.0"


@pytest.mark.parametrize("text, where", [("9**9**9**9", "9**9**9"), ("1e999 * x", "1e999"),
                                         ("exp(exp(exp(1000)))", "exp(1000)")])
def test_overflow_becomes_inf_with_a_warning(cli, text, where):
    result = cli("eval", text, "x=1", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["value"] == "Infinity"
    assert where in result.stderr and "inf" in result.stderr
    assert cli("eval", text, "x=1", "--strict").exit_code == 1


@pytest.mark.parametrize("text", ["__import__", "__import__('os')", "os.system('ls')", "x.__class__",
                                  "eval('1')", "x; import os", "lambda: 1", "[x for x in y]"])
def test_python_lookalikes_are_never_evaluated(cli, text):
    result = cli("eval", text, "x=1", "y=2")
    assert result.exit_code == 1
    assert "error:" in result.stderr


def test_dunder_names_get_a_hint(cli):
    assert "names may not start with '__'" in cli("eval", "__import__").stderr


@pytest.mark.parametrize("text, char", [("x·y", "'·'"), ("∂f", "'∂'"), ("x\u00a0+ y", "U+00A0"),
                                        ("x\x00", "U+0000"), ("é + 1", "'é'")])
def test_non_ascii_and_control_characters_are_clear_syntax_errors(cli, text, char):
    result = cli("eval", text, "x=1", "y=1")
    assert result.exit_code == 1
    assert f"unexpected character {char}" in result.stderr


def test_nul_byte_in_a_program_file(cli, tmp_path):
    program = tmp_path / "nul.grad"
    program.write_bytes(b"x * 2\x00")
    result = cli("eval", "--file", str(program), "x=1")
    assert result.exit_code == 1 and "U+0000" in result.stderr


@pytest.mark.parametrize("value", ["[1e999]", "-inf", "nan"])
def test_non_finite_values_are_reported(cli, value):
    result = cli("eval", "x * 2", f"x={value}")
    assert result.exit_code == 0
    assert "the value of 'x' holds" in result.stderr


def test_huge_array_value_is_refused_by_the_memory_estimate(cli):
    big = "[" + ",".join(["1"] * 200_000) + "]"
    result = cli("eval", "exp(x) * x + sin(x)", f"x={big}", "--max-memory", "10MB")
    assert result.exit_code == 1
    assert "memory limit" in result.stderr


def test_deep_expression_gradient_is_still_right():
    # 1000 nested sin: the chain rule multiplies 1000 cosines
    x = 0.3
    result = gradcli.evaluate("sin(" * 1000 + "x" + ")" * 1000, x=x)
    value, grad = x, 1.0
    for _ in range(1000):
        grad *= math.cos(value)
        value = math.sin(value)
    assert result.value == pytest.approx(value, rel=1e-12)
    assert result.gradients["x"] == pytest.approx(grad, rel=1e-9)
