"""What a user runs: the command line (cli.py; a new command goes there), its help pages
(helptext.py), batch runs (batch.py). Only here are exit codes, stdin, terminals and
colours known.
"""
