"""Start-up latency of the gradcli command line, as a ratio to `python -c "import numpy"`.

Measures the wall time of the README's sigmoid-neuron example,

    gradcli eval "1/(1+exp(-(w0*x0+w1*x1+w2)))" --set w0=2 --set x0=-1 --set w1=-3 --set x1=-2 --set w2=-3

once with the default table output and once with `--format json`, against
`python -c "import numpy"` run by the same interpreter. Every command is a fresh subprocess;
the three commands are interleaved (their order rotates each round) so that machine noise hits
them alike, and each is run ~17 times. The headline figure is the ratio of the minimums
(the least noisy estimate on a shared machine); the ratio of the medians is printed too.

Target: each eval command takes <= 2.5x the time of `python -c "import numpy"`.

gradcli is run the way users run it: the `gradcli` console script next to the interpreter when
it exists, else `python -m gradcli` (the output says which). `--python PATH` measures another
interpreter or virtual environment, e.g. one with a non-editable (wheel) install.

This is a report, not a test: it always exits 0 unless the commands themselves fail.

    python bench/startup.py [--python PATH] [--runs N] [--module]
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
import time
from pathlib import Path

TARGET = 2.5
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


def run_once(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False, cwd=WORKDIR)
    return time.perf_counter() - start


def check(command: list[str], label: str) -> str:
    """Run a command once, untimed (this also warms caches); fail loudly if it does not work."""
    done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=WORKDIR)
    if done.returncode != 0:
        sys.exit(f"{label}: {' '.join(command[:3])} ... exited {done.returncode}\n{done.stderr}")
    return done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter to measure (default: the one running this script)")
    parser.add_argument("--runs", type=int, default=17, help="runs of each command (default 17)")
    parser.add_argument("--module", action="store_true",
                        help="run `python -m gradcli` even where a console script exists")
    args = parser.parse_args()

    # Absolute, since the commands run in another folder; not resolved (a venv's python is a symlink).
    python = os.path.abspath(shutil.which(args.python) or args.python)
    gradcli, how = gradcli_command(python, args.module)
    commands = {
        "import numpy": [python, "-c", "import numpy"],
        "eval table": gradcli + ["eval", EXPRESSION] + SETS,
        "eval json": gradcli + ["eval", EXPRESSION] + SETS + ["--format", "json"],
    }
    version = subprocess.run([python, "-c", "import sys, numpy; print(sys.version.split()[0], numpy.__version__)"],
                             capture_output=True, text=True, check=True, cwd=WORKDIR).stdout.split()
    location = subprocess.run([python, "-c", "import gradcli; print(gradcli.__file__)"],
                              capture_output=True, text=True, cwd=WORKDIR).stdout.strip()
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
    print()
    for label in labels[1:]:
        ratio = min(times[label]) / base_min
        verdict = "ok" if ratio <= TARGET else "OVER TARGET"
        print(f"{label}: {ratio:.2f}x import numpy (target <= {TARGET}x) {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
