"""`python -m gradcli` runs the command line."""

from .commands.cli import run

run()
