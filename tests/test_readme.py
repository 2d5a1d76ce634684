"""The README is the user's manual: its examples must print what it says, and it must cover
every command, option and function."""

from __future__ import annotations

import math
import os
import re
import shlex
import subprocess
import sys
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


# A number printed in full (the shortest text that reads back as the same float64, 15 or more
# significant digits) may differ in its last digits between CPUs: NumPy's exp, log, ... use the
# processor's vector instructions (AVX-512, AVX2, NEON), which round differently. The README says
# so; its examples are compared to within ULPS units in the last place, everything else exactly.
_FULL = re.compile(r"-?\d+\.\d{14,}(?:e[-+]?\d+)?|-?\d\.\d{13,}e[-+]?\d+")
ULPS = 4


def _same_output(actual: str, expected: str) -> bool:
    """Equal text, but for full-precision numbers, which may differ by ULPS units in the last place."""
    actual, expected = _normal(actual), _normal(expected)
    if _FULL.sub("#", actual) != _FULL.sub("#", expected):
        return False
    for a, e in zip(_FULL.findall(actual), _FULL.findall(expected)):
        a, e = float(a), float(e)
        if abs(a - e) > ULPS * math.ulp(max(abs(a), abs(e))):
            return False
    return True


@pytest.mark.parametrize("command, expected", console_examples(), ids=lambda v: v[:50])
def test_console_example_prints_what_the_readme_shows(command, expected, monkeypatch):
    monkeypatch.chdir(README_PATH.parent)  # examples name files such as examples/points.csv
    result = run_example(command)
    assert result.exit_code == 0, result.output
    assert _same_output(result.stdout, expected), f"{_normal(result.stdout)}\n!=\n{_normal(expected)}"


def _dispatched_simd() -> list[str]:
    """The SIMD levels above the build's baseline that NumPy found and dispatches to here."""
    try:
        from numpy._core import _multiarray_umath as umath
    except ImportError:  # NumPy 1.x
        from numpy.core import _multiarray_umath as umath
    return [name for name in umath.__cpu_dispatch__ if umath.__cpu_features__.get(name)]


@pytest.mark.skipif(not _dispatched_simd(), reason="NumPy dispatches to no SIMD level above its baseline here")
def test_console_examples_hold_without_the_newer_simd_levels():
    """The README's numbers are the same (to ULPS) on a CPU without this one's vector instructions:
    NumPy is told to use only its baseline kernels, as on an older x86-64 machine."""
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": " ".join(_dispatched_simd())}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__,
                           "-k", "test_console_example_prints"], env=env, capture_output=True, text=True,
                          cwd=README_PATH.parent, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


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


def test_every_role_is_in_the_role_table():
    from gradcli.ops import ROLES

    table = README[README.index("### Gate roles"):].split("\n\n###", 1)[0]
    for role in ROLES:
        assert f"| `{role}` |" in table, f"role {role} is not in the README's role table"


def test_stable_help_names_every_rewrite(cli):
    text = " ".join(cli("eval", "--help").stdout.split())
    for rewrite in ("into sigmoid(u)", "into softplus(u)", "log(sum(exp(u))) into logsumexp(u)"):
        assert rewrite in text, rewrite


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
