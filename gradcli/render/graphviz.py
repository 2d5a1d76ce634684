"""`--output FILE`: DOT text to a file, drawn by Graphviz's `dot` for .svg, .png and .pdf."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ..base.errors import GradcliError
from ..base.outfile import write_whole

DRAWN = (".svg", ".png", ".pdf")
SUFFIXES = DRAWN + (".dot",)
INSTALL = "apt-get install graphviz, brew install graphviz, or https://graphviz.org/download"


def write(dot_text: str, path: Path) -> None:
    """Write the diagram to `path`; where `dot` is missing, write the DOT text next to it instead
    (same name, .dot) and raise an error saying how to install Graphviz. The file is whole or left
    as it was (see outfile.py)."""
    suffix = path.suffix.lower()
    if suffix == ".dot":
        write_whole(str(path), dot_text + "\n")
        return
    dot = shutil.which("dot")
    if dot is None:
        fallback = path.with_suffix(".dot")
        write_whole(str(fallback), dot_text + "\n")
        raise GradcliError(f"cannot draw {path}: Graphviz's dot is not installed ({INSTALL}); "
                           f"the DOT text is in {fallback}")
    # The drawing comes back on dot's stdout: the path never reaches dot's command line, where
    # one starting with "-" (-Tsvg.svg) would be read as an option.
    try:
        done = subprocess.run([dot, f"-T{suffix[1:]}"], input=dot_text.encode(), capture_output=True,
                              timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GradcliError(f"cannot draw {path}: running dot failed ({exc})") from None
    if done.returncode != 0:
        first = (done.stderr.decode(errors="replace").strip().splitlines() or ["no message"])[0]
        raise GradcliError(f"cannot draw {path}: dot exited with code {done.returncode}: {first}")
    write_whole(str(path), done.stdout, binary=True)


def svg(dot_text: str, timeout: float = 20) -> str | None:
    """The diagram as SVG text, for a notebook (`_repr_svg_`); None where `dot` is not installed,
    fails or takes longer than `timeout` seconds (Jupyter then shows the HTML view alone)."""
    dot = shutil.which("dot")
    if dot is None:
        return None
    try:
        done = subprocess.run([dot, "-Tsvg"], input=dot_text.encode(), capture_output=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", errors="replace")
