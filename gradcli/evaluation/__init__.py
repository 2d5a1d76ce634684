"""Graph + values -> Result: evaluator.py runs scalar_engine.py (Python floats) or
engine.py (NumPy); shapes.py checks shapes and memory before a run; check.py compares
with finite differences; hessian.py evaluates second derivatives; formulas.py the
derivatives `gradcli diff` prints, with their values.
"""
