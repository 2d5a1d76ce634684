"""The README is the user's manual: its examples must print what it says, and it must cover
every command, option and function."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import click
import pytest
import typer
from typer.testing import CliRunner

from gradcli.cli import app
from gradcli.ops import FUNCTIONS

README_PATH = Path(__file__).resolve().parent.parent / "README.md"
README = README_PATH.read_text(encoding="utf-8")
_CONSOLE_BLOCK = re.compile(r"^( *)```console\n(.*?)^\1```", flags=re.S | re.M)


def console_examples():
    """(command, expected stdout) for each ```console block: `$ gradcli …` then its output."""
    examples = []
    for block in _CONSOLE_BLOCK.findall(README):
        indent, body = block
        lines = [line[len(indent):] for line in body.splitlines()]
        assert lines and lines[0].startswith("$ gradcli "), lines[:1]
        examples.append((lines[0][2:], "\n".join(lines[1:])))
    return examples


def run_example(command: str):
    return CliRunner().invoke(app, shlex.split(command)[1:])


def update_readme() -> None:
    """`python tests/test_readme.py --update` rewrites each console block with the real output."""
    def fill(match):
        indent, body = match.group(1), match.group(2)
        command = body.splitlines()[0][len(indent) + 2:]
        output = "\n".join(line.rstrip() for line in run_example(command).stdout.strip("\n").splitlines())
        lines = [f"$ {command}"] + output.splitlines()
        return "".join(f"{indent}{line}".rstrip() + "\n" for line in [f"```console"] + lines) + f"{indent}```"

    os.chdir(README_PATH.parent)  # examples name files such as examples/points.csv
    README_PATH.write_text(_CONSOLE_BLOCK.sub(fill, README), encoding="utf-8")


def _normal(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


@pytest.mark.parametrize("command, expected", console_examples(), ids=lambda v: v[:50])
def test_console_example_prints_what_the_readme_shows(command, expected, monkeypatch):
    monkeypatch.chdir(README_PATH.parent)  # examples name files such as examples/points.csv
    result = run_example(command)
    assert result.exit_code == 0, result.output
    assert _normal(result.stdout) == _normal(expected)


def test_there_are_console_examples():
    assert len(console_examples()) >= 5


def test_every_option_of_every_command_is_documented():
    command = typer.main.get_command(app)
    ctx = click.Context(command)
    for name, sub in command.commands.items():
        assert f"gradcli {name}" in README
        for param in sub.params:
            for opt in param.opts:
                if opt.startswith("-"):
                    assert f"`{opt}" in README, f"{name} {opt} is not in the README"
    assert "--version" in README
    assert ctx is not None


def test_every_function_is_documented():
    for name in FUNCTIONS:
        assert f"`{name}(" in README, f"function {name} is not in the README"


def test_ci_runs_the_readme_test_command():
    marker = README.index("<!-- ci-test-command")
    command = README[marker:].split("```sh\n", 1)[1].splitlines()[0]
    assert "pytest" in command and command.startswith("python3 -m venv .venv")
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "ci-test-command" in ci and 'eval "$cmd"' in ci


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--update"]:
        update_readme()
