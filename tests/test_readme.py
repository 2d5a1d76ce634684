"""The README is the user's manual: its examples must print what it says, and it must cover
every command, option and function."""

from __future__ import annotations

import math
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
import typer
from typer.testing import CliRunner

from gradcli.commands.cli import app
from gradcli.core.ops import FUNCTIONS

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
    README_PATH.write_text(update_sh_blocks(_CONSOLE_BLOCK.sub(fill, README)), encoding="utf-8")


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


# ```sh blocks show whole sessions: `$ COMMAND` lines, each followed by what it printed, stdout
# first, then stderr (a run's messages, its summary); `$ echo $?` shows the exit code before it.
_SH_BLOCK = re.compile(r"^```sh\n(.*?)^```", flags=re.S | re.M)
# The relative errors of a numeric gradient (1e-5 and below) are rounding noise, whose digits
# depend on the platform's exp and log (the README says so): they are compared as a pattern.
_NOISE = re.compile(r"\b\d\.\de-(?:0[5-9]|[1-9]\d)\b")


def sh_sessions():
    """Each ```sh block that runs gradcli, as a list of (command, shown output) in order."""
    return [steps for steps in map(_sh_steps, _SH_BLOCK.findall(README)) if _runs_gradcli(steps)]


def _sh_steps(body: str) -> list[tuple[str, str]]:
    steps = []
    for line in body.splitlines():
        if line.startswith("$ "):
            steps.append([line[2:], []])
        elif steps:
            steps[-1][1].append(line)
    return [(command, "\n".join(shown)) for command, shown in steps]


def _runs_gradcli(steps) -> bool:
    return any(command.startswith("gradcli ") or "| gradcli " in command for command, _ in steps)


def run_sh(command: str, cwd: Path, last_exit: list):
    """What one `$ COMMAND` of a session prints (stdout, then stderr), or None where the output is
    not gradcli's alone (piped into jq or awk). Runs gradcli in-process (its output piped, not a
    terminal), a printf or echo that feeds it or writes a file with the shell."""
    if command == "echo $?":
        return str(last_exit[0])
    tokens = shlex.split(command)
    if tokens[0] != "gradcli":
        if "| gradcli" not in command:
            subprocess.run(["bash", "-c", command], cwd=cwd, check=True)  # printf ... > bad.csv
            return ""
        producer, command = command.split(" | gradcli ", 1)
        stdin = subprocess.run(["bash", "-c", producer], cwd=cwd, check=True, capture_output=True).stdout
        tokens = shlex.split("gradcli " + command)
    else:
        stdin = None
    if "|" in tokens:
        return None
    to_null = tokens[-2:] == [">", "/dev/null"]
    if to_null:
        tokens = tokens[:-2]
    assert not {">", "<", "2>"} & set(tokens), command
    cwd_before = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(app, tokens[1:], input=stdin)
    finally:
        os.chdir(cwd_before)
    last_exit[0] = result.exit_code
    return ("" if to_null else result.stdout) + result.stderr


def _sh_workdir(tmp: Path) -> Path:
    (tmp / "examples").symlink_to(README_PATH.parent / "examples")
    (tmp / "docs").mkdir()
    return tmp


@pytest.mark.parametrize("session", sh_sessions(), ids=lambda s: s[0][0][:50])
def test_sh_session_prints_what_the_readme_shows(session, tmp_path):
    if any("--output" in command for command, _ in session) and shutil.which("dot") is None:
        pytest.skip("drawing an image needs Graphviz's dot")
    cwd, last_exit = _sh_workdir(tmp_path), [0]
    for command, shown in session:
        actual = run_sh(command, cwd, last_exit)
        if actual is None:
            continue
        actual, expected = _NOISE.sub("#e-#", actual), _NOISE.sub("#e-#", shown)
        assert _same_output(actual, expected), f"$ {command}\n{_normal(actual)}\n!=\n{_normal(expected)}"


def test_there_are_sh_sessions():
    assert len(sh_sessions()) >= 8


def update_sh_blocks(text: str) -> str:
    """Each ```sh session's shown output, regenerated from a real run (piped output)."""
    import tempfile

    def fill(match):
        steps = _sh_steps(match.group(1))
        if not _runs_gradcli(steps):
            return match.group(0)
        lines, last_exit = [], [0]
        with tempfile.TemporaryDirectory() as tmp:
            cwd = _sh_workdir(Path(tmp))
            for command, shown in steps:
                actual = run_sh(command, cwd, last_exit)
                lines.append(f"$ {command}")
                lines.extend(line.rstrip() for line in (shown if actual is None else _normal(actual)).splitlines())
        return "```sh\n" + "".join(line + "\n" for line in lines) + "```"

    return _SH_BLOCK.sub(fill, text)


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
    for name in command.list_commands(ctx):  # the commands are built when asked for
        sub = command.get_command(ctx, name)
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
    from gradcli.core.ops import ROLES

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
