"""Start-up latency of the gradcli command line, as a ratio to `python -c "import numpy"`.

Measures the wall time of the README's sigmoid-neuron example,

    gradcli eval "1/(1+exp(-(w0*x0+w1*x1+w2)))" --set w0=2 --set x0=-1 --set w1=-3 --set x1=-2 --set w2=-3

once with the default table output and once with `--format json`, against
`python -c "import numpy"` run by the same interpreter. Every command is a fresh subprocess;
the three commands are interleaved (their order rotates each round) so that machine noise hits
them alike, and each is run ~17 times. The headline figure is the ratio of the minimums
(the least noisy estimate on a shared machine); the ratio of the medians is printed too.

Targets (issue 13): `--format json` <= 1.25x and the default table <= 1.4x the time of
`python -c "import numpy"`, on an installed (non-editable) copy: `--install` makes one.

Three more figures help read these:

- the parser's share: the time a fresh process spends importing the parser's engine and setting
  it up for a first parse, measured as `import gradcli.language.parser; parse(EXPRESSION)` minus
  `import gradcli.language.parser` (both fresh processes, interleaved with the rest). With Lark this is
  Lark's import and its cached grammar; the ratios are printed with and without it.
- a per-module breakdown of one `--format json` run from `python -X importtime` (self times of
  the modules beyond those `import numpy` loads, grouped by top-level package). importtime
  slows imports down, so read it for proportions, not for milliseconds.
- the command-line framework's share: `import numpy, typer` (Typer imports Click) against
  `import numpy`, what every run pays before gradcli's own modules load.
- with `--instructions` (valgrind installed), the same ratios in instructions executed, which a
  busy machine does not change (wall times there can swing by 0.3x between two runs).

gradcli is run the way users run it: the `gradcli` console script next to the interpreter when
it exists, else `python -m gradcli` (the output says which). `--python PATH` measures another
interpreter or virtual environment. `--install` measures an installed copy of this checkout: a
temporary virtual environment gets `pip install --no-deps` of it (pip compiles the bytecode, as
any install does; ~5 s, its build backend from pip's index or cache), its dependencies read from
the running interpreter's site-packages; it is removed afterwards. Every command runs without
PYTHONDONTWRITEBYTECODE, so that an editable checkout's bytecode is written once and read after,
as an installed copy's is.

This is a report, not a test: it always exits 0 unless the commands themselves fail.

    python bench/startup.py [--install | --python PATH] [--runs N] [--module] [--no-breakdown] [--instructions]
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import sysconfig
import time
from pathlib import Path

from options import positive

TARGETS = {"eval table": 1.4, "eval json": 1.25}
EXPRESSION = "1/(1+exp(-(w0*x0+w1*x1+w2)))"
SETS = ["--set", "w0=2", "--set", "x0=-1", "--set", "w1=-3", "--set", "x1=-2", "--set", "w2=-3"]
# The README's values: f = 0.7311, df/dw0 = -0.1966, df/dx0 = 0.3932.
EXPECTED_VALUE = 0.7310585786300049


def gradcli_command(python: str, force_module: bool) -> tuple[list[str], str]:
    """How to run gradcli with this interpreter, and a description of it."""
    # The console script sits next to the interpreter's *path* (a venv's python is often a
    # symlink to the system one, whose directory has no gradcli), so do not resolve symlinks.
    folder = Path(python).absolute().parent
    for name in ("gradcli", "gradcli.exe"):
        script = folder / name
        if not force_module and script.is_file() and os.access(script, os.X_OK):
            return [str(script)], f"console script {script}"
    return [python, "-m", "gradcli"], f"{python} -m gradcli"


# Every command runs in an empty folder: `python -m` and `python -c` put the current folder on
# sys.path, and run from a checkout they would import its gradcli instead of the installed one.
WORKDIR = tempfile.mkdtemp(prefix="gradcli-startup-")
atexit.register(shutil.rmtree, WORKDIR, ignore_errors=True)
# Bytecode is written and read as an installed copy's is, whatever this shell says.
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def install_copy() -> str:
    """A temporary virtual environment with this checkout installed (not editable); its python."""
    folder = tempfile.mkdtemp(prefix="gradcli-install-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", folder], check=True)
    python = os.path.join(folder, "bin", "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # the dependencies (NumPy, Typer, ...) from this interpreter's environment, not downloaded again
    ours = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    Path(site, "_gradcli_bench_deps.pth").write_text("".join(f"{path}\n" for path in ours))
    root = Path(__file__).resolve().parent.parent
    print(f"installing {root} into {folder} (pip install --no-deps) ...", flush=True)
    done = subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", str(root)],
                          capture_output=True, text=True, env=ENV)
    if done.returncode != 0:
        sys.exit(f"pip install failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return python


def run_once(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False, cwd=WORKDIR, env=ENV)
    return time.perf_counter() - start


def check(command: list[str], label: str) -> str:
    """Run a command once, untimed (this also warms caches); fail loudly if it does not work."""
    done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=WORKDIR, env=ENV)
    if done.returncode != 0:
        sys.exit(f"{label}: {' '.join(command[:3])} ... exited {done.returncode}\n{done.stderr}")
    return done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--python", default=sys.executable,
                       help="interpreter to measure (default: the one running this script)")
    where.add_argument("--install", action="store_true",
                       help="measure a temporary non-editable install of this checkout")
    parser.add_argument("--runs", type=positive, default=17, help="runs of each command (default 17)")
    parser.add_argument("--module", action="store_true",
                        help="run `python -m gradcli` even where a console script exists")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the per-module breakdown")
    parser.add_argument("--instructions", action="store_true",
                        help="also count each command's instructions with valgrind (~1 min; the same on a busy machine)")
    args = parser.parse_args()

    # Absolute, since the commands run in another folder; not resolved (a venv's python is a symlink).
    python = install_copy() if args.install else os.path.abspath(shutil.which(args.python) or args.python)
    gradcli, how = gradcli_command(python, args.module)
    commands = {
        "import numpy": [python, "-c", "import numpy"],
        "eval table": gradcli + ["eval", EXPRESSION] + SETS,
        "eval json": gradcli + ["eval", EXPRESSION] + SETS + ["--format", "json"],
        # the parser's share: the same two imports, with and without a first parse
        "parser import": [python, "-c", "import numpy, gradcli.language.parser"],
        "parser + parse": [python, "-c", f"import numpy, gradcli.language.parser; gradcli.language.parser.parse({EXPRESSION!r})"],
        # the command-line framework's share (Typer imports Click)
        "import typer": [python, "-c", "import numpy, typer"],
    }
    version = subprocess.run([python, "-c", "import sys, numpy; print(sys.version.split()[0], numpy.__version__)"],
                             capture_output=True, text=True, check=True, cwd=WORKDIR, env=ENV).stdout.split()
    location = subprocess.run([python, "-c", "import gradcli; print(gradcli.__file__)"],
                              capture_output=True, text=True, cwd=WORKDIR, env=ENV).stdout.strip()
    print(f"interpreter: {python} (Python {version[0]}, NumPy {version[1]})")
    print(f"gradcli:     {how}")
    print(f"package:     {location or '(not importable by this interpreter)'}")

    # Warm-up: the first run may build gradcli's grammar cache and fills the OS file cache.
    for label, command in commands.items():
        check(command, label)
    document = json.loads(check(commands["eval json"], "eval json"))
    if abs(document["value"] - EXPECTED_VALUE) > 1e-12:
        sys.exit(f"eval json: value {document['value']} != {EXPECTED_VALUE}")

    times: dict[str, list[float]] = {label: [] for label in commands}
    labels = list(commands)
    for round_ in range(args.runs):
        shift = round_ % len(labels)
        for label in labels[shift:] + labels[:shift]:  # rotate the order each round
            times[label].append(run_once(commands[label]))

    base_min = min(times["import numpy"])
    base_med = statistics.median(times["import numpy"])
    print(f"\n{args.runs} interleaved runs of each command (wall time of a fresh process)\n")
    print(f"{'command':<14} {'min ms':>8} {'median ms':>10} {'min ratio':>10} {'median ratio':>13}")
    for label in labels:
        lo, med = min(times[label]), statistics.median(times[label])
        print(f"{label:<14} {lo * 1e3:8.1f} {med * 1e3:10.1f} {lo / base_min:9.2f}x {med / base_med:12.2f}x")
    parser_min = max(0.0, min(times["parser + parse"]) - min(times["parser import"]))
    parser_med = max(0.0, statistics.median(times["parser + parse"]) - statistics.median(times["parser import"]))
    print(f"\nthe parser's share (engine import, set-up, first parse): {parser_min * 1e3:.1f} ms min, "
          f"{parser_med * 1e3:.1f} ms median")
    framework = min(times["import typer"]) / base_min - 1
    print(f"Typer and Click's share (their import): {framework:+.2f}x import numpy "
          f"({statistics.median(times['import typer']) / base_med - 1:+.2f}x in medians)")
    print()
    for label, target in TARGETS.items():
        ratio = min(times[label]) / base_min
        without = (min(times[label]) - parser_min) / base_min
        verdict = "ok" if ratio <= target else "OVER TARGET"
        print(f"{label}: {ratio:.2f}x import numpy (target <= {target}x) {verdict}; "
              f"{without:.2f}x without the parser's share")
    if args.instructions:
        instructions(commands)
    if not args.no_breakdown:
        breakdown(python, commands["import numpy"], commands["eval json"])
    return 0


def instructions(commands: dict[str, list[str]]) -> None:
    """The ratios again in instructions executed (valgrind's callgrind), which a busy machine does
    not change; OpenBLAS and OpenMP get one thread, whose spinning would count otherwise. Kernel
    time (NumPy's page faults and mmaps of its libraries) is not counted, so they run above the
    wall-time ratios of a quiet machine."""
    if shutil.which("valgrind") is None:
        print("\n--instructions: valgrind is not installed")
        return
    env = dict(ENV, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    counts = {}
    for label in ("import numpy", "import typer", "eval table", "eval json"):
        done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *commands[label]],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              cwd=WORKDIR, env=env)
        found = [line.split()[-1] for line in done.stderr.splitlines() if "Collected :" in line]
        if done.returncode != 0 or not found:
            print(f"\n--instructions: valgrind failed on {label}:\n{done.stderr[-1000:]}")
            return
        counts[label] = int(found[-1])
    base = counts["import numpy"]
    print(f"\ninstructions (valgrind): import numpy {base / 1e6:.0f}M; Typer and Click's share "
          f"{counts['import typer'] / base - 1:+.3f}x")
    for label, target in TARGETS.items():
        ratio = counts[label] / base
        print(f"{label}: {counts[label] / 1e6:.0f}M instructions, {ratio:.3f}x import numpy (target <= {target}x) "
              f"{'ok' if ratio <= target else 'OVER TARGET'}")


def breakdown(python: str, baseline: list[str], command: list[str]) -> None:
    """Self import times (python -X importtime) of the modules a json run loads beyond numpy's,
    each standard-library module counted with the package that imported it."""
    def modules(cmd: list[str]) -> list[tuple[int, str, int]]:
        """(depth, module, self µs) in importtime's order (a module after those it imported)."""
        if cmd[0] != python:  # the console script: run its module with the same interpreter
            cmd = [python, "-m", "gradcli"] + cmd[1:]
        done = subprocess.run([cmd[0], "-X", "importtime"] + cmd[1:], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, cwd=WORKDIR, env=ENV)
        found = []
        for line in done.stderr.splitlines():
            if line.startswith("import time:") and "self [us]" not in line:
                self_us, _, name = line[len("import time:"):].split("|")
                found.append(((len(name) - len(name.lstrip())) // 2, name.strip(), int(self_us)))
        return found

    base = {name for _, name, _ in modules(baseline)}
    stdlib = set(getattr(sys, "stdlib_module_names", ()))
    groups: dict[str, int] = {}
    stack: list[tuple[int, str]] = []  # (depth, owner) of the modules above this one
    for depth, name, self_us in reversed(modules(command)):  # parents before their imports
        while stack and stack[-1][0] >= depth:
            stack.pop()
        top = name.split(".")[0]
        if top == "gradcli":
            owner = name
        elif top in stdlib or top.lstrip("_") in stdlib:
            owner = stack[-1][1] if stack else "(standard library)"
        else:
            owner = top
        stack.append((depth, owner))
        if name not in base:
            groups[owner] = groups.get(owner, 0) + self_us
    total = sum(groups.values())
    print(f"\nimports beyond `import numpy` in one --format json run (python -X importtime self times,"
          f" a standard module counted with its importer; {total / 1e3:.1f} ms in all, inflated by the"
          " measuring):")
    for name, self_us in sorted(groups.items(), key=lambda item: -item[1]):
        if self_us >= 500:
            print(f"  {name:<28} {self_us / 1e3:6.1f} ms")


if __name__ == "__main__":
    sys.exit(main())
