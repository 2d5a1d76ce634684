"""The op registry and the graph: ops.py (one entry per op: forward, derivative rule, role,
kinks, domain; a new function goes there), graph.py (nodes in topological order), trace.py
(what a run found: Result, NodeTrace, Edge, Diagnostic), kernels.py (one gate on arrays).
"""
