"""Command-line pieces the benchmark scripts share (each script runs as `python bench/NAME.py`,
so this folder is on sys.path)."""

from __future__ import annotations

import argparse


def positive(text: str) -> int:
    """An argparse type: a whole number >= 1 (a size, a count of runs), else a usage error."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{number} is not a positive number")
    return number
