"""Derivatives as graphs: derivative.py builds the reverse-mode derivative of a graph as
gates of registry ops, so it can be evaluated, printed and differentiated again.
"""
