"""Several outputs of one program: `gradcli eval --outputs f,g` and `gradcli.evaluate_outputs`.

The program q = x·y; f = q + z; g = exp(q) at x=1, y=2, z=3, by hand: f = 5, ∂f/∂x = y = 2,
∂f/∂y = x = 1, ∂f/∂z = 1; g = e², ∂g/∂x = e^q·y = 2e², ∂g/∂y = e^q·x = e². Its twin with
g = q·q (for exact full-precision text on every CPU): g = 4, ∂g/∂x = 2q·y = 8, ∂g/∂y = 2q·x = 4.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import gradcli
from gradcli.render import jsondoc

PROGRAM = "q = x*y; f = q + z; g = exp(q)"
POLY = "q = x*y; f = q + z; g = q*q"
VALUES = ("x=1", "y=2", "z=3")
E2 = math.exp(2)


# -- the API -----------------------------------------------------------------------------------

def test_two_outputs_by_hand():
    r = gradcli.evaluate_outputs(PROGRAM, ["f", "g"], x=1, y=2, z=3)
    assert list(r) == ["f", "g"]
    assert r["f"].value == 5.0 and r["f"].gradients == {"x": 2.0, "y": 1.0, "z": 1.0}
    assert math.isclose(r["g"].value, E2, rel_tol=1e-15)
    assert list(r["g"].gradients) == ["x", "y"]  # g does not depend on z: no ∂g/∂z
    assert math.isclose(r["g"].gradients["x"], 2 * E2, rel_tol=1e-15)
    assert math.isclose(r["g"].gradients["y"], E2, rel_tol=1e-15)
    assert r["f"].diagnostics == [] and r["g"].diagnostics == []  # z is used by f: no warning


def test_api_agrees_with_parse_output_and_central_differences():
    values = {"x": 0.7, "y": -1.3, "z": 0.4}
    r = gradcli.evaluate_outputs(PROGRAM, ["g", "q", "f"], values)
    h = 1e-6
    for name, result in r.items():
        graph = gradcli.parse(PROGRAM, output=name)
        alone = graph.evaluate({k: v for k, v in values.items() if k in graph.variables})
        assert result.value == alone.value and result.gradients == alone.gradients
        for var, grad in result.gradients.items():
            up = graph.evaluate({**{k: v for k, v in values.items() if k in graph.variables},
                                 var: values[var] + h}).value
            down = graph.evaluate({**{k: v for k, v in values.items() if k in graph.variables},
                                   var: values[var] - h}).value
            assert math.isclose(grad, (up - down) / (2 * h), rel_tol=1e-6, abs_tol=1e-8), (name, var)


def test_default_output_is_the_last_statement_named_by_its_target():
    r = gradcli.evaluate_outputs(PROGRAM, None, {"x": 1, "y": 2}, z=3)
    assert list(r) == ["g"] and r["g"].gradients == gradcli.evaluate(PROGRAM, x=1, y=2, z=3).gradients
    assert list(gradcli.evaluate_outputs("q = x*y; q + 1", None, x=1, y=2)) == ["f"]
    assert list(gradcli.evaluate_outputs("x * y", None, x=1, y=2)) == ["f"]


def test_intermediate_output_and_names_once_each():
    r = gradcli.evaluate_outputs(PROGRAM, ["q", "q", "f"], x=1, y=2, z=3)
    assert list(r) == ["q", "f"]
    assert r["q"].value == 2.0 and r["q"].gradients == {"x": 2.0, "y": 1.0}
    assert list(gradcli.evaluate_outputs(PROGRAM, "q", x=1, y=2)) == ["q"]  # one name as a str


def test_a_name_assigned_twice_is_its_last_statement():
    # q = x, then q = 3q: the output q is 3x, ∂q/∂x = 3; f uses the last q too
    r = gradcli.evaluate_outputs("q = x; q = q*3; f = q + y", ["q", "f"], x=2, y=1)
    assert r["q"].value == 6.0 and r["q"].gradients == {"x": 3.0}
    assert r["f"].value == 7.0 and r["f"].gradients == {"x": 3.0, "y": 1.0}


def test_array_output_is_the_gradient_of_its_sum():
    # v = x·a, s = sum(v): ∂sum(v)/∂x = Σa = 3, ∂sum(v)/∂a = (x, x)
    r = gradcli.evaluate_outputs("v = x*a; s = sum(v)", ["v", "s"], x=2, a=[1.0, 2.0])
    assert r["v"].gradient_of == "sum(f)" and r["v"].value.tolist() == [2.0, 4.0]
    assert r["v"].gradients["x"] == 3.0 and r["v"].gradients["a"].tolist() == [2.0, 2.0]
    assert r["s"].gradient_of == "f" and r["s"].value == 6.0
    assert r["s"].gradients["x"] == 3.0 and r["s"].gradients["a"].tolist() == [2.0, 2.0]


def test_unused_value_is_one_diagnostic_only_when_no_output_uses_it():
    r = gradcli.evaluate_outputs(PROGRAM, ["f", "g"], x=1, y=2, z=3, w=4)
    for result in r.values():
        assert [d.message for d in result.diagnostics] == [
            "a value was given for 'w', which the expression does not use"]
    # did-you-mean among every output's variables (z is f's only)
    r = gradcli.evaluate_outputs(PROGRAM, ["g", "f"], x=1, y=2, z=3, zz=1)
    assert r["g"].warnings == ["a value was given for 'zz', which the expression does not use; did you mean 'z'?"]


def test_api_errors():
    with pytest.raises(gradcli.GradcliError, match="no statement of the program assigns 'gg'") as info:
        gradcli.evaluate_outputs(PROGRAM, ["f", "gg"], x=1, y=2, z=3)
    assert info.value.hint == "did you mean 'g'?"
    with pytest.raises(gradcli.GradcliError, match="the statements assign: q, f, g"):
        gradcli.evaluate_outputs(PROGRAM, ["nothing_like_it"], x=1, y=2, z=3)
    with pytest.raises(gradcli.GradcliError, match="'sq' is a function the program defines"):
        gradcli.evaluate_outputs("sq(t) = t*t; f = sq(x)", ["sq"], x=1)
    with pytest.raises(gradcli.GradcliError, match="no outputs"):
        gradcli.evaluate_outputs(PROGRAM, [], x=1, y=2, z=3)
    with pytest.raises(TypeError):
        gradcli.evaluate_outputs(PROGRAM, [1], x=1, y=2, z=3)
    with pytest.raises(gradcli.MissingValueError):  # f needs z
        gradcli.evaluate_outputs(PROGRAM, ["g", "f"], x=1, y=2)
    assert "evaluate_outputs" in gradcli.__all__


def test_the_docstring_example():
    import doctest

    runner = doctest.DocTestRunner()
    for test in doctest.DocTestFinder().find(gradcli.evaluate_outputs, globs={"gradcli": gradcli}):
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0 and runner.summarize(verbose=False).attempted == 3


# -- the command line: every format, exact ------------------------------------------------------

TABLE = """\
Backward pass of f = q + z
read a row as the chain rule: result = local × upstream
gate | op | role        | input | input value | gate output | local | upstream | result
-----+----+-------------+-------+-------------+-------------+-------+----------+-------
f    | +  | distributes | q     |           2 |           5 |     1 |        1 |      1
f    | +  | distributes | z     |           3 |           5 |     1 |        1 |      1
q    | *  | swaps       | x     |           1 |           2 |     2 |        1 |      2
q    | *  | swaps       | y     |           2 |           2 |     1 |        1 |      1

f = 5
∂f/∂x = 2
∂f/∂y = 1
∂f/∂z = 1

Backward pass of g = exp(q)
read a row as the chain rule: result = local × upstream
gate | op  | role  | input | input value | gate output |   local | upstream |  result
-----+-----+-------+-------+-------------+-------------+---------+----------+--------
g    | exp | slope | q     |           2 |     7.38906 | 7.38906 |        1 | 7.38906
q    | *   | swaps | x     |           1 |           2 |       2 |  7.38906 | 14.7781
q    | *   | swaps | y     |           2 |           2 |       1 |  7.38906 | 7.38906

g = 7.38906
∂g/∂x = 14.7781
∂g/∂y = 7.38906
"""


def test_table(cli):
    result = cli("eval", PROGRAM, *VALUES, "--outputs", "f,g")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout == TABLE


def test_table_intermediate_output_digits_and_one_name(cli):
    result = cli("eval", PROGRAM, "x=1", "y=2", "--outputs", "q", "--digits", "2")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.splitlines()[0] == "Backward pass of q = x*y"
    assert result.stdout.endswith("\nq = 2\n∂q/∂x = 2\n∂q/∂y = 1\n")


def test_steps(cli):
    result = cli("eval", POLY, "x=1", "y=2", "--outputs", "g,q", "--steps")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout == """\
Backward pass of g = q*q, one gate per step, output first

1. g = 4    [* gate: swaps]
   seed ∂g/∂g = 1
   ∂g/∂q = [local q = 2] × [upstream 1] = 2
   ∂g/∂q = [local q = 2] × [upstream 1] = 2
2. q = 2    [* gate: swaps]
   ∂g/∂q = 2 + 2 = 4    (gradients add at forks)
   ∂g/∂x = [local y = 2] × [upstream 4] = 8
   ∂g/∂y = [local x = 1] × [upstream 4] = 4

gradients of the variables (complete once every gate they feed is done):
   ∂g/∂x = 8
   ∂g/∂y = 4

roles:
   swaps: scales each input's gradient by the other input's value

Backward pass of q = x*y, one gate per step, output first

1. q = 2    [* gate: swaps]
   seed ∂q/∂q = 1
   ∂q/∂x = [local y = 2] × [upstream 1] = 2
   ∂q/∂y = [local x = 1] × [upstream 1] = 1

gradients of the variables (complete once every gate they feed is done):
   ∂q/∂x = 2
   ∂q/∂y = 1

roles:
   swaps: scales each input's gradient by the other input's value
"""


def _documents(names, program=PROGRAM, values=None):
    values = values or {"x": 1, "y": 2, "z": 3}
    docs = {}
    for name in names:
        graph = gradcli.parse(program, output=name)
        docs[name] = jsondoc.document(graph.evaluate({k: v for k, v in values.items() if k in graph.variables},
                                                     trace=True))
    return docs


def test_json_keyed_by_output(cli):
    result = cli("eval", PROGRAM, *VALUES, "--outputs", "f,g", "--format", "json")
    assert result.exit_code == 0 and result.stderr == ""
    data = json.loads(result.stdout)
    assert result.stdout == json.dumps(data, indent=2) + "\n"  # laid out as json.dumps lays it out
    assert data == {"outputs": _documents(["f", "g"])}
    assert data["outputs"]["f"]["gradients"] == {"x": 2.0, "y": 1.0, "z": 1.0}
    assert data["outputs"]["g"]["value"] == pytest.approx(E2, rel=1e-15)
    # one name: still keyed, the user asked for outputs
    one = json.loads(cli("eval", PROGRAM, "x=1", "y=2", "--outputs", "q", "-f", "json").stdout)
    assert list(one) == ["outputs"] and list(one["outputs"]) == ["q"]
    assert one["outputs"]["q"]["gradients"] == {"x": 2.0, "y": 1.0}


def test_steps_json_keyed_by_output(cli):
    from gradcli.render import steps

    result = cli("eval", POLY, *VALUES, "--outputs", "f,g", "--steps", "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    expected = {}
    for name in ("f", "g"):
        graph = gradcli.parse(POLY, output=name)
        expected[name] = json.loads(json.dumps(steps.document(graph.evaluate(
            {k: v for k, v in {"x": 1, "y": 2, "z": 3}.items() if k in graph.variables}, trace=True))))
    assert data == {"outputs": expected}
    assert data["outputs"]["g"]["gradients"] == [{"name": "x", "terms": [8.0], "gradient": 8.0},
                                                 {"name": "y", "terms": [4.0], "gradient": 4.0}]


def test_csv_has_a_leading_output_column(cli):
    result = cli("eval", POLY, *VALUES, "--outputs", "f,g", "--format", "csv")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout == """\
output,gate,op,role,input,value,local,upstream,result,input_value,symbol
f,f,add,distributes,q,5.0,1.0,1.0,1.0,2.0,+
f,f,add,distributes,z,5.0,1.0,1.0,1.0,3.0,+
f,q,mul,swaps,x,2.0,2.0,1.0,2.0,1.0,*
f,q,mul,swaps,y,2.0,1.0,1.0,1.0,2.0,*
g,g,mul,swaps,q,4.0,2.0,1.0,2.0,2.0,*
g,g,mul,swaps,q,4.0,2.0,1.0,2.0,2.0,*
g,q,mul,swaps,x,2.0,2.0,4.0,8.0,1.0,*
g,q,mul,swaps,y,2.0,1.0,4.0,4.0,2.0,*
"""
    # each output's rows are its own --format csv rows
    alone = cli("eval", "q = x*y; g = q*q", "x=1", "y=2", "--format", "csv").stdout.splitlines()
    assert [line[2:] for line in result.stdout.splitlines() if line.startswith("g,")] == alone[1:]


PLAIN = """\
f f 5.0
f x 2.0
f y 1.0
f z 1.0
g g 4.0
g x 8.0
g y 4.0
"""


def test_plain(cli):
    result = cli("eval", POLY, *VALUES, "--outputs", "f,g", "--format", "plain")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout == PLAIN


def test_plain_through_a_real_process_and_awk():
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(gradcli.__file__))}
    done = subprocess.run([sys.executable, "-m", "gradcli", "eval", POLY, *VALUES, "--outputs", "f,g", "-f", "plain"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0 and done.stdout == PLAIN and done.stderr == ""
    if shutil.which("awk"):
        picked = subprocess.run(["awk", '$1 == "g" && $2 == "x" {print $3}'], input=done.stdout,
                                capture_output=True, text=True, timeout=10)
        assert picked.stdout == "8.0\n"


def test_tree(cli):
    result = cli("eval", POLY, *VALUES, "--outputs", "g,f", "--format", "tree")
    assert result.exit_code == 0
    assert result.stdout == """\
g = g  value 4  gradient 1  * gate, swaps
├── q  value 2  gradient 4  * gate, swaps
│   ├── x  value 1  gradient 8  variable
│   └── y  value 2  gradient 4  variable
└── q  value 2  gradient 4  * gate, swaps  (shown above)

f = f  value 5  gradient 1  + gate, distributes
├── q  value 2  gradient 1  * gate, swaps
│   ├── x  value 1  gradient 2  variable
│   └── y  value 2  gradient 1  variable
└── z  value 3  gradient 1  variable
"""


def test_dot_one_digraph_per_output(cli):
    from gradcli.render import dot

    result = cli("eval", POLY, *VALUES, "--outputs", "f,g", "--format", "dot")
    assert result.exit_code == 0
    parts = result.stdout.split("\n\n")
    assert len(parts) == 2 and all(p.startswith("digraph gradcli {") for p in parts)
    docs = {}
    for name in ("f", "g"):
        graph = gradcli.parse(POLY, output=name)
        docs[name] = dot.render(graph.evaluate({k: v for k, v in {"x": 1, "y": 2, "z": 3}.items()
                                                if k in graph.variables}, trace=True), name=name)
    assert result.stdout == docs["f"] + "\n\n" + docs["g"] + "\n"
    assert 'f [label="g", shape=doublecircle' in parts[1]
    if shutil.which("dot"):  # Graphviz reads a stream of digraphs: one drawing each
        drawn = subprocess.run(["dot", "-Tsvg"], input=result.stdout, capture_output=True, text=True, timeout=60)
        assert drawn.returncode == 0 and drawn.stdout.count("<svg") == 2


def test_output_file_per_output(cli, tmp_path):
    target = tmp_path / "c.dot"
    result = cli("eval", POLY, *VALUES, "--outputs", "f,g", "--output", str(target))
    assert result.exit_code == 0 and result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c-f.dot", "c-g.dot"]
    assert (tmp_path / "c-g.dot").read_text().startswith("digraph gradcli {")
    assert 'label="gradcli: g = q*q"' in (tmp_path / "c-g.dot").read_text()
    one = tmp_path / "one.dot"  # one output: the file named
    assert cli("eval", POLY, *VALUES, "--outputs", "g", "-o", str(one)).exit_code == 0
    assert one.exists() and not (tmp_path / "one-g.dot").exists()
    # a drawing that would overwrite an input is refused
    values = tmp_path / "v-g.dot"
    values.write_text("")
    refused = cli("eval", POLY, "--set", f"x=@{values}", "--outputs", "f,g", "-o", str(tmp_path / "v.dot"))
    assert refused.exit_code == 1 and "would destroy an input" in refused.stderr


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_output_svg_per_output(cli, tmp_path):
    result = cli("eval", POLY, *VALUES, "--outputs", "f,g", "--output", str(tmp_path / "c.svg"))
    assert result.exit_code == 0
    for name in ("f", "g"):
        assert (tmp_path / f"c-{name}.svg").read_text().count("<svg") == 1


def test_array_outputs_note(cli):
    result = cli("eval", "v = x*a; s = sum(v)", "x=2", "a=[1,2]", "--outputs", "v,s")
    assert result.exit_code == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    at = lines.index("v = (2,) [2, 4]")
    assert lines[at + 1:at + 4] == [
        "v is an array of shape (2,): the gradients below are those of sum(v) "
        "(gradcli jacobian gives each element's gradient)",
        "∂v/∂x = 3", "∂v/∂a = (2,) [2, 2]"]
    assert lines[-3:] == ["s = 6", "∂s/∂x = 3", "∂s/∂a = (2,) [2, 2]"]
    steps = cli("eval", "v = x*a; s = sum(v)", "x=2", "a=[1,2]", "--outputs", "v", "--steps").stdout
    assert ("v is an array of shape (2,): the gradients are those of sum(v) "
            "(gradcli jacobian gives each element's gradient)") in steps
    text = cli("eval", "v = x*a; s = sum(v)", "x=2", "a=[[1,2],[3,4]]", "--outputs", "v,s", "-f", "json").stdout
    assert text == json.dumps(json.loads(text), indent=2) + "\n"  # nested arrays laid out as json.dumps does
    data = json.loads(cli("eval", "v = x*a; s = sum(v)", "x=2", "a=[1,2]", "--outputs", "v,s", "-f", "json").stdout)
    assert data["outputs"]["v"]["gradient_of"] == "sum(f)" and data["outputs"]["s"]["gradient_of"] == "f"


# -- warnings -------------------------------------------------------------------------------------

UNUSED = "warning: a value was given for '{}', which the expression does not use"


@pytest.mark.parametrize("fmt", ["table", "plain"])
def test_a_value_one_output_uses_does_not_warn(cli, fmt):
    result = cli("eval", PROGRAM, *VALUES, "--outputs", "g,f", "-f", fmt)  # g has no z, f has
    assert result.exit_code == 0 and result.stderr == ""


def test_a_value_no_output_uses_warns_once(cli):
    result = cli("eval", PROGRAM, *VALUES, "w=4", "--outputs", "f,g,q", "-f", "plain")
    assert result.exit_code == 0 and result.stderr == UNUSED.format("w") + "\n"
    result = cli("eval", PROGRAM, "x=1", "y=2", "z=3", "--outputs", "g,q", "-f", "plain")
    assert result.stderr == UNUSED.format("z") + "\n"  # neither g nor q uses z
    result = cli("eval", PROGRAM, "x=1", "y=2", "yy=3", "--outputs", "g,q", "-f", "plain")
    assert result.stderr == UNUSED.format("yy") + "; did you mean 'y'?\n"
    assert cli("eval", PROGRAM, *VALUES, "-f", "plain", "-q", "--outputs", "g").stderr == ""


def test_shared_warnings_are_said_once(cli):
    # relu at its kink feeds both outputs: one warning, not one per output
    result = cli("eval", "q = relu(x); f = q + y; g = q*y", "x=0", "y=2", "--outputs", "f,g", "-f", "plain")
    assert result.exit_code == 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning:") and "relu" in lines[0]


# -- options per output --------------------------------------------------------------------------

def test_wrt_per_output(cli):
    result = cli("eval", POLY, *VALUES, "--outputs", "f,g", "-f", "plain", "--wrt", "z,x")
    assert result.stdout == "f f 5.0\nf z 1.0\nf x 2.0\ng g 4.0\ng x 8.0\n"
    bad = cli("eval", POLY, *VALUES, "--outputs", "f,g", "--wrt", "zz")
    assert bad.exit_code == 1
    assert bad.stderr == "error: --wrt zz: not a variable with a gradient of any output\nhint: did you mean 'z'?\n"


def test_strict_fails_when_any_output_is_not_finite(cli):
    program = "q = x*y; f = q + z; g = log(q - 2)"
    result = cli("eval", program, *VALUES, "--outputs", "f,g", "--strict", "-f", "plain")
    assert result.exit_code == 1 and "--strict" in result.stderr
    assert result.stdout.splitlines()[4] == "g g -Infinity"
    assert cli("eval", program, *VALUES, "--outputs", "f,q", "--strict", "-f", "plain").exit_code == 0


def test_stable_expand_all_and_max_memory(cli):
    program = "q = w*x; s = 1/(1 + exp(-q)); f = s*2"
    stable = cli("eval", program, "w=1000", "x=-1", "--outputs", "s,f", "--stable", "-f", "csv")
    assert stable.exit_code == 0 and stable.stderr == ""
    assert "sigmoid" in stable.stdout and "nan" not in stable.stdout.lower()
    assert cli("eval", program, "w=1000", "x=-1", "--outputs", "s,f", "-f", "plain").stderr.count("hint:") == 1
    expanded = cli("eval", "sig(t) = 1/(1+exp(-t)); a = sig(x); b = a*y", "x=0", "y=2",
                   "--outputs", "a,b", "--expand", "-f", "csv").stdout
    # σ'(0) = 1/4: ∂a/∂x = 0.25 and ∂b/∂x = y·σ'(0) = 0.5, through the expanded gates of sig
    assert "a,sig: -x,neg,scales,x,-0.0,-1.0,-0.25,0.25,0.0,-x\n" in expanded
    assert "b,sig: -x,neg,scales,x,-0.0,-1.0,-0.5,0.5,0.0,-x\n" in expanded
    many = cli("eval", "f = " + " + ".join(f"x{i}" for i in range(120)) + "; g = f*2",
               *(f"x{i}=1" for i in range(120)), "--outputs", "f,g", "--all")
    assert many.exit_code == 0 and "∂g/∂x119 = 2" in many.stdout and "more" not in many.stdout


def test_max_memory_per_output(cli, tmp_path):
    data = tmp_path / "x.json"
    data.write_text(json.dumps({"x": [0.5] * 5000}))
    result = cli("eval", "u = x*x; f = sum(u)", "--values", str(data), "--outputs", "u,f",
                 "--max-memory", "20KB", "-f", "plain")
    assert result.exit_code == 1 and "memory" in result.stderr


# -- hostile input -------------------------------------------------------------------------------

@pytest.mark.parametrize("outputs, code, message", [
    ("gg", 1, "error: no statement of the program assigns 'gg', so it cannot be an output\n"
              "hint: did you mean 'g'?\n"),
    ("f,nothing_like_it", 1, "error: no statement of the program assigns 'nothing_like_it', so it cannot be an "
                             "output\nhint: the statements assign: q, f, g\n"),
    ("x", 1, "error: no statement of the program assigns 'x', so it cannot be an output\n"
             "hint: the statements assign: q, f, g\n"),
    (",", 2, "--outputs needs at least one output name"),
    ("", 2, "--outputs needs at least one output name"),
    (" , ,", 2, "hint: write --outputs f,g"),
])
def test_bad_outputs(cli, outputs, code, message):
    result = cli("eval", PROGRAM, *VALUES, "--outputs", outputs)
    assert result.exit_code == code and result.stdout == ""
    assert message in result.stderr if code == 2 else result.stderr == message


def test_a_function_definitions_name_is_no_output(cli):
    result = cli("eval", "sq(t) = t*t; f = sq(x)", "x=1", "--outputs", "f,sq")
    assert result.exit_code == 1
    assert result.stderr == ("error: 'sq' is a function the program defines, not a statement, so it cannot be an "
                             "output\nhint: call it in a statement (y = sq(x)) and ask for that statement\n")


def test_duplicates_once_each_and_a_name_assigned_twice(cli):
    result = cli("eval", "q = x; q = q*3; f = q + y", "x=2", "y=1", "--outputs", "q, f,q", "-f", "plain")
    assert result.exit_code == 0 and result.stdout == "q q 6.0\nq x 3.0\nf f 7.0\nf x 3.0\nf y 1.0\n"


def test_a_missing_value_is_an_error(cli):
    result = cli("eval", PROGRAM, "x=1", "y=2", "--outputs", "g,f")
    assert result.exit_code == 1 and "z" in result.stderr and result.stdout == ""


def test_without_outputs_nothing_changes(cli):
    plain = cli("eval", PROGRAM, *VALUES, "-f", "plain")
    assert plain.stdout.splitlines()[0].startswith("f 7.389056")
    assert plain.stderr == UNUSED.format("z") + "\n"  # the last statement g does not use z
    data = json.loads(cli("eval", PROGRAM, *VALUES, "-f", "json").stdout)
    assert "outputs" not in data and data["gradients"]["y"] == pytest.approx(E2)
    assert "f = 7.38906\n∂f/∂x = 14.7781" in cli("eval", PROGRAM, *VALUES).stdout


def test_csv_parses_back(cli):
    text = cli("eval", PROGRAM, *VALUES, "--outputs", "f,g", "-f", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {row["output"] for row in rows} == {"f", "g"}
    assert np.isclose(float([r for r in rows if r["output"] == "g" and r["input"] == "x"][0]["result"]), 2 * E2)


def test_a_bare_expression_is_said_once(cli):
    result = cli("eval", "q = x*y; x + 1; f = q; g = q*2", "x=1", "y=2", "--outputs", "f,g", "-f", "plain")
    assert result.exit_code == 0 and result.stdout == "f f 2.0\nf x 2.0\nf y 1.0\ng g 4.0\ng x 4.0\ng y 2.0\n"
    assert result.stderr == ("warning: the expression at line 1, column 10 is not assigned or used; "
                             "no output asked for depends on it\n")


def test_the_last_statements_name_names_the_output():
    from gradcli.evaluation.outputs import output_name

    cases = {"x*y": "f", "g = x*y": "g", "q = x; q += 1": "q", "  h2=x": "h2", "f(t) = t*2; f(x)": "f",
             "a = 1; a*2": "f"}
    assert {text: output_name(gradcli.parse(text)) for text in cases} == cases
