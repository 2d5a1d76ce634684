"""gradcli in shell scripts: sources (argument, --file, stdin), NAME=VALUE pairs, machine formats,
--wrt, --quiet, colours and exit codes, through the CLI as a user runs it."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest

SIGMOID = "1/(1+exp(-(w0*x0+w1*x1+w2)))"
SIGMOID_PAIRS = ["w0=2", "x0=-1", "w1=-3", "x1=-2", "w2=-3"]
# d sigmoid / d w0 etc. at the lecture's point, from backprop.md
SIGMOID_GRADIENTS = {"w0": -0.19661193324148188, "x0": 0.39322386648296376, "w1": -0.39322386648296376,
                     "x1": -0.5898357997244457, "w2": 0.19661193324148188}


def run(*args: str, stdin: str | bytes | None = None, env: dict | None = None):
    """The installed program as a user runs it: a fresh process."""
    full_env = {**os.environ, **(env or {})}
    data = stdin.encode() if isinstance(stdin, str) else stdin
    return subprocess.run([sys.executable, "-m", "gradcli", *args], input=data, capture_output=True,
                          env=full_env, timeout=60)


def parse_plain(text: str) -> dict:
    return {name: float(value) for name, value in (line.split(" ", 1) for line in text.splitlines())}


def test_plain_lists_f_first_then_every_gradient(cli):
    result = cli("eval", SIGMOID, *SIGMOID_PAIRS, "--format", "plain")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split()[0] == "f"
    values = parse_plain(result.stdout)
    assert values["f"] == pytest.approx(0.7310585786300049, rel=1e-15)
    for name, grad in SIGMOID_GRADIENTS.items():
        assert values[name] == pytest.approx(grad, rel=1e-12)
    assert result.stderr == ""


def test_plain_writes_arrays_as_one_field(cli):
    result = cli("eval", "x*x", "x=[1,2,3]", "--format", "plain")
    assert result.stdout.splitlines() == ["f [1.0,4.0,9.0]", "x [2.0,4.0,6.0]"]


def test_csv_is_the_per_edge_table_with_a_header(cli):
    result = cli("eval", "(x + y) * z", "x=-2", "y=5", "z=-4", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["input"] for r in rows] == ["x + y", "z", "x", "y"]
    by_input = {r["input"]: r for r in rows}
    # the lecture: ∂f/∂q = z = -4, ∂f/∂z = q = 3, then the add gate passes -4 to x and y
    assert float(by_input["x + y"]["local"]) == -4.0 and float(by_input["z"]["result"]) == 3.0
    assert float(by_input["x"]["upstream"]) == -4.0 and float(by_input["y"]["result"]) == -4.0
    assert all(float(r["value"]) in (-12.0, 3.0) for r in rows)


def test_csv_and_plain_write_non_finite_numbers_readably(cli):
    result = cli("eval", "log(x)", "x=-1", "--format", "plain")
    assert result.stdout.splitlines()[0] == "f NaN"
    assert "log" in result.stderr  # the warning goes to stderr, never into the data


def test_wrt_names_only_the_chosen_gradients_in_order(cli):
    result = cli("eval", SIGMOID, *SIGMOID_PAIRS, "--format", "json", "--wrt", "x1,w0")
    doc = json.loads(result.stdout)
    assert list(doc["gradients"]) == ["x1", "w0"]
    assert doc["gradients"]["x1"] == pytest.approx(SIGMOID_GRADIENTS["x1"], rel=1e-12)


@pytest.mark.parametrize("wrt, message, code", [("w9", "--wrt w9", 1), ("x,xx", "did you mean 'x'", 1),
                                                 (",", "at least one", 2)])
def test_wrt_of_a_non_variable_is_an_error(cli, wrt, message, code):
    # no name at all is a usage error (2), as for every command's --wrt and --outputs
    result = cli("eval", "x*y", "x=1", "y=2", "--wrt", wrt)
    assert result.exit_code == code
    assert message in result.stderr


def test_name_value_pairs_are_the_same_as_set(cli):
    by_pairs = cli("eval", "(x + y) * z", "x=-2", "y=5", "z=-4", "-f", "json").stdout
    by_set = cli("eval", "(x + y) * z", "--set", "x=-2", "-s", "y=5", "z=-4", "-f", "json").stdout
    assert json.loads(by_pairs)["gradients"] == json.loads(by_set)["gradients"] == {"x": -4, "y": -4, "z": 3}


def test_a_name_given_twice_is_an_error_whichever_way(cli):
    for args in (["x=1", "--set", "x=2"], ["x=1", "x=2"], ["--set", "x=1", "--set", "x=1"]):
        result = cli("eval", "x*2", *args)
        assert result.exit_code == 1, args
        assert "x is given a value twice" in result.stderr


def test_program_from_a_file_with_crlf_line_ends(cli, tmp_path):
    program = tmp_path / "lecture.grad"
    program.write_bytes(b"# the lecture's example\r\nq = x + y\r\nf = q * z\r\n")
    result = cli("eval", "--file", str(program), "x=-2", "y=5", "z=-4", "--format", "plain")
    assert result.exit_code == 0, result.stderr
    assert parse_plain(result.stdout) == {"f": -12.0, "x": -4.0, "y": -4.0, "z": 3.0}


def test_syntax_error_in_a_crlf_file_points_at_the_right_line(cli, tmp_path):
    program = tmp_path / "bad.grad"
    program.write_bytes(b"q = x + y\r\nf = q * * z\r\n")
    result = cli("eval", "--file", str(program))
    assert result.exit_code == 1
    assert "line 2, column 9" in result.stderr and "\r" not in result.stderr


def test_missing_file_is_one_clear_error(cli, tmp_path):
    result = cli("eval", "--file", str(tmp_path / "nope.grad"))
    assert result.exit_code == 1
    assert "nope.grad" in result.stderr and "No such file" in result.stderr


def test_program_from_stdin_with_dash():
    result = run("eval", "-", "x=3", "y=4", "--format", "plain", stdin="x*y\n")
    assert result.returncode == 0, result.stderr
    assert parse_plain(result.stdout.decode()) == {"f": 12.0, "x": 4.0, "y": 3.0}
    result = run("eval", "--file", "-", "x=3", "--format", "plain", stdin="x**2")
    assert parse_plain(result.stdout.decode()) == {"f": 9.0, "x": 6.0}


def test_stdin_that_is_not_utf8_is_an_error():
    result = run("eval", "-", stdin=b"x\xff")
    assert result.returncode == 1
    assert b"not UTF-8" in result.stderr and b"Traceback" not in result.stderr


def test_no_expression_at_all_is_a_usage_error(cli):
    result = cli("eval")
    assert result.exit_code == 2


def test_quiet_silences_warnings_only(cli):
    loud = cli("eval", "relu(x)", "x=0")
    quiet = cli("eval", "relu(x)", "x=0", "--quiet")
    assert "kink" in loud.stderr and quiet.stderr == ""
    assert loud.stdout == quiet.stdout


def test_machine_formats_carry_no_warning_text(cli):
    for fmt in ("json", "csv", "plain"):
        result = cli("eval", "log(x) + relu(y)", "x=-1", "y=0", "--format", fmt)
        assert "warning" not in result.stdout and "warning" in result.stderr


def test_piped_table_has_no_colour_and_no_box_drawing():
    result = run("eval", "(x + y) * z", "x=-2", "y=5", "z=-4")
    out = result.stdout.decode()
    assert "\x1b[" not in out
    assert not any(ch in out for ch in "┃━│╇")
    assert "∂f/∂x = -4" in out


def test_term_dumb_gives_plain_ascii():
    result = run("eval", "(x + y) * z", "x=-2", "y=5", "z=-4", env={"TERM": "dumb"})
    out = result.stdout.decode()
    assert out.isascii()
    assert "df/dx = -4" in out


def test_no_color_flag_and_variable_are_accepted(cli):
    assert cli("eval", "x", "x=1", "--no-color").exit_code == 0
    result = run("eval", "x", "x=1", env={"NO_COLOR": "1"})
    assert result.returncode == 0 and b"\x1b[" not in result.stdout


def test_max_memory_refuses_before_any_work(cli):
    result = cli("eval", "exp(x) * x + x", "x=[1,2,3,4]", "--max-memory", "64B")
    assert result.exit_code == 1
    assert "memory limit" in result.stderr and "--max-memory" in result.stderr
    assert result.stdout == ""
    assert cli("eval", "exp(x) * x + x", "x=[1,2,3,4]", "--max-memory", "0").exit_code == 0


@pytest.mark.parametrize("size", ["12QB", "lots", "-1GB", ""])
def test_max_memory_must_be_a_size(cli, size):
    result = cli("eval", "x", "x=1", "--max-memory", size)
    assert result.exit_code == 2 and "--max-memory" in result.stderr


def test_exit_codes_are_documented_in_help(cli):
    for args in ([], ["eval"]):
        text = cli(*args, "--help").stdout
        assert "Exit codes" in text and "2 command-line usage error" in " ".join(text.split())


def test_version_and_python_dash_m():
    import gradcli

    result = run("--version")
    assert result.returncode == 0 and result.stdout.decode().strip() == f"gradcli {gradcli.__version__}"


def test_completion_options_are_offered(cli):
    text = cli("--help").stdout
    assert "--install-completion" in text and "--show-completion" in text



def test_ctrl_c_exits_130_with_one_word(tmp_path):
    import signal
    import time

    # the program file is a FIFO nobody writes to: gradcli waits in its open() until interrupted
    # (a FIFO, not a stdin pipe, whose end could be closed by any other test sharing this process)
    fifo = tmp_path / "program.grad"
    os.mkfifo(fifo)
    script = os.path.join(os.path.dirname(sys.executable), "gradcli")
    child = subprocess.Popen([script, "eval", "--file", str(fifo)], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)  # past start-up, into the open
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 130
    assert (out, err) == ("", "interrupted\n")
