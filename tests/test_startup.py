"""What a start-up loads. bench/startup.py measures the time of the README's sigmoid example; these
tests keep what made it shorter from coming back unnoticed: a run builds only its own command
(Typer reads a command's parameters when the command line names it), and loads none of the modules
that only other commands, help or a terminal need."""

import json
import subprocess
import sys

import pytest

SIGMOID = ["eval", "1/(1+exp(-(w0*x0+w1*x1+w2)))", "--set", "w0=2", "--set", "x0=-1", "--set", "w1=-3",
           "--set", "x1=-2", "--set", "w2=-3"]

# A fresh process runs the console script's main() (stdout a pipe, as in the benchmark) and reports
# its exit code, the commands Typer built and the modules it imported.
PROBE = """
import json, sys
import typer.main

built = []
build = typer.main.get_command_from_info


def counting(info, **options):
    built.append(info.name)
    return build(info, **options)


typer.main.get_command_from_info = counting
sys.argv = ["gradcli"] + json.loads(sys.argv[1])
from gradcli.commands.cli import main

try:
    main()
except SystemExit as exit:
    code = exit.code
sys.stdout.flush()
sys.stderr.write("\\nPROBE " + json.dumps({"code": code, "built": built, "modules": sorted(sys.modules)}))
"""

# Loaded by other commands, by help, by a terminal's table, or by nothing a plain run reaches.
NOT_AT_START_UP = [
    "rich", "lark", "sympy", "typer.rich_utils",
    "gradcli.commands.helptext", "gradcli.commands.batch",
    "gradcli.render.language", "gradcli.render.steps", "gradcli.render.tree", "gradcli.render.dot",
    "gradcli.render.forward",
    "gradcli.language.printer", "gradcli.language.formula", "gradcli.language.symbolic",
    "gradcli.language.lalr_build", "gradcli.language.rewrite",
    "gradcli.evaluation.hessian", "gradcli.evaluation.edge_pushing", "gradcli.evaluation.check",
    "gradcli.evaluation.formulas", "gradcli.evaluation.engine",
    "gradcli.inputs.datafiles", "gradcli.base.outfile",
]


def probe(args: list[str]) -> tuple[str, dict]:
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True,
                          timeout=120)
    stderr, _, report = done.stderr.rpartition("\nPROBE ")
    assert report, done.stderr[-2000:]
    return done.stdout, json.loads(report)


def loaded(modules: list[str], name: str) -> bool:
    return any(m == name or m.startswith(name + ".") for m in modules)


@pytest.mark.parametrize("output", ["json", "table"])
def test_the_sigmoid_example_builds_eval_only_and_loads_nothing_else(output):
    args = SIGMOID + (["--format", "json"] if output == "json" else [])
    stdout, report = probe(args)
    assert report["code"] == 0
    if output == "json":
        assert json.loads(stdout)["value"] == pytest.approx(0.7310585786300049, abs=1e-12)
    else:
        assert "0.731059" in stdout
    assert report["built"] == ["eval"]
    modules = report["modules"]
    assert [name for name in NOT_AT_START_UP if loaded(modules, name)] == []
    # each run loads its own renderer only
    other = "gradcli.render.table" if output == "json" else "gradcli.render.jsondoc"
    assert other not in modules


def test_help_and_an_unknown_command_build_every_command():
    _, report = probe(["--help"])
    assert report["code"] == 0 and report["built"] == ["eval", "check", "jvp", "diff", "hessian", "jacobian", "plot", "batch", "repl", "help"]
    _, report = probe(["evl", "x"])
    assert report["code"] == 2 and sorted(report["built"]) == sorted(["eval", "check", "jvp", "diff", "hessian", "jacobian", "plot", "batch", "repl",
                                                                      "help"])


# The console script (cli.run) ends the process with os._exit once main() is done, without the
# interpreter's teardown: what it prints, writes and exits with must be what main() gives.
ENTRY = """
import sys
sys.argv = ["gradcli"] + sys.argv[1:]
from gradcli.commands import cli
cli.{}()
"""


@pytest.mark.parametrize("args, code", [
    (SIGMOID + ["--format", "json"], 0),
    (SIGMOID, 0),
    (["eval", "x +", "x=1"], 1),  # bad input
    (["eval", "x", "x=1", "--fromat", "json"], 2),  # usage error
    (["eval", "x*y", "x=2", "y=3", "--output", "{tmp}/c.dot"], 0),  # a file written whole
])
def test_the_console_script_ends_as_main_does(args, code, tmp_path):
    outputs = []
    for entry in ("run", "main"):
        folder = tmp_path / entry
        folder.mkdir()
        command = [a.replace("{tmp}", str(folder)) for a in args]
        done = subprocess.run([sys.executable, "-c", ENTRY.format(entry), *command], capture_output=True, text=True,
                              timeout=120)
        written = (folder / "c.dot").read_text() if (folder / "c.dot").exists() else None
        outputs.append((done.returncode, done.stdout, done.stderr, written))
    assert outputs[0] == outputs[1]
    assert outputs[0][0] == code and (outputs[0][1] or outputs[0][3] or outputs[0][2])
