"""How tables look where they are printed: the same rule for every table view."""

from __future__ import annotations


def table_box(console, ascii_only: bool):
    """Box-drawing only on a terminal; ASCII borders in a pipe or a file, and with TERM=dumb."""
    from rich import box

    return box.HEAVY_HEAD if console.is_terminal and not ascii_only else box.ASCII


def plain_ascii(text: str) -> str:
    """The non-ASCII characters our tables use, spelled in ASCII (for TERM=dumb)."""
    return text.replace("∂", "d").replace("…", "...")
