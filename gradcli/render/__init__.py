"""Renderers: pure functions from a Result to text. Nothing is computed here."""
