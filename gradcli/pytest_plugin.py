"""The pytest plugin (registered through the `pytest11` entry point): the `gradcheck` fixture."""

from __future__ import annotations

import pytest


@pytest.fixture
def gradcheck():
    """gradcheck(source, values, expected=None, h=, rtol=, atol=) fails the test unless every
    gradient agrees with its centered difference (and with `expected`); returns the report.
    gradcheck.report(...) returns the report without asserting."""
    from .testing import GradCheck  # imported when used: the plugin loads in every pytest run

    return GradCheck()
