"""Text <-> graph: parser.py (over the LALR tables of lalr*.py, generated from
grammar/gradcli.lark), composite.py (user functions and built-in composites), printer.py
(a graph back to source), formula.py (a derivative as a formula for people, text or LaTeX),
rewrite.py (--stable), symbolic.py (the SymPy bridge).
"""
